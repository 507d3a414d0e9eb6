// Path confinement for every face: the lexical rule (relative.ts), atomic
// writes (atomic.ts) and file operations inside a root that never follow a
// link (walk.ts, fs.ts, copy.ts, socket.ts).
export * from './atomic.ts';
export * from './copy.ts';
export * from './fs.ts';
export * from './relative.ts';
export * from './socket.ts';
export { fdPath, type InsideOptions, type Owner } from './walk.ts';
