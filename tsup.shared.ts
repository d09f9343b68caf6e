import { type Options, defineConfig } from 'tsup';

/**
 * The build every library package shares: ESM + CJS with type declarations for Node 20, Lua
 * scripts inlined as strings (the .lua file stays the source of truth).
 */
export function libraryConfig(overrides: Options = {}) {
  return defineConfig({
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    clean: true,
    sourcemap: true,
    target: 'node20',
    loader: { '.lua': 'text' },
    ...overrides,
  });
}
