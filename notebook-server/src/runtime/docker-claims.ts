// Identity of pooled containers. Docker labels are fixed at create time, but
// a pooled container is created before its experiment exists; so a pool
// container carries only pool labels, and the hand-over writes a claim record
// on the host (never in the volume, which the container can write):
// <home>/docker-pool/claims/<container id>.json. Every read of a container's
// labels (own, list) goes through `effectiveLabels`, which lays the claim over
// the pool labels; an unclaimed pool container is nobody's experiment and is
// invisible to list, exec, copies and destroy.
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LABELS } from './types.ts';

export const POOL_LABELS = {
  /** The pool slot id the container was created for (its volume's first name). */
  pool: 'peragus.pool',
  /** Host folder of the claim records. */
  claims: 'peragus.pool_claims',
  /** Token of the host process that filled the pool (its reaper removes them). */
  owner: 'peragus.pool_owner',
} as const;

/**
 * Where the hand-over writes the experiment id for a pooled node role
 * (relative to the volume); the node reads it once, at its first notebook_create.
 */
export const IDENTITY_RELATIVE_PATH = '.peragus/experiment-id';
/** The identity file's second line for a scratch experiment (cli/node-identity.ts). */
export const SCRATCH_LINE = 'scratch';
/** The env var telling a pooled node role where that file is (inside the container). */
export const IDENTITY_ENV = 'PERAGUS_EXPERIMENT_ID_FILE';

export interface Claim {
  experiment_id: string;
  work_dir: string;
  endpoint: string;
  /** The create spec's own labels (e.g. plan). */
  labels: Record<string, string>;
  claimed_at: string;
}

export const claimsDir = (home: string): string => join(home, 'docker-pool', 'claims');

const FULL_ID = /^[0-9a-f]{64}$/;

function claimPath(dir: string, containerId: string): string {
  if (!FULL_ID.test(containerId)) throw new Error(`not a full container id: ${containerId}`);
  return join(dir, `${containerId}.json`);
}

export function writeClaim(dir: string, containerId: string, claim: Claim): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = claimPath(dir, containerId);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(claim), { mode: 0o600 });
  renameSync(tmp, path);
}

export function removeClaim(labels: Record<string, string>, containerId: string): void {
  const dir = labels[POOL_LABELS.claims];
  if (dir && FULL_ID.test(containerId)) rmSync(claimPath(dir, containerId), { force: true });
}

function readClaim(dir: string, containerId: string): Claim | null {
  try {
    return JSON.parse(readFileSync(claimPath(dir, containerId), 'utf8')) as Claim;
  } catch {
    return null;
  }
}

/**
 * The labels a container stands for: its own, or for a pooled container its
 * claim laid over them; null for a pooled container nobody has claimed yet.
 */
export function effectiveLabels(
  containerId: string,
  labels: Record<string, string>,
): Record<string, string> | null {
  const dir = labels[POOL_LABELS.claims];
  if (labels[POOL_LABELS.pool] === undefined || !dir) return labels;
  const claim = readClaim(dir, containerId);
  if (!claim) return null;
  return {
    ...claim.labels,
    ...labels,
    [LABELS.experimentId]: claim.experiment_id,
    [LABELS.workDir]: claim.work_dir,
    [LABELS.endpoint]: claim.endpoint,
  };
}
