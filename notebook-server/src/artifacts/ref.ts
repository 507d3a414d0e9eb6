// The artifact reference, defined once: a file a call wrote, named by its
// path relative to a work dir, its sha256, size and media type. Tool outputs
// (schemas/), the catalog's register result, the MCP output summaries, the
// plan lifecycle and `peragus rerun` all use this shape.
import { createHash } from 'node:crypto';
import { z } from 'zod';

const fields = {
  path: z.string().describe("Relative to the session's work dir, e.g. results/sir-lhs-1a2b/runs.parquet."),
  sha256: z.string().describe('Hex sha256 of the file.'),
  bytes: z.number().describe('File size in bytes.'),
  media_type: z.string().describe('e.g. application/vnd.apache.parquet, image/png.'),
};
/** Extra keys (a uri, a role) pass through: results carry them beside the four fields. */
export const ArtifactRefSchema = z.looseObject(fields);
export type ArtifactRef = z.infer<z.ZodObject<typeof fields>>;

/** A reference whose digest, size or type may not be known yet (only the path is). */
export type PartialArtifactRef = Pick<ArtifactRef, 'path'> & Partial<Omit<ArtifactRef, 'path'>>;

/** The reference of `data` written at `path`. */
export function artifactRef(path: string, data: Uint8Array | string, mediaType: string): ArtifactRef {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  return {
    path,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    bytes: bytes.byteLength,
    media_type: mediaType,
  };
}
