import { defineConfig } from 'vitest/config';

/** Shared by every package's vitest.config.ts: .lua files load as text, as tsup does. */
export default defineConfig({
  plugins: [
    {
      name: 'docket-lua-text',
      transform(code, id) {
        if (id.endsWith('.lua')) return { code: `export default ${JSON.stringify(code)};`, map: null };
        return undefined;
      },
    },
  ],
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
