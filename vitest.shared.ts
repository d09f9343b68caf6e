import { defineConfig } from 'vitest/config';

/**
 * Shared by every package's vitest.config.ts: the @docket packages resolve to their TypeScript
 * sources (the `docket-source` export condition, as in tsconfig.base.json), so tests need no
 * build, and .lua files load as text, as tsup's text loader bundles them.
 */
const conditions = ['docket-source'];

export default defineConfig({
  resolve: { conditions: [...conditions, 'module', 'node', 'import', 'default'] },
  ssr: { resolve: { conditions: [...conditions, 'node', 'import', 'default'], externalConditions: conditions } },
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
