/** The export condition under which every @docket package resolves to its TypeScript sources. */
export const SOURCE_CONDITION = 'docket-source';

/**
 * Node.js arguments (`execArgv` of `fork`) that run the docket packages from their sources in
 * a child process, without a build: the same code the test process runs through vitest.
 *
 * @example
 * fork(fixture, [JSON.stringify(config)], { execArgv: sourceNodeArgs() });
 */
export function sourceNodeArgs(): string[] {
  return [`--conditions=${SOURCE_CONDITION}`, '--import', new URL('./source-register.mjs', import.meta.url).href];
}
