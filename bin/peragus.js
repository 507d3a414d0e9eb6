#!/usr/bin/env node
// The `peragus` command: runs the TypeScript CLI through tsx's loader, so the
// installed package needs no separate build step.
import { register } from 'tsx/esm/api';

register();
await import('../notebook-server/src/cli.ts');
