// Artifacts as resource links: every file a tool wrote gets a peragus:// URI
// (peragus://session/{session_id}/files/{path}) that resources/read serves
// (resources.ts), sent as a resource_link content block instead of inline
// bytes. The URI names the session, not the process, so it stays valid when
// the host routes the call to a container.
import type { ContentBlock } from '@modelcontextprotocol/sdk/types.js';
import type { PartialArtifactRef } from '../artifacts/index.ts';
import { type RawResult, withContent } from './tool.ts';

export const FILES_TEMPLATE = 'peragus://session/{session_id}/files/{+path}';

type Linkable = PartialArtifactRef;

export function fileUri(sessionId: string, path: string): string {
  const encoded = path
    .split('/')
    .map((s) => encodeURIComponent(s))
    .join('/');
  return `peragus://session/${encodeURIComponent(sessionId)}/files/${encoded}`;
}

/** Parses a peragus:// file URI back into its session id and path (undefined when not one). */
export function parseFileUri(uri: string): { sessionId: string; path: string } | undefined {
  const m = /^peragus:\/\/session\/([^/]+)\/files\/(.+)$/.exec(uri);
  if (!m?.[1] || !m[2]) return undefined;
  try {
    return { sessionId: decodeURIComponent(m[1]), path: m[2].split('/').map(decodeURIComponent).join('/') };
  } catch {
    return undefined;
  }
}

/** The result with a `uri` on each artifact, plus one resource_link block per artifact. */
export function artifactLinks<T extends { artifacts?: Linkable[] }>(
  sessionId: string,
  result: T,
  extra: ContentBlock[] = [],
): RawResult {
  const artifacts = (result.artifacts ?? []).map((a) => ({ ...a, uri: fileUri(sessionId, a.path) }));
  const links: ContentBlock[] = artifacts.map((a) => ({
    type: 'resource_link',
    uri: a.uri,
    name: a.path.split('/').at(-1) ?? a.path,
    ...(a.media_type ? { mimeType: a.media_type } : {}),
    ...(a.bytes !== undefined ? { size: a.bytes } : {}),
  }));
  return withContent({ ...result, ...(result.artifacts ? { artifacts } : {}) }, [...links, ...extra]);
}
