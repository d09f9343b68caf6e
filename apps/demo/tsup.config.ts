import { defineConfig } from 'tsup';

export default defineConfig({
  // main: the driver, which forks server.js (the producer side) and worker.js (the consumer
  // side) from this same dist/ directory.
  entry: ['src/main.ts', 'src/server.ts', 'src/worker.ts'],
  format: ['esm'],
  target: 'node20',
  clean: true,
  // Bundled in: the test harness (TypeScript source, never built or published), for its Redis
  // helpers. docket's own packages stay external: the demo runs them as an app would, from
  // their built dist/ (turbo builds them first), with their dependencies as they resolve them.
  noExternal: ['@docket/testing'],
});
