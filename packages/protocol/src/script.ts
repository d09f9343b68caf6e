import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';

export type RedisClient = Redis | Cluster;

type Arg = string | number | Buffer;
/** ioredis defines a Buffer-replying twin of every command at run time; its types omit these two. */
interface BufferEval {
  evalshaBuffer(sha: string, numKeys: number, ...args: Arg[]): Promise<unknown>;
  evalBuffer(source: string, numKeys: number, ...args: Arg[]): Promise<unknown>;
}

/** Joins Lua fragments (helpers, a strategy, a script body) into one script. */
export function composeLua(...parts: string[]): string {
  return parts.map((p) => p.trimEnd()).join('\n\n') + '\n';
}

/**
 * A Lua script run with EVALSHA, falling back to EVAL (which caches it on the server) when
 * the server does not know it yet, e.g. on a new connection or after a restart.
 */
export class LuaScript {
  readonly sha: string;

  constructor(
    readonly name: string,
    readonly source: string,
  ) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  /** Runs the script; replies come back as Buffers (binary-safe records). */
  async run(client: RedisClient, keys: readonly string[], args: readonly Arg[]): Promise<unknown> {
    const c = client as unknown as BufferEval;
    try {
      return await c.evalshaBuffer(this.sha, keys.length, ...keys, ...args);
    } catch (err) {
      if (err instanceof Error && err.message.startsWith('NOSCRIPT')) {
        return c.evalBuffer(this.source, keys.length, ...keys, ...args);
      }
      throw err;
    }
  }
}
