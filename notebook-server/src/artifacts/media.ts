// Media types by file name, defined once: the catalog records them, the MCP
// resources/read answers with them, the UI API serves images with them.
export const PARQUET_MEDIA_TYPE = 'application/vnd.apache.parquet';
export const PNG_MEDIA_TYPE = 'image/png';
export const OCTET_STREAM = 'application/octet-stream';

/** Longest suffix first where two overlap (.src.md before .md). */
const MEDIA_TYPES: [suffix: string, type: string][] = [
  ['.parquet', PARQUET_MEDIA_TYPE],
  ['.csv', 'text/csv'],
  ['.tsv', 'text/tab-separated-values'],
  ['.nc', 'application/x-netcdf'],
  ['.png', PNG_MEDIA_TYPE],
  ['.svg', 'image/svg+xml'],
  ['.jpg', 'image/jpeg'],
  ['.jpeg', 'image/jpeg'],
  ['.json', 'application/json'],
  ['.ipynb', 'application/x-ipynb+json'],
  ['.src.md', 'text/markdown'],
  ['.md', 'text/markdown'],
  ['.txt', 'text/plain'],
  ['.log', 'text/plain'],
  ['.html', 'text/html'],
  ['.mdl', 'text/plain'],
  ['.xmile', 'application/xml'],
  ['.py', 'text/x-python'],
];

/** The media type of a file name (by its suffix, case-insensitive); application/octet-stream when unknown. */
export function mediaTypeOf(name: string): string {
  const lower = name.toLowerCase();
  return MEDIA_TYPES.find(([suffix]) => lower.endsWith(suffix))?.[1] ?? OCTET_STREAM;
}

/** Types whose bytes are UTF-8 text (served as text, not base64). */
export function isTextMediaType(type: string): boolean {
  return (
    type.startsWith('text/') ||
    type === 'application/json' ||
    type === 'application/xml' ||
    type === 'application/x-ipynb+json'
  );
}

/** Raster and vector images the UI may show inline. */
export function isImageMediaType(type: string): boolean {
  return type.startsWith('image/');
}
