// The import boundary check (scripts/check-imports.mjs, run by `npm run lint`):
// the project's own tree passes, and a copy of it with a deliberate backwards
// import, a sideways import between two faces, an import cycle or an import
// past a folder's index.ts fails with a message naming the file and the rule.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO } from '../helpers/sd-models.ts';

const SCRIPT = join(REPO, 'scripts/check-imports.mjs');

function check(root?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [SCRIPT, ...(root ? ['--root', root] : [])], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A fresh copy of the real source trees, to break one rule in. */
function copyTree(): string {
  const root = mkdtempSync(join(tmpdir(), 'peragus-imports-'));
  cpSync(join(REPO, 'notebook-server/src'), join(root, 'notebook-server/src'), { recursive: true });
  cpSync(join(REPO, 'srcmd/src'), join(root, 'srcmd/src'), { recursive: true });
  made.push(root);
  return root;
}

function prepend(file: string, line: string): void {
  writeFileSync(file, `${line}\n${readFileSync(file, 'utf8')}`);
}

const made: string[] = [];
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

describe('import boundary check', () => {
  it('passes on the project and is part of npm run lint', () => {
    const r = check();
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('import boundaries: ok');
    const lint = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')).scripts.lint as string;
    expect(lint).toMatch(/node scripts\/check-imports\.mjs/);
  });

  it('fails on a backwards import (kernel/ importing the MCP face), naming the file and the rule', () => {
    const root = copyTree();
    prepend(
      join(root, 'notebook-server/src/kernel/wire.ts'),
      "import type { ToolDef } from '../mcp/tool.ts';",
    );
    const r = check(root);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('notebook-server/src/kernel/wire.ts: [layer] imports "../mcp/tool.ts"');
    expect(r.stderr).toContain('imports go down only');
    expect(r.stderr).toContain('1 problem(s)');
  });

  it('fails on a sideways import between two faces (mcp/ importing http/)', () => {
    const root = copyTree();
    prepend(
      join(root, 'notebook-server/src/mcp/tool.ts'),
      "import { authMiddleware } from '../http/auth.ts';",
    );
    const r = check(root);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('notebook-server/src/mcp/tool.ts: [layer]');
    expect(r.stderr).toContain('siblings do not import each other');
  });

  it('fails on an import cycle between two files of one folder', () => {
    const root = copyTree();
    const dir = join(root, 'notebook-server/src/notebook');
    writeFileSync(
      join(dir, 'ping.ts'),
      "import { pong } from './pong.ts';\nexport const ping = () => pong;\n",
    );
    writeFileSync(
      join(dir, 'pong.ts'),
      "import type { ping } from './ping.ts';\nexport const pong = 1 as unknown as typeof ping;\n",
    );
    const r = check(root);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(
      'notebook-server/src/notebook/ping.ts: [cycle] import cycle notebook-server/src/notebook/ping.ts → notebook-server/src/notebook/pong.ts → notebook-server/src/notebook/ping.ts',
    );
  });

  it("fails on an import that reaches past a folder's index.ts", () => {
    const root = copyTree();
    // Once kernel/ has an index.ts, it is kernel/'s public surface: http/ may not import kernel/wire.ts directly.
    writeFileSync(join(root, 'notebook-server/src/kernel/index.ts'), "export * from './wire.ts';\n");
    const r = check(root);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(
      /notebook-server\/src\/http\/jupyter\/bridge\.ts: \[barrel\] imports "\.\.\/\.\.\/kernel\/wire\.ts" past notebook-server\/src\/kernel\/index\.ts/,
    );
  });

  it('fails on a folder that has no layer, naming the fix', () => {
    const root = copyTree();
    writeFileSync(
      join(root, 'notebook-server/src/gadgets.ts'),
      "export { PERAGUS_VERSION } from './version.ts';\n",
    );
    const r = check(root);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('folder gadgets has no layer: add it to LAYERS in scripts/check-imports.mjs');
  });
});
