// A web app installs only @docket/producer: it must get protocol and scheduler, and no
// consumer code; consumer and producer never import each other.
import { readFile, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const packagesDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

async function manifest(name: string): Promise<{ name: string; dependencies?: Record<string, string> }> {
  return JSON.parse(await readFile(join(packagesDir, name, 'package.json'), 'utf8'));
}

/** Every @docket package reachable through `dependencies` (what `npm install` would bring). */
async function docketClosure(start: string): Promise<Set<string>> {
  const seen = new Set<string>();
  const visit = async (dir: string) => {
    const pkg = await manifest(dir);
    for (const dep of Object.keys(pkg.dependencies ?? {})) {
      if (!dep.startsWith('@docket/') || seen.has(dep)) continue;
      seen.add(dep);
      await visit(dep.slice('@docket/'.length));
    }
  };
  await visit(start);
  return seen;
}

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile() && /\.(ts|lua)$/.test(e.name)).map((e) => join(e.parentPath, e.name));
}

describe('package boundaries', () => {
  it("the producer's dependency tree holds protocol and scheduler, never the consumer", async () => {
    expect([...(await docketClosure('producer'))].sort()).toEqual(['@docket/protocol', '@docket/scheduler']);
  });

  it("the producer's build contains none of the consumer's code", async () => {
    const consumerScripts = await Promise.all(
      ['step.lua', 'renew.lua'].map((f) => readFile(join(packagesDir, 'consumer', 'src', 'lua', f), 'utf8')),
    );
    // Bundled the way tsup builds the package (its dependencies external, Lua as text), from
    // the sources, so that no prior build is needed.
    const producer = await manifest('producer');
    for (const format of ['esm', 'cjs'] as const) {
      const result = await build({
        entryPoints: [join(packagesDir, 'producer', 'src', 'index.ts')],
        bundle: true,
        write: false,
        format,
        platform: 'node',
        external: Object.keys(producer.dependencies ?? {}),
        loader: { '.lua': 'text' },
      });
      const built = result.outputFiles.map((f) => f.text).join('\n');
      // esbuild writes a class as `class X {` or, for some, `var X = class {`.
      expect(built).toMatch(/\bclass Producer\b|\bProducer = class\b/);
      expect(built).not.toMatch(/\bclass Consumer\b|\bConsumer = class\b/);
      // A distinctive line of each consumer script must not have been bundled in.
      for (const script of consumerScripts) {
        const marker = script.split('\n').find((l) => l.startsWith('-- docket consumer:')) as string;
        expect(built.includes(JSON.stringify(marker).slice(1, -1))).toBe(false);
      }
    }
  });

  it('producer and consumer sources never import each other', async () => {
    for (const [pkg, forbidden] of [
      ['producer', '@docket/consumer'],
      ['consumer', '@docket/producer'],
    ] as const) {
      for (const file of await sourceFiles(join(packagesDir, pkg, 'src'))) {
        expect(await readFile(file, 'utf8'), file).not.toContain(forbidden);
      }
      expect(Object.keys((await manifest(pkg)).dependencies ?? {})).not.toContain(forbidden);
    }
  });

  it('every Redis key name is built in protocol', async () => {
    // Key suffixes appear as string literals only in protocol/src/keys.ts.
    for (const pkg of ['scheduler', 'producer', 'consumer']) {
      for (const file of await sourceFiles(join(packagesDir, pkg, 'src'))) {
        if (!file.endsWith('.ts')) continue;
        expect(await readFile(file, 'utf8'), file).not.toMatch(/`[^`]*\{\$\{[^}]+\}\}:/);
      }
    }
  });
});
