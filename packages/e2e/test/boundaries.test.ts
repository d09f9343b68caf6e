// A web app installs only @docket/producer: it must get protocol and scheduler, and no
// consumer code; consumer and producer never import each other.
import { readFile, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
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
      ['step.lua', 'renew.lua'].map((f) => readFile(join(packagesDir, 'consumer', 'src', f), 'utf8')),
    );
    for (const file of ['index.js', 'index.cjs']) {
      const built = await readFile(join(packagesDir, 'producer', 'dist', file), 'utf8');
      expect(built).not.toMatch(/class Consumer\b/);
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
