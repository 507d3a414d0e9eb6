// Tool results carry summaries, never megabytes: cell outputs are cut to a
// readable size, images become artifact files in the work dir (path, sha256,
// bytes, media type) with only a small preview inline.
import { join } from 'node:path';
import type { Output } from '../../../srcmd/src/nbformat.ts';
import { type ArtifactRef, artifactRef, PNG_MEDIA_TYPE } from '../artifacts/index.ts';
import { writeInside } from '../confine/fs.ts';
import type { Owner } from '../confine/walk.ts';
import { RESULT_MIME } from '../pysd/result.ts';

const TEXT_LIMIT = 4000;
// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escapes start with ESC
const ANSI = /\u001b\[[0-9;]*[A-Za-z]/g;

export interface OutputSummary {
  output_type: Output['output_type'];
  name?: string;
  text?: string;
  truncated?: boolean;
  ename?: string;
  evalue?: string;
  traceback?: string;
  artifact?: ArtifactRef;
  result?: unknown;
}

const joinText = (t: string | string[]): string => (Array.isArray(t) ? t.join('') : t);

function cut(text: string): { text: string; truncated?: boolean } {
  if (text.length <= TEXT_LIMIT) return { text };
  // Keep the tail: the end of a log or traceback is what explains the result.
  return { text: `…${text.slice(-TEXT_LIMIT)}`, truncated: true };
}

export function writeArtifact(
  workDir: string,
  relPath: string,
  data: Buffer,
  mediaType: string,
  owner?: Owner,
): ArtifactRef {
  // No link in the work dir is followed (the kernel can plant them; the server may run as root).
  writeInside(workDir, relPath, data, { where: "the session's work dir", ...(owner ? { owner } : {}) });
  return artifactRef(relPath, data, mediaType);
}

export function summarizeOutputs(
  outputs: Output[],
  workDir: string,
  cellId: string,
  owner?: Owner,
): OutputSummary[] {
  return outputs.map((o, i) => {
    switch (o.output_type) {
      case 'stream':
        return { output_type: o.output_type, name: o.name, ...cut(joinText(o.text)) };
      case 'error':
        return {
          output_type: o.output_type,
          ename: o.ename,
          evalue: o.evalue,
          traceback: cut(o.traceback.join('\n').replace(ANSI, '')).text,
        };
      default: {
        const data = o.data as Record<string, unknown>;
        if (RESULT_MIME in data) return { output_type: o.output_type, result: data[RESULT_MIME] };
        const png = data[PNG_MEDIA_TYPE];
        if (typeof png === 'string') {
          const artifact = writeArtifact(
            workDir,
            join('artifacts', `cell-${cellId}-${i}.png`),
            Buffer.from(png, 'base64'),
            PNG_MEDIA_TYPE,
            owner,
          );
          return { output_type: o.output_type, artifact };
        }
        const plain = data['text/plain'];
        const text = typeof plain === 'string' ? plain : Array.isArray(plain) ? plain.join('') : '';
        return { output_type: o.output_type, ...cut(text) };
      }
    }
  });
}
