// The configuration, parsed once: `loadConfig(env)` reads every setting of
// ./settings.ts from the environment, fails with one error naming each bad
// variable and its fix, and returns typed values the composition roots (cli/,
// app/host.ts) pass down. A child process that must read its own settings at
// start (the node role, the kernel launcher) uses the same parser.
import type { z } from 'zod';
import { PeragusError } from '../errors/index.ts';
import { SETTINGS, type SettingKey } from './settings.ts';

export type Config = { readonly [K in SettingKey]: z.output<(typeof SETTINGS)[K]['schema']> };

export class ConfigError extends PeragusError {
  constructor(readonly problems: string[]) {
    super('invalid_config', problems.join('; '), {
      fix: 'correct or unset the named environment variables (`peragus --help` lists them)',
    });
  }
}

function problemOf(key: SettingKey, env: NodeJS.ProcessEnv, message: string | undefined): string {
  const s = SETTINGS[key];
  return `${s.env}="${env[s.env] ?? ''}" ${message ?? 'is not valid'}`;
}

/** Every setting from `env`; throws a ConfigError naming each invalid one. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const key of Object.keys(SETTINGS) as SettingKey[]) {
    const r = SETTINGS[key].schema.safeParse(env[SETTINGS[key].env]);
    if (r.success) out[key] = r.data;
    else problems.push(problemOf(key, env, r.error.issues[0]?.message));
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out as Config;
}

/** One setting, through the same parser (for a module whose caller has no Config to pass). */
export function readSetting<K extends SettingKey>(key: K, env: NodeJS.ProcessEnv = process.env): Config[K] {
  const r = SETTINGS[key].schema.safeParse(env[SETTINGS[key].env]);
  if (!r.success) throw new ConfigError([problemOf(key, env, r.error.issues[0]?.message)]);
  return r.data as Config[K];
}

/** The runtime experiments get when a spec or a plan names none (PERAGUS_RUNTIME). */
export function defaultRuntimeKind(env: NodeJS.ProcessEnv = process.env): Config['runtime'] {
  return readSetting('runtime', env);
}

/** The settings section of `peragus --help`. */
export function settingsHelp(): string {
  const lines = ['settings (environment variables; default after "="):'];
  for (const s of Object.values(SETTINGS)) {
    lines.push(`  ${s.env}=${s.shown}`, `      ${s.help}`);
  }
  return `${lines.join('\n')}\n`;
}
