import { defineConfig } from 'tsup';

export default defineConfig({
  // bench: docket vs BullMQ vs Bee-Queue (forks child.js for the consumers);
  // priority-scale: docket's priority queue at 1,000,000 waiting jobs.
  entry: ['src/bench.ts', 'src/child.ts', 'src/priority-scale.ts'],
  format: ['esm'],
  target: 'node20',
  clean: true,
  // Bundled in: the test harness (TypeScript source, never published) and docket's packages as
  // built just before (their dist/). A run then measures one build of docket from start to end,
  // even if packages/ are rebuilt while it runs (consumer processes are forked all along the run).
  // Their dependencies stay external, resolved as the packages resolve them (ioredis, msgpackr
  // with its native msgpackr-extract: same versions, listed in package.json for that reason).
  noExternal: [/^@docket\//],
  // The libraries compared are devDependencies (tsup would bundle those): load them from node_modules.
  external: ['bullmq', 'bee-queue'],
});
