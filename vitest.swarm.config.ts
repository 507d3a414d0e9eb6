// The swarm lab's tests: `npm run test:swarm` (brings scripts/swarm-lab.sh up first).
// Kept out of `npm test` until the lab runs in CI; see docs/DECISIONS.md (issue 11).
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/swarm/**/*.lab.ts'],
    testTimeout: 300_000,
    hookTimeout: 600_000,
    maxWorkers: 1,
    reporters: ['default'],
  },
});
