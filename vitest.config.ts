import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    // The Python test peers' venv lives under tests/peers/.
    exclude: ['**/node_modules/**', '**/.venv/**'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // Real kernels and containers share 2 cores; keep file-level parallelism modest.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
