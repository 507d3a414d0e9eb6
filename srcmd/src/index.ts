// Public API of srcmd: notebook schemas, the .src.md codec, the outputs bundle,
// atomic file helpers, .ipynb conversion and Markdown export.
export {
  applyOutputs,
  type Bundle,
  CellRunData,
  type DecodeBundleOptions,
  decodeBundle,
  encodeBundle,
  encodeOutputs,
  OUTPUTS_FORMAT,
  OUTPUTS_VERSION,
  OutputsFile,
  parseOutputs,
} from './bundle.ts';
export { decodeSrcmd } from './decode.ts';
export { checkNotebook, encodeSrcmd, headerExtras } from './encode.ts';
export {
  IpynbParseError,
  NotebookInvalidError,
  OutputsParseError,
  SrcmdParseError,
} from './errors.ts';
export {
  type NotebookPaths,
  notebookPaths,
  readNotebookFiles,
  writeFileAtomic,
  writeNotebookFiles,
} from './fs.ts';
export {
  fromIpynb,
  type IpynbImport,
  importIpynb,
  KERNELSPEC,
  LANGUAGE_INFO,
  toIpynb,
  toIpynbObject,
} from './ipynb.ts';
export { type MarkdownOptions, outputToMarkdown, toMarkdown } from './markdown.ts';
export * from './nbformat.ts';
