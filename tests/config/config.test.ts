// One configuration: every setting declared once (config/settings.ts) with its
// default and help, parsed once by loadConfig, listed by `peragus --help`; bad
// values stop a command with the variable named. One logger: levels, stderr only.
import { mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, SETTINGS } from '../../notebook-server/src/config/index.ts';
import { createLogger } from '../../notebook-server/src/log/index.ts';
import { peragus } from '../onehost/helpers.ts';

const home = mkdtempSync(join(tmpdir(), 'peragus-config-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

/** The environment without any setting of the table (the defaults). */
function bare(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const s of Object.values(SETTINGS)) delete env[s.env];
  return env;
}

describe('loadConfig', () => {
  it('gives the documented defaults when nothing is set', () => {
    const c = loadConfig({});
    expect(c.home).toBe(join(homedir(), '.peragus'));
    expect(c.runtime).toBe('local');
    expect(c.token).toBeUndefined();
    expect(c.logLevel).toBe('info');
    expect([c.poolSize, c.nodePoolSize, c.poolMaxStarts]).toEqual([1, 1, 1]);
    expect([c.planApproveExperiments, c.planApproveParallel]).toEqual([100, 8]);
    expect(c.pysdSharedCache).toBe(true);
    expect(c.noBundle).toBe(false);
  });

  it('reads each variable by its name', () => {
    const c = loadConfig({
      PERAGUS_HOME: '/srv/peragus',
      PERAGUS_RUNTIME: 'docker',
      PERAGUS_TOKEN: 'tok',
      PERAGUS_POOL_SIZE: '3',
      PERAGUS_PLAN_APPROVE_PARALLEL: '2',
      PERAGUS_PYSD_SHARED_CACHE: '0',
      PERAGUS_LOG_LEVEL: 'DEBUG',
    });
    expect(c).toMatchObject({
      home: '/srv/peragus',
      runtime: 'docker',
      token: 'tok',
      poolSize: 3,
      planApproveParallel: 2,
      pysdSharedCache: false,
      logLevel: 'debug',
    });
    // Blank is unset, as `||` made it before.
    expect(loadConfig({ PERAGUS_HOME: ' ', PERAGUS_TOKEN: '' })).toMatchObject({
      home: join(homedir(), '.peragus'),
      token: undefined,
    });
  });

  it('refuses bad values, naming every variable and what to give instead', () => {
    let err: unknown;
    try {
      loadConfig({ PERAGUS_POOL_SIZE: 'many', PERAGUS_RUNTIME: 'k8s', PERAGUS_LOG_LEVEL: 'loud' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const e = err as ConfigError;
    expect(e.code).toBe('invalid_config');
    expect(e.problems).toHaveLength(3);
    expect(e.message).toContain('PERAGUS_POOL_SIZE="many" is not a whole number ≥ 0');
    expect(e.message).toContain(
      'PERAGUS_RUNTIME="k8s" is not a runtime: use "local" (default), "docker" or "swarm"',
    );
    expect(e.message).toContain(
      'PERAGUS_LOG_LEVEL="loud" is not a log level: use one of error, warn, info, debug',
    );
  });
});

describe('peragus CLI and the settings', () => {
  it('--help lists every setting with its default and help', async () => {
    const r = await peragus(['--help'], { ...bare(), PERAGUS_HOME: home });
    expect(r.code).toBe(0);
    for (const s of Object.values(SETTINGS)) {
      expect(r.stdout).toContain(`  ${s.env}=${s.shown}\n      ${s.help}\n`);
    }
  });

  it('a bad setting stops the command before it starts, with the fix', async () => {
    const r = await peragus(['catalog', 'query', 'SELECT 1'], {
      ...bare(),
      PERAGUS_HOME: home,
      PERAGUS_POOL_SIZE: 'x',
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/PERAGUS_POOL_SIZE="x" is not a whole number/);
    expect(r.stderr).toMatch(/fix: correct or unset the named environment variables/);
    expect(r.stdout).toBe('');
  }, 120_000);
});

describe('the logger', () => {
  it('writes what its level lets through, one line each', () => {
    const lines: string[] = [];
    const log = createLogger({ level: 'warn', write: (l) => lines.push(l) });
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e\n');
    log.child('[x] ').warn('child');
    expect(lines).toEqual(['w\n', 'e\n', '[x] child\n']);
  });

  it('goes to stderr, never stdout (stdout carries MCP over stdio)', () => {
    const out: string[] = [];
    const err: string[] = [];
    const o = process.stdout.write;
    const e = process.stderr.write;
    process.stdout.write = ((s: string) => out.push(s) > 0) as typeof process.stdout.write;
    process.stderr.write = ((s: string) => err.push(s) > 0) as typeof process.stderr.write;
    try {
      const log = createLogger({ level: 'debug' });
      log.error('to stderr');
      log.debug('also stderr');
    } finally {
      process.stdout.write = o;
      process.stderr.write = e;
    }
    expect(out).toEqual([]);
    expect(err).toEqual(['to stderr\n', 'also stderr\n']);
  });
});
