// Preparing artifacts for registration: names, media types, checksums, and
// the digest that makes registration idempotent.
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import { mediaTypeOf, PARQUET_MEDIA_TYPE } from '../artifacts/index.ts';
import { confineRelative, PathError } from '../confine/relative.ts';
import { CatalogError, ChecksumMismatchError } from './errors.ts';
import type { ArtifactInput, MetricsInput } from './schemas.ts';
import { hashFile, normalizeSha256 } from './store.ts';

export interface PreparedArtifact {
  /** Local source file. */
  source: string;
  /** Path recorded in the catalog. */
  name: string;
  sha256: string;
  bytes: number;
  media_type: string;
}

/** Catalog paths are relative POSIX paths: they name files of the experiment, never locations outside it. */
function checkName(name: string): string {
  try {
    return confineRelative(name, { what: 'artifact name', where: 'the experiment' });
  } catch (err) {
    if (!(err instanceof PathError)) throw err;
    throw new CatalogError('invalid_input', `${err.message} (a relative path inside the experiment)`);
  }
}

/**
 * Hashes every artifact and checks the declared checksums and sizes before
 * anything is stored, so one bad artifact leaves neither catalog rows nor blobs.
 */
export async function prepareArtifacts(inputs: readonly ArtifactInput[]): Promise<PreparedArtifact[]> {
  const seen = new Set<string>();
  const out: PreparedArtifact[] = [];
  for (const a of inputs) {
    const name = checkName(a.name ?? basename(a.path));
    if (seen.has(name)) throw new CatalogError('invalid_input', `two artifacts are named "${name}"`);
    seen.add(name);
    let actual: { sha256: string; bytes: number };
    try {
      actual = await hashFile(a.path);
    } catch (err) {
      throw new CatalogError(
        'invalid_artifact',
        `cannot read artifact ${a.path}: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    if (a.sha256 !== undefined && normalizeSha256(a.sha256) !== actual.sha256) {
      throw new ChecksumMismatchError(a.path, normalizeSha256(a.sha256), actual.sha256);
    }
    if (a.bytes !== undefined && a.bytes !== actual.bytes) {
      throw new CatalogError(
        'checksum_mismatch',
        `size mismatch for ${a.path}: expected ${a.bytes} bytes, got ${actual.bytes}`,
      );
    }
    const media_type = a.media_type ?? mediaTypeOf(name);
    if (media_type === PARQUET_MEDIA_TYPE) await checkParquetMagic(a.path, actual.bytes);
    out.push({ source: a.path, name, sha256: actual.sha256, bytes: actual.bytes, media_type });
  }
  return out;
}

/** Parquet files start and end with "PAR1"; a file without both would break every `results` query. */
async function checkParquetMagic(path: string, bytes: number): Promise<void> {
  const bad = () =>
    new CatalogError('invalid_artifact', `artifact ${path} is not a Parquet file (no PAR1 magic)`);
  if (bytes < 12) throw bad();
  const fh = await open(path, 'r');
  try {
    const head = Buffer.alloc(4);
    const tail = Buffer.alloc(4);
    await fh.read(head, 0, 4, 0);
    await fh.read(tail, 0, 4, bytes - 4);
    if (head.toString('latin1') !== 'PAR1' || tail.toString('latin1') !== 'PAR1') throw bad();
  } finally {
    await fh.close();
  }
}

export function normalizeMetrics(metrics: MetricsInput): Map<string, number> {
  const entries = Array.isArray(metrics)
    ? metrics.map((m) => [m.name, m.value] as const)
    : Object.entries(metrics);
  const out = new Map<string, number>();
  for (const [name, value] of entries) {
    if (out.has(name)) throw new CatalogError('invalid_input', `metric "${name}" is given twice`);
    if (!Number.isFinite(value))
      throw new CatalogError('invalid_input', `metric "${name}" is not a finite number`);
    out.set(name, value);
  }
  return out;
}

/**
 * Identity of a registered result: status, artifacts (name, sha256, media
 * type) and metrics, in a canonical order. Same digest = same result.
 */
export function resultDigest(
  status: string,
  artifacts: readonly PreparedArtifact[],
  metrics: Map<string, number>,
): string {
  const canonical = JSON.stringify({
    status,
    artifacts: artifacts
      .map((a) => [a.name, a.sha256, a.media_type])
      .sort((x, y) => (x[0]! < y[0]! ? -1 : 1)),
    metrics: [...metrics.entries()].sort((x, y) => (x[0] < y[0] ? -1 : 1)),
  });
  return createHash('sha256').update(canonical).digest('hex');
}
