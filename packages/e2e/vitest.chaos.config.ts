// `pnpm test:chaos`: the full chaos run (20,000 jobs), kept out of the normal `pnpm test`, which
// runs the same file in its short form.
import { defineConfig, mergeConfig } from 'vitest/config';
import shared from '../../vitest.shared.js';

export default mergeConfig(
  shared,
  defineConfig({
    test: {
      include: ['test/chaos.test.ts'],
      env: { CHAOS_JOBS: process.env.CHAOS_JOBS ?? '20000' },
      testTimeout: 900_000,
    },
  }),
);
