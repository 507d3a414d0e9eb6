// Path confinement for every face: lexical rule (relative.ts) and no-follow
// file operations inside a root (fs.ts).
export * from './fs.ts';
export * from './relative.ts';
