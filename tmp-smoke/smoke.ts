import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHost } from '/work/wt/workbench/notebook-server/src/app/host.ts';
import { createWorkbench } from '/work/wt/workbench/notebook-server/src/app/workbench.ts';
const home = mkdtempSync(join(tmpdir(), 'wb-smoke-'));
const host = await createHost({ home, poolSize: 1, resumePlans: false });
const { workbench: wb, close } = await createWorkbench(host, console.log);
let t = Date.now();
const m = await wb.models.add('sir.mdl', readFileSync('notebooks/models/sir.mdl', 'utf8'));
console.log('model', m.model_id, Date.now() - t, m.description.constants.map((c) => c.name));
try { await wb.models.add('bad.mdl', readFileSync('/tmp/wbtest/bad.mdl', 'utf8')); } catch (e) { console.log('BAD', (e as Error).message); }
try { await wb.models.add('x.mdl', 'hello world'); } catch (e) { console.log('BAD2', (e as Error).message); }
const exp = { type: 'lhs', samples: 20, seed: 1, final_time: 30, parameters: { 'Contact Rate': [2, 10], Infectivity: [0.02, 0.1] }, metrics: [{ variable: 'Infected', stat: 'max' }] };
try { wb.check({ model_id: m.model_id, mode: 'plan', experiment: { ...exp, parameters: { 'Contact Rate': [10, 2] } }, grid: { 'Illness Duration': [3] } }); } catch (e) { console.log('BAD3', (e as Error).message); }
try { wb.check({ model_id: m.model_id, mode: 'plan', experiment: exp, grid: { 'Illness Duration': Array.from({length:1000},(_, i)=>i), 'Initial Infected': Array.from({length:1000},(_, i)=>i) } }); } catch (e) { console.log('BAD4', (e as Error).message); }
t = Date.now();
const single = await wb.start({ model_id: m.model_id, mode: 'single', experiment: exp });
console.log(single);
const started = await wb.start({ model_id: m.model_id, mode: 'plan', experiment: exp, grid: { 'Illness Duration': [3, 6] }, parallel_limit: 2 });
console.log(started);
for (;;) {
  const v = await wb.plans.view(started.plan_id!);
  console.log(Date.now() - t, v.counts, v.eta_ms, v.experiments.map((e) => e.state + ':' + e.step).join(' '));
  if (v.counts.finished + v.counts.failed === v.total) { console.log(v.experiments.map(e=>e.error)); break; }
  await new Promise((r) => setTimeout(r, 2000));
}
const v = await wb.plans.view(started.plan_id!);
const e0 = v.experiments[0]!.experiment_id;
const fan = await wb.charts.fan(e0);
console.log('fan', fan.variable, fan.run_count, fan.time.length, fan.bands.map((b) => b[10]));
console.log('sens', JSON.stringify(await wb.charts.sensitivity(e0)));
console.log('table', JSON.stringify(await wb.charts.planTable(started.plan_id!)).slice(0, 500));
const ov = await wb.charts.overlay(started.plan_id!, 'Infected');
console.log('overlay', ov.series.map((s) => s.name), ov.time.length);
console.log('single', JSON.stringify(await host.catalog.getSummary(single.experiment_id!)).slice(0, 600));
await close(); await host.close();
