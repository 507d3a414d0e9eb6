// Watching and steering from the browser: an MCP agent's plan appears and
// progresses live in the plan view; the containers view shows a container's
// runtime, stats and logs and destroys it; bad uploads are refused with the
// reason; plans stay browsable after the host restarts.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { ACTIVE_TILE, type BrowserHost, hasChromium, recordPlanFrames, startBrowserHost } from './browser.ts';

const SIR_TEXT = readFileSync(resolve('notebooks/models/sir.mdl'), 'utf8');
/** Runs per experiment of the agent's plan (the restart test reads them back in its fan chart). */
const AGENT_RUNS = 3000;

let b: BrowserHost;
let home: string;
let planId: string;

function dropFile(name: string, text: string) {
  return b.page.evaluate(
    ([n, t]) => {
      const dt = new DataTransfer();
      dt.items.add(new File([t as string], n as string));
      document
        .querySelector('.dropzone')
        ?.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true }));
    },
    [name, text],
  );
}

describe.skipIf(!hasChromium)('watching agents and containers', () => {
  beforeAll(async () => {
    home = mkdtempSync(join(tmpdir(), 'peragus-watch-'));
    b = await startBrowserHost('watch', home);
  }, 60_000);
  afterAll(async () => {
    await b?.close();
    rmSync(home, { recursive: true, force: true });
  }, 60_000);

  it('offers the example notebooks in the empty state; they run, and cells can be renamed, moved, collapsed', async () => {
    const { page } = b;
    onTestFailed(() => b.shot('failed-examples'));
    await page.goto(`${b.server.url}?token=${b.token}#/`);
    await page.click('button.open-example[data-example="teacup-sweep.src.md"]');
    await page.waitForSelector('.nb-header h1:has-text("Teacup sweep")');
    await page.waitForFunction(() => document.querySelectorAll('.cell-code').length === 3);
    const names = await page
      .locator('.filename-input')
      .evaluateAll((els) => els.map((e) => (e as HTMLInputElement).value));
    expect(names).toEqual(['load_model.py', 'run_experiment_sweep.py', 'plot_runs.py']);
    await b.shot('00-example-opened');
    await page.click('button.run-all');
    await page.waitForFunction(
      () => document.querySelectorAll('.cell-code[data-status="ok"]').length === 3,
      undefined,
      {
        timeout: 180_000,
      },
    );
    // The sweep's result chart, and the matplotlib figure drawn inline by plt.show().
    await page.waitForSelector('.sweep-chart .uplot canvas', { timeout: 60_000 });
    const plotCell = page.locator('.cell-code').nth(2);
    await plotCell.locator('img.out-image').waitFor();
    await plotCell.scrollIntoViewIfNeeded();
    await b.shot('00-example-ran');

    // Rename, move up, collapse.
    const sid = page.url().split('#/s/')[1] as string;
    await plotCell.locator('.filename-input').fill('plot_teacup.py');
    await plotCell.locator('.filename-input').press('Enter');
    await expect
      .poll(() =>
        b.host.notebook.sessions
          .get(sid)
          .toNotebook()
          .cells.map((c) => (c.cell_type === 'code' ? c.filename : 'md')),
      )
      .toContain('plot_teacup.py');
    await plotCell.locator('button.move-up').click();
    await expect
      .poll(() =>
        b.host.notebook.sessions
          .get(sid)
          .toNotebook()
          .cells.findIndex((c) => c.cell_type === 'code' && c.filename === 'plot_teacup.py'),
      )
      .toBe(4);
    await page.waitForFunction(() => {
      const ids = Array.from(document.querySelectorAll('.cell')).map(
        (c) => (c.querySelector('.filename-input') as HTMLInputElement | null)?.value ?? 'md',
      );
      return ids.indexOf('plot_teacup.py') === 4;
    });
    const plotId = b.host.notebook.sessions.get(sid).toNotebook().cells[4]?.id as string;
    const moved = page.locator(`.cell[data-cell-id="${plotId}"]`);
    await moved.locator('button.collapse').click();
    expect(await moved.getAttribute('class')).toContain('collapsed');
    expect(await moved.locator('.editor').isVisible()).toBe(false);

    // A long output folds, and unfolds on demand.
    const before = await page.locator('.cell').count();
    await page.click('button:has-text("+ Code")');
    await page.waitForFunction((n) => document.querySelectorAll('.cell').length > n, before);
    const last = page.locator('.cell').last();
    await last.locator('textarea').fill('for i in range(300):\n    print("line", i)');
    await last.locator('textarea').press('Shift+Enter');
    await last.locator('.outputs.folded').waitFor({ timeout: 60_000 });
    expect(await last.locator('.outputs').evaluate((e) => e.clientHeight)).toBeLessThan(500);
    await last.locator('button.fold-toggle').click();
    expect(await last.locator('.outputs').evaluate((e) => e.clientHeight)).toBeGreaterThan(1000);
    await b.shot('00-example-edited');
    await b.call('notebook_delete', { session_id: sid });
  }, 300_000);

  it("shows an MCP agent's plan appear and progress live", async () => {
    const { page } = b;
    onTestFailed(() => b.shot('failed-agent'));
    await page.goto(`${b.server.url}?token=${b.token}#/plans`);
    await page.waitForSelector('#conn.online');
    await page.waitForSelector('.plan-list .empty');
    const frames = await recordPlanFrames(page);
    const started = await b.call('experiment_plan_run', {
      name: 'agent-sweep',
      model: { source: 'sir.mdl', content: SIR_TEXT },
      experiment: {
        type: 'monte_carlo',
        // Enough work that the plan spans several of the view's polls (≈ 4 s here): with 20 runs
        // per experiment it once finished within two polls and no drawing caught one at work (CI).
        samples: AGENT_RUNS,
        seed: 3,
        final_time: 60,
        parameters: { 'Contact Rate': { dist: 'uniform', min: 2, max: 8 } },
        metrics: [{ variable: 'Infected', stat: 'max' }],
      },
      // Eight at K = 1: an experiment takes a fraction of a second, so the plan
      // must outlast several of the view's 1 s polls to be seen progressing.
      grid: { 'Illness Duration': [3, 4, 5, 6, 7, 8, 9, 10] },
      parallel_limit: 1,
      wait: false,
    });
    planId = started.plan_id as string;
    // The plan appears in the list without a reload, and opens.
    await page.waitForSelector(`.plan-row[data-plan-id="${planId}"]`, { timeout: 15_000 });
    await page.click(`.plan-row[data-plan-id="${planId}"] a`);
    await page.waitForFunction(() => document.querySelectorAll('.tiles .tile').length === 8);
    // Live: one experiment runs while the others wait (K = 1), then all finish.
    await page.waitForSelector('.tile[data-state="queued"]', { timeout: 30_000 });
    await b.shot('01-agent-plan-live');
    await page.waitForFunction(
      () => document.querySelectorAll('.tile[data-state="finished"]').length === 8,
      undefined,
      {
        timeout: 300_000,
        polling: 500,
      },
    );
    await page.waitForSelector('[data-plan-status="finished"]', { timeout: 60_000 });
    const seen = (await frames()).map((f) => f.states);
    // K = 1: never two at once. Live: some frame showed one experiment at work
    // while others waited, and some showed finished ones beside unfinished.
    expect(seen.every((f) => f.filter((s) => ACTIVE_TILE.has(s)).length <= 1)).toBe(true);
    expect(seen.some((f) => f.includes('queued') && f.some((s) => ACTIVE_TILE.has(s)))).toBe(true);
    expect(seen.some((f) => f.includes('finished') && f.some((s) => s !== 'finished'))).toBe(true);
    expect(await page.locator('.plan-progress').getAttribute('data-done')).toBe('8');
    await b.shot('02-agent-plan-done');
  }, 420_000);

  it('lists containers with runtime, stats and logs, and destroys one', async () => {
    const { page } = b;
    onTestFailed(() => b.shot('failed-containers'));
    const c = await b.call('container_create', { experiment_id: 'watch-box' });
    const id = c.container_id as string;
    await page.goto(`${b.server.url}#/containers`);
    const row = page.locator(`tr[data-container-id="${id}"]`);
    await row.waitFor({ timeout: 30_000 });
    expect(await row.textContent()).toContain('local');
    expect(await row.textContent()).toContain('watch-box');
    await row.locator('a').click();
    await page.waitForSelector('.container-detail .stats:has-text("CPU")', { timeout: 30_000 });
    await page.waitForSelector('.container-detail pre.logs');
    await b.shot('03-containers');
    await row.locator('button.destroy').click();
    await row.waitFor({ state: 'detached', timeout: 30_000 });
    expect((await b.host.containers.list()).some((x) => x.container_id === id)).toBe(false);
  }, 120_000);

  it('refuses uploads that are not models, and names the variable and line PySD cannot translate', async () => {
    const { page } = b;
    onTestFailed(() => b.shot('failed-upload'));
    await page.goto(`${b.server.url}#/models`);
    await page.waitForSelector('.dropzone');
    await dropFile('notes.txt', 'hello');
    await page.waitForSelector('.upload-status.error');
    expect(await page.locator('.upload-status').textContent()).toContain('notes.txt is not a model file');
    await dropFile('fake.mdl', 'just some prose, no equations');
    await page.waitForSelector('.upload-status.error:has-text("fake.mdl is not a model")');
    await dropFile(
      'broken.mdl',
      SIR_TEXT.replace('Infected / Illness Duration', 'Infected / (Illness Duration'),
    );
    await page.waitForSelector('.upload-status.error:has-text("PySD cannot translate")', {
      timeout: 120_000,
    });
    const text = (await page.locator('.upload-status').textContent()) ?? '';
    expect(text).toContain('"Recovering"');
    expect(text).toContain('line 30');
    await b.shot('04-untranslatable');
    expect(b.host.home).toBe(home);
    const models = await page.evaluate(() =>
      fetch('/ui-api/models', {
        headers: { Authorization: `token ${sessionStorage.getItem('peragus_token')}` },
      }).then((r) => r.json()),
    );
    expect(models).toEqual([]);
  }, 180_000);

  it('runs a form design as one experiment: cells of a notebook, registered in the catalog, Sobol bars', async () => {
    const { page } = b;
    onTestFailed(() => b.shot('failed-single'));
    await page.goto(`${b.server.url}#/models`);
    await page.click('button.example-model[data-example="sir.mdl"]');
    await page.waitForSelector('h1.model-title:has-text("sir.mdl")', { timeout: 120_000 });
    await page.locator('select[name=type]').selectOption('sobol');
    await page.locator('tr[data-param="Illness Duration"] select.role').selectOption('fixed');
    await page.locator('tr[data-param="Infectivity"] select.role').selectOption('vary');
    await page.locator('input[name=samples]').fill('16');
    await page.locator('input[name=final_time]').fill('30');
    await page.waitForSelector('.design-status.ok:has-text("one experiment")');
    await page.click('button.run-design');
    await page.waitForSelector('.nb-header h1', { timeout: 30_000 });
    const sid = page.url().split('#/s/')[1] as string;
    await page.waitForFunction(
      () => document.querySelectorAll('.cell-code[data-status="ok"]').length === 2,
      undefined,
      {
        timeout: 180_000,
      },
    );
    const sources = await page
      .locator('.cell-code textarea')
      .evaluateAll((els) => els.map((e) => (e as HTMLTextAreaElement).value));
    expect(sources[0]).toMatch(
      /peragus_pysd\.load_model\(\s*source="models\/sir\.mdl",\s*sha256="[0-9a-f]{64}"/,
    );
    expect(sources[1]).toContain('"type": "sobol"');
    expect(sources.join('\n')).not.toContain('json.loads');
    await b.shot('05-single-notebook');
    // Registered in the catalog like an agent's experiment.
    const registered = async () =>
      (await b.host.catalog.listExperiments({ limit: 100 })).experiments.find((e) => e.session_id === sid);
    await expect.poll(async () => (await registered())?.status, { timeout: 60_000 }).toBe('finished');
    const exp = (await registered()) as { experiment_id: string; metrics: Record<string, number | null> };
    expect(Object.keys(exp.metrics).some((k) => k.startsWith('max(Infected)'))).toBe(true);
    await page.goto(`${b.server.url}#/e/${exp.experiment_id}`);
    await page.waitForSelector('.sensitivity rect.bar');
    // SALib's S1 and ST for both parameters, each with its interval.
    expect(await page.locator('.sensitivity rect.bar').count()).toBe(4);
    expect(await page.locator('.sensitivity line.ci').count()).toBe(4);
    await b.shot('06-single-sobol');
  }, 300_000);

  it('keeps plans and their results after the host restarts', async () => {
    await b.close();
    b = await startBrowserHost('watch', home);
    const { page } = b;
    onTestFailed(() => b.shot('failed-restart'));
    await page.goto(`${b.server.url}?token=${b.token}#/plans`);
    await page.waitForSelector(`.plan-row[data-plan-id="${planId}"]`);
    await page.click(`.plan-row[data-plan-id="${planId}"] a`);
    await page.waitForFunction(() => document.querySelectorAll('.tile[data-state="finished"]').length === 8);
    await page.locator('.tile[data-state="finished"]').first().click();
    await page.waitForSelector('.fan-chart canvas');
    expect(await page.locator('.fan-chart').getAttribute('data-runs')).toBe(String(AGENT_RUNS));
    await b.shot('05-after-restart');
  }, 120_000);
});
