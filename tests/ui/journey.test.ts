// A modeller's whole journey in the browser, without typing any Python:
// upload SIR → model page → a 3×4 grid plan of LHS-50 experiments → watch it
// run → overlay a variable across experiments → one experiment's fan chart and
// Sobol bars → export its notebook → the catalog lists all 12. Screenshots of
// each step land in test-artifacts/journey-*.png.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { ACTIVE_TILE, type BrowserHost, hasChromium, recordPlanFrames, startBrowserHost } from './browser.ts';

const SIR = resolve('notebooks/models/sir.mdl');

let b: BrowserHost;

/** Sets a parameter row's role (fixed / vary / grid) and fills its fields. */
async function param(name: string, role: string, fields: Record<string, string> = {}): Promise<void> {
  const row = b.page.locator(`tr[data-param="${name}"]`);
  await row.locator('select.role').selectOption(role);
  for (const [cls, value] of Object.entries(fields)) await row.locator(`input.${cls}`).fill(value);
}

async function status(): Promise<string> {
  const el = b.page.locator('.design-status');
  await b.page.waitForFunction(() => !document.querySelector('.design-status')?.classList.contains('busy'));
  return (await el.textContent()) ?? '';
}

describe.skipIf(!hasChromium)('modeller journey', () => {
  beforeAll(async () => {
    b = await startBrowserHost('journey');
  }, 60_000);
  afterAll(async () => {
    await b?.close();
  }, 60_000);

  it('uploads SIR, designs and watches a 3×4 plan of LHS-50 experiments, compares, exports, finds them in the catalog', async () => {
    const { page } = b;
    onTestFailed(async () => {
      await b.shot('failed');
      console.error(
        '[journey] page text at failure:',
        (await page.locator('main').textContent())?.slice(0, 2000),
      );
    });
    await page.goto(`${b.server.url}?token=${b.token}#/models`);
    await page.waitForSelector('#conn.online');
    await page.waitForSelector('.dropzone');
    await b.shot('01-models');

    // Upload with the file picker.
    await page.setInputFiles('input.model-file', SIR);
    await page.waitForSelector('h1.model-title:has-text("sir.mdl")', { timeout: 120_000 });
    // Model page: constants with units, Vensim ranges and docs; stocks and flows.
    const contact = page.locator('.model-constants tr[data-name="Contact Rate"]');
    await expect.poll(() => contact.textContent()).toContain('1/Day');
    expect(await contact.textContent()).toContain('[1, 20]');
    expect(await contact.textContent()).toContain('Contacts per person per day.');
    expect(await page.locator('.model-stocks tbody tr').count()).toBe(3);
    expect(await page.locator('.model-flows tbody tr').count()).toBe(2);
    await b.shot('02-model-page');

    // Design: LHS-50 over Contact Rate × Infectivity, a 3 × 4 grid over Illness Duration × Initial Infected.
    await page.locator('select[name=type]').selectOption('lhs');
    await page.locator('input[name=mode][value=plan]').check();
    await param('Contact Rate', 'vary', { min: '2', max: '10' });
    await param('Infectivity', 'vary', { min: '0.02', max: '0.1' });
    await param('Illness Duration', 'grid', { 'grid-values': '3, 6, 9' });
    await param('Initial Infected', 'grid', { 'grid-values': '1, 5, 10, 20' });
    await page.locator('input[name=samples]').fill('50');
    await page.locator('input[name=final_time]').fill('40');
    await page.locator('input[name=parallel_limit]').fill('4');
    expect(await status()).toContain('12 experiments');
    expect(await page.locator('button.run-design').isDisabled()).toBe(false);

    // Bad input is refused in the form, with the reason, before anything runs.
    await param('Contact Rate', 'vary', { min: '30', max: '2' });
    expect(await status()).toMatch(/Contact Rate.*min 30 > max 2/);
    expect(await page.locator('button.run-design').isDisabled()).toBe(true);
    expect(await page.locator('tr[data-param="Contact Rate"].invalid').count()).toBe(1);
    await b.shot('03-form-refuses-min-max');
    await param('Contact Rate', 'vary', { min: '2', max: '10' });
    const big = Array.from({ length: 1000 }, (_, i) => i + 1).join(',');
    await param('Illness Duration', 'grid', { 'grid-values': big });
    await param('Initial Infected', 'grid', { 'grid-values': big });
    expect(await status()).toMatch(/1\.00e\+6 experiments; the limit is 10000/);
    expect(await page.locator('button.run-design').isDisabled()).toBe(true);
    await param('Illness Duration', 'grid', { 'grid-values': '3, 6, 9' });
    await param('Initial Infected', 'grid', { 'grid-values': '1, 5, 10, 20' });
    expect(await status()).toContain('12 experiments');
    expect(await b.host.plans.list()).toHaveLength(0);
    await b.shot('04-design');

    // Run the plan: the plan view shows 12 tiles that move through their states.
    const frames = await recordPlanFrames(page);
    await page.click('button.run-design');
    await page.waitForSelector('.plan-header h1');
    expect(page.url()).toMatch(/#\/p\/plan-/);
    await page.waitForFunction(() => document.querySelectorAll('.tiles .tile').length === 12);
    await b.shot('05-plan-running');
    await page.waitForFunction(
      () => document.querySelectorAll('.tile[data-state="finished"]').length === 12,
      undefined,
      {
        timeout: 600_000,
        polling: 1000,
      },
    );
    expect(await page.locator('.tile[data-state="failed"]').count()).toBe(0);
    await page.waitForSelector('.plan-progress[data-done="12"]');
    // While it ran, the view showed experiments at work (at most K = 4 at
    // once) and, once one had finished, an estimate of the time left.
    const seen = await frames();
    const busy = seen.map((f) => f.states.filter((s) => ACTIVE_TILE.has(s)).length);
    expect(Math.max(...busy)).toBeGreaterThan(0);
    expect(Math.max(...busy)).toBeLessThanOrEqual(4);
    expect(seen.some((f) => f.eta && f.states.includes('finished'))).toBe(true);

    // Compare a variable across the 12 experiments; parameter → metric scatter; the table.
    await page.waitForSelector('.overlay-chart .uplot canvas', { timeout: 60_000 });
    expect(await page.locator('select.overlay-variable').inputValue()).toBe('Infected');
    await expect
      .poll(() => page.locator('.overlay-chart .u-legend .u-series').count(), { timeout: 60_000 })
      .toBe(13);
    await expect.poll(() => page.locator('.scatter-box circle.point').count(), { timeout: 30_000 }).toBe(12);
    expect(await page.locator('table.plan-table tbody tr').count()).toBe(12);
    expect(await page.locator('table.plan-table td:has-text("running")').count()).toBe(0);
    const heads = await page.locator('table.plan-table th').allTextContents();
    expect(heads).toEqual(
      expect.arrayContaining(['Illness Duration', 'Initial Infected', 'max(Infected).mean']),
    );
    await page.locator('.plan-compare').scrollIntoViewIfNeeded();
    await b.shot('06-plan-compare');

    // One experiment: fan chart over its 50 runs and first-order Sobol bars with intervals.
    await page.locator('.tile[data-state="finished"]').nth(5).click();
    await page.waitForSelector('.fan-chart canvas', { timeout: 60_000 });
    expect(await page.locator('.fan-chart').getAttribute('data-runs')).toBe('50');
    await page.waitForSelector('.sensitivity .bar-chart rect.bar');
    const bars = await page
      .locator('.sensitivity rect.bar')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-parameter')));
    expect(bars.sort()).toEqual(['Contact Rate', 'Infectivity']);
    expect(await page.locator('.sensitivity line.ci').count()).toBe(2);
    await page.locator('select.fan-variable').selectOption('Recovered');
    await page.waitForFunction(() =>
      document.querySelector('.fan-chart .u-title')?.textContent?.startsWith('Recovered'),
    );
    await b.shot('07-experiment-fan-sobol');

    // Export the experiment's notebook: readable cells, the model by path and sha256.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.click('button.export-notebook'),
    ]);
    const text = readFileSync((await download.path()) as string, 'utf8');
    expect(text).toContain('peragus_pysd.run_experiment(');
    expect(text).toContain('"type": "lhs"');
    expect(text).not.toContain('json.loads');
    expect(text).toMatch(/load_model\(\s*source="models\/sir\.mdl"/);
    expect(text).toMatch(/sha256="[0-9a-f]{64}"/);
    await b.shot('08-export');

    // The catalog lists all 12 with their parameters and metrics as columns.
    await page.goto(`${b.server.url}#/catalog`);
    const planId = (await b.host.plans.list())[0]?.plan_id as string;
    await page.locator('input.catalog-filter').fill(planId);
    await expect.poll(() => page.locator('table.experiments tbody tr').count(), { timeout: 30_000 }).toBe(12);
    const cols = await page.locator('table.experiments th').allTextContents();
    expect(cols.join('|')).toMatch(/Illness Duration/);
    expect(cols.join('|')).toMatch(/max\(Infected\)/);
    await b.shot('09-catalog');
  }, 900_000);
});
