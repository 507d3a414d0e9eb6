// A model's translation, the wait before anything else happens to a new model (a plan's check,
// an agent's first pysd_model_load). Each run is a fresh Python with PySD already imported,
// timing one call that translates and loads the model:
// - ours: peragus_pysd's loader (PySD's translators, with its builder's black pass-through
//   and scipy.optimize deferred, kernels/pysd/python/peragus_pysd/builder.py and deferred.py);
// - peer: plain PySD, pysd.read_vensim, as a modeller (or EMA Workbench's worker) calls it.
// Interleaved, median of ROUNDS each, per model:
// - translate_teacup: samples/teacup (2 KB);
// - translate_mid_model: samples/Query_file (46 KB, 117 variables).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type BenchFigure, type BenchSuite, median, versus } from './lib.ts';

const REPO = resolve(import.meta.dirname, '..');
const PYTHON = join(REPO, 'kernels/pysd/.venv/bin/python');
const ROUNDS = Number(process.env.PERAGUS_BENCH_TRANSLATE_ROUNDS ?? 5);
const log = (s: string) => process.stderr.write(`[bench] translate: ${s}\n`);

// The model's folder is copied to a fresh temporary one: PySD writes its translation beside it.
const SCRIPT = `
import json, os, shutil, sys, tempfile, time, warnings
warnings.simplefilter("ignore")
side, model = sys.argv[1], sys.argv[2]
work = tempfile.mkdtemp(prefix="peragus-bench-translate-")
try:
    src = os.path.dirname(model)
    for f in os.listdir(src):
        p = os.path.join(src, f)
        if os.path.isfile(p) and not f.endswith(".py"):
            shutil.copy(p, work)
    os.chdir(work)
    name = os.path.basename(model)
    if side == "ours":
        os.environ["PERAGUS_PYSD_CACHE"] = os.path.join(work, "cache")
        from peragus_pysd import loader
        t = time.perf_counter()
        loader.load(name, confine_to=work)
    else:
        import pysd
        t = time.perf_counter()
        pysd.read_vensim(name)
    print(json.dumps({"s": time.perf_counter() - t}))
finally:
    shutil.rmtree(work, ignore_errors=True)
`;

function once(side: 'ours' | 'plain', model: string): number {
  const r = spawnSync(PYTHON, ['-c', SCRIPT, side, model], { encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`translate (${side}) failed: ${r.stderr.slice(-600)}`);
  return (JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { s: number }).s;
}

export const suite: BenchSuite = async () => {
  const models = process.env.PERAGUS_SD_TEST_MODELS ?? resolve(REPO, '..', 'shared', 'sd-test-models');
  const cases: [string, string][] = [
    ['translate_teacup', join(models, 'samples/teacup/teacup.mdl')],
    ['translate_mid_model', join(models, 'samples/Query_file/Query_file.mdl')],
  ];
  const figures: BenchFigure[] = [];
  for (const [name, model] of cases) {
    if (!existsSync(model)) throw new Error(`${model} not found: set PERAGUS_SD_TEST_MODELS`);
    const ours: number[] = [];
    const plain: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      ours.push(once('ours', model));
      plain.push(once('plain', model));
      log(`${name} round ${i + 1}: ours ${ours[i]!.toFixed(3)} s, plain PySD ${plain[i]!.toFixed(3)} s`);
    }
    figures.push(versus(name, 's', median(ours), 'pysd_read_vensim', median(plain)));
  }
  return figures;
};
