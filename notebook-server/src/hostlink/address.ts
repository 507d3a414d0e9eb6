// The running host's address file: <PERAGUS_HOME>/host.json, mode 0600,
// holding its URL, token and pid. One host per home: `peragus serve` refuses
// to start beside a live one, and `mcp`, `run` and `catalog query` find it and
// work through it. A file whose host is gone (dead pid, no answer) is stale.
import { chmodSync, readFileSync, rmSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../confine/atomic.ts';
import { isAlive } from '../proc/process.ts';

export const ADDRESS_FILE = 'host.json';

export const HostAddress = z.object({
  /** http://127.0.0.1:PORT/ */
  url: z.string().url(),
  token: z.string().min(1),
  pid: z.number().int().positive(),
  hostname: z.string(),
  started_at: z.string(),
  version: z.string(),
});
export type HostAddress = z.infer<typeof HostAddress>;

export const addressPath = (home: string): string => join(home, ADDRESS_FILE);

/** The address file as found: absent, unreadable (with why), or parsed. */
export type AddressRead =
  | { kind: 'none' }
  | { kind: 'unreadable'; path: string; reason: string }
  | { kind: 'found'; path: string; address: HostAddress };

export function readAddress(home: string): AddressRead {
  const path = addressPath(home);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') return { kind: 'none' };
    return { kind: 'unreadable', path, reason: e.message };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { kind: 'unreadable', path, reason: `not JSON (${(err as Error).message})` };
  }
  const parsed = HostAddress.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || 'file'}: ${i.message}`).join('; ');
    return { kind: 'unreadable', path, reason: `not a host address (${issues})` };
  }
  return { kind: 'found', path, address: parsed.data };
}

/** Writes the address atomically, readable by the owner only (it holds the token). */
export function writeAddress(home: string, address: HostAddress): string {
  const path = addressPath(home);
  writeFileAtomic(path, `${JSON.stringify(address, null, 2)}\n`, { mode: 0o600, mkdir: false });
  chmodSync(path, 0o600); // exactly owner-only, whatever the umask
  return path;
}

/** Removes the address file if it still names this process (a newer host may have replaced it). */
export function removeAddress(home: string, pid = process.pid): void {
  const found = readAddress(home);
  if (found.kind === 'found' && found.address.pid === pid) rmSync(found.path, { force: true });
}

/** Group/other permission bits on the file: the token is exposed beyond its owner. */
export function looseMode(home: string): number {
  try {
    return statSync(addressPath(home)).mode & 0o077;
  } catch {
    return 0;
  }
}

/**
 * For a connected bridge: why the host is gone, or null. On this machine the pid decides (a host
 * busy for seconds is not gone); elsewhere the HTTP probe.
 */
export async function goneReason(address: HostAddress): Promise<string | null> {
  if (address.hostname === hostname()) {
    return isAlive(address.pid) ? null : `its process ${address.pid} is gone`;
  }
  return staleReason(address, 15_000);
}

/** Why an address is not a live host, or null when the host answers with this token. */
export async function staleReason(address: HostAddress, timeoutMs = 10_000): Promise<string | null> {
  if (address.hostname === hostname() && !isAlive(address.pid)) return `its process ${address.pid} is gone`;
  try {
    const res = await fetch(new URL('api/status', address.url), {
      headers: { authorization: `token ${address.token}` },
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.body?.cancel();
    if (res.status === 401) return `${address.url} does not accept its token`;
    if (!res.ok) return `${address.url} answered HTTP ${res.status}`;
    return null;
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    return `${address.url} does not answer (${cause ?? (err as Error).message})`;
  }
}

export type HostLookup =
  | { kind: 'live'; address: HostAddress }
  | { kind: 'none' }
  /** A file was there but names no live host (stale), or could not be read. */
  | { kind: 'stale' | 'unreadable'; path: string; reason: string };

/** The live host of this home, if any; says why a file that is there does not count. */
export async function findHost(home: string): Promise<HostLookup> {
  const read = readAddress(home);
  if (read.kind === 'none') return read;
  if (read.kind === 'unreadable') return read;
  const reason = await staleReason(read.address);
  if (reason === null) return { kind: 'live', address: read.address };
  return { kind: 'stale', path: read.path, reason };
}

/** The browser URL (with the token) of a host. */
export function browserUrl(address: HostAddress): string {
  return `${address.url}?token=${encodeURIComponent(address.token)}`;
}
