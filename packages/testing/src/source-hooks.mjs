// Module hooks (node:module register) that let a plain `node` process run the docket packages
// from their TypeScript sources, as vitest does inside the test process: the `docket-source`
// export condition points each @docket package at its src/index.ts, .ts files are transpiled
// with esbuild (types stripped, nothing checked), `./x.js` imports find `./x.ts`, and .lua
// files load as text (as tsup's text loader bundles them). Used through `sourceNodeArgs`
// (source.ts) for the child processes of tests; built packages need none of this.
import { readFile } from 'node:fs/promises';
import { transform } from 'esbuild';

/** @type {import('node:module').ResolveHook} */
export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (err) {
    // TypeScript sources import their siblings as './x.js'.
    const fromTs = context.parentURL?.endsWith('.ts');
    if (fromTs && specifier.startsWith('.') && specifier.endsWith('.js')) {
      return nextResolve(`${specifier.slice(0, -3)}.ts`, context);
    }
    throw err;
  }
}

/** @type {import('node:module').LoadHook} */
export async function load(url, context, nextLoad) {
  if (url.startsWith('file:') && url.endsWith('.lua')) {
    const text = await readFile(new URL(url), 'utf8');
    return { format: 'module', source: `export default ${JSON.stringify(text)};`, shortCircuit: true };
  }
  if (url.startsWith('file:') && url.endsWith('.ts')) {
    const source = await readFile(new URL(url), 'utf8');
    const out = await transform(source, { loader: 'ts', format: 'esm', target: 'node20', sourcemap: 'inline', sourcefile: url });
    return { format: 'module', source: out.code, shortCircuit: true };
  }
  return nextLoad(url, context);
}
