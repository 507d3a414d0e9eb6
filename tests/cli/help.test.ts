// CLI manners: --help for every subcommand, --version, options in the top-level
// help, and errors that name the fix.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { peragus } from '../onehost/helpers.ts';

const home = mkdtempSync(join(tmpdir(), 'peragus-help-'));
const env = { ...process.env, PERAGUS_HOME: home };
afterAll(() => rmSync(home, { recursive: true, force: true }));

const COMMANDS = ['serve', 'mcp', 'node', 'run', 'rerun', 'catalog', 'kernelspec'];

describe('peragus CLI manners', () => {
  it('top-level help lists every command with its options; --version prints the version', async () => {
    const help = await peragus(['--help'], env);
    expect(help.code).toBe(0);
    for (const c of COMMANDS) expect(help.stdout).toMatch(new RegExp(`\\n  ${c} `));
    for (const o of ['--port', '--parallel', '--inputs', '--limit', '--prefix', '--json']) {
      expect(help.stdout).toContain(o);
    }
    const version = await peragus(['--version'], env);
    expect(version.code).toBe(0);
    expect(version.stdout).toMatch(/^peragus \d+\.\d+\.\d+\n$/);
  });

  it.each(COMMANDS)('%s --help explains the command and exits 0 (without running it)', async (c) => {
    const r = await peragus([c, '--help'], env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^usage: peragus ${c}`));
    expect(r.stdout.split('\n').length).toBeGreaterThan(3);
  });

  it('errors name the fix', async () => {
    const unknown = await peragus(['sevre'], env);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command "sevre"/);
    const option = await peragus(['catalog', 'query', 'SELECT 1', '--limt', '3'], env);
    expect(option.code).toBe(2);
    expect(option.stderr).toMatch(/Unknown option '--limt'[\s\S]*see: peragus catalog --help/);
    const port = await peragus(['serve', '--port', 'http'], env);
    expect(port.code).toBe(1);
    expect(port.stderr).toMatch(/--port http: give a port number/);
    const parallel = await peragus(['run', join(home, 'missing.json')], env);
    expect(parallel.code).toBe(1);
    expect(parallel.stderr).toMatch(/cannot read plan .*missing\.json/);
    const limit = await peragus(['catalog', 'query', 'SELECT 1', '--limit', '0'], env);
    expect(limit.code).toBe(1);
    expect(limit.stderr).toMatch(/--limit 0: give a whole number/);
  }, 120_000);
});
