// What `peragus rerun` copies: only files the notebook names inside the inputs
// dir. Attempts to reach outside it (.., absolute paths, symlinks), to drag in
// old outputs, virtualenvs or special files, copy nothing.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyReferencedInputs, quotedStrings } from '../../notebook-server/src/cli/rerun-inputs.ts';

const base = mkdtempSync(join(tmpdir(), 'peragus-inputs-'));
const from = join(base, 'work');
const outside = join(base, 'secret.txt');
let sock: Server;

beforeAll(async () => {
  mkdirSync(join(from, 'models'), { recursive: true });
  mkdirSync(join(from, 'data/sub'), { recursive: true });
  mkdirSync(join(from, 'results'), { recursive: true });
  mkdirSync(join(from, 'env/lib'), { recursive: true });
  writeFileSync(outside, 'secret');
  writeFileSync(join(from, 'models/m.mdl'), "x = GET XLS DATA('inputs.xlsx', 'Sheet1', 'A', 'B2')\n");
  writeFileSync(join(from, 'models/inputs.xlsx'), 'xlsx');
  writeFileSync(join(from, 'data/a.csv'), '1');
  writeFileSync(join(from, 'data/sub/b.csv'), '2');
  writeFileSync(join(from, 'results/old.parquet'), 'old');
  writeFileSync(join(from, 'env/pyvenv.cfg'), 'home=/usr/bin');
  writeFileSync(join(from, 'env/lib/huge.so'), 'x');
  writeFileSync(join(from, 'unreferenced.txt'), 'no');
  symlinkSync(outside, join(from, 'data/link.txt'));
  symlinkSync(outside, join(from, 'escape.txt'));
  sock = createServer();
  await new Promise<void>((r) => sock.listen(join(from, 'k.sock'), r));
});

afterAll(() => {
  sock?.close();
  rmSync(base, { recursive: true, force: true });
});

describe('rerun inputs', () => {
  it('reads quoted strings, JSON ones included', () => {
    expect(quotedStrings(`load("a.mdl")\nx = '{"source": "models/m.mdl"}'`)).toEqual([
      'a.mdl',
      'source',
      'models/m.mdl',
      '{"source": "models/m.mdl"}',
    ]);
  });

  it('copies what the notebook names (and the data a model names), nothing else', () => {
    const to = mkdtempSync(join(base, 'to-'));
    const cells = [
      `import json\nimport peragus_pysd\n\nperagus_pysd.load_model(**json.loads(r'''\n{"source": "models/m.mdl", "confine_to": "."}\n'''))\n`,
      `import pandas as pd\ndf = pd.read_csv("data")\n`,
      `open('../secret.txt'); open("${outside}"); open('/etc/passwd')`,
      `open('escape.txt'); open("results/old.parquet"); open('env'); open("env/lib/huge.so"); open('k.sock'); open('..')`,
    ];
    const { files } = copyReferencedInputs(cells, from, to);
    expect(files).toEqual(['data/a.csv', 'data/sub/b.csv', 'models/inputs.xlsx', 'models/m.mdl']);
    expect(readdirSync(to).sort()).toEqual(['data', 'models']);
    expect(readdirSync(join(to, 'data')).sort()).toEqual(['a.csv', 'sub']);
  });
});
