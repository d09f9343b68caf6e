import { defineConfig } from 'tsup';

export default defineConfig({
  // The sandbox's thread entry is plain JavaScript, started by path beside the bundle.
  entry: ['src/index.ts', 'src/sandbox-thread.mjs'],
  format: ['esm', 'cjs'],
  dts: { entry: 'src/index.ts' },
  shims: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  // Lua scripts are inlined as strings at build time; the .lua file stays the source of truth.
  loader: { '.lua': 'text' },
});
