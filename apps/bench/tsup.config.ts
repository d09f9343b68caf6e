import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/priority-scale.ts'],
  format: ['esm'],
  target: 'node20',
  clean: true,
  // The test harness is TypeScript source (never published): bundle it in.
  noExternal: ['@docket/testing'],
});
