// Helpers for the fuzz tests: a seeded generator (so that every failure can be replayed), a
// time budget, and generators of hostile bytes and values.

/** A random source: numbers in [0, 1), and helpers over it. */
export interface Fuzz {
  readonly seed: number;
  /** A number in [0, 1). */
  next(): number;
  /** An integer in [0, n). */
  int(n: number): number;
  /** true with probability p. */
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
  bytes(maxLength: number): Buffer;
}

/**
 * A deterministic source of numbers in [0, 1) for tests (SplitMix32): the same seed gives the
 * same numbers. (The consumer's own seeded generator is @docket/scheduler's seededRandom; this
 * package cannot depend on it, as the scheduler's tests depend on this one.)
 */
export function seededNumbers(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return ((z ^ (z >>> 16)) >>> 0) / 4_294_967_296;
  };
}

/**
 * A seeded generator (seededNumbers). The seed comes from DOCKET_FUZZ_SEED when set (to replay a
 * failure), else from the clock; it is printed so that a failing run can be repeated with
 * `DOCKET_FUZZ_SEED=<seed>`.
 */
export function fuzzer(label: string): Fuzz {
  const fromEnv = process.env.DOCKET_FUZZ_SEED;
  const seed = fromEnv ? Number(fromEnv) >>> 0 : (Date.now() ^ (process.pid << 16)) >>> 0;
  console.log(`[fuzz] ${label}: seed ${seed} (replay with DOCKET_FUZZ_SEED=${seed})`);
  const next = seededNumbers(seed);
  const int = (n: number) => Math.floor(next() * n);
  return {
    seed,
    next,
    int,
    chance: (p) => next() < p,
    pick: (items) => items[int(items.length)] as (typeof items)[number],
    bytes: (maxLength) => Buffer.from(Array.from({ length: int(maxLength + 1) }, () => int(256))),
  };
}

/**
 * Runs `step` again and again for about `ms` (DOCKET_FUZZ_MS overrides it), at least `min`
 * times, or until it returns false; returns how many runs there were. A bound on time, not an
 * assertion about it.
 */
export async function forDuration(ms: number, step: (i: number) => unknown, min = 20): Promise<number> {
  const budget = process.env.DOCKET_FUZZ_MS ? Number(process.env.DOCKET_FUZZ_MS) : ms;
  const end = Date.now() + budget;
  let i = 0;
  while (i < min || Date.now() < end) {
    if ((await step(i++)) === false) break;
  }
  return i;
}

const STRINGS = ['', 'a', 'emails', 'fifo', 'priority', 'x'.repeat(300), '__proto__', 'constructor', 'toString', '1', '-1', 'NaN', '{q}', 'a b', 'ünï', '🎉', '\u0000', 'redis://127.0.0.1:1', 'SIGTERM'];
const NUMBERS = [0, -0, 1, -1, 1.5, 2 ** 31 - 1, 2 ** 31, 2 ** 53, -(2 ** 53), Number.MAX_SAFE_INTEGER, 1e21, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 100, 1000, 10_000, 1_000_000, 1_000_001];

/**
 * Any kind of JS value, hostile ones included: edge numbers, bigints, odd strings, Dates (also
 * invalid), Buffers and typed arrays, Maps and Sets, functions, symbols, cycles, getters that
 * throw, revoked Proxies, null-prototype objects, own "__proto__" keys. `depth` bounds nesting.
 */
export function anyValue(f: Fuzz, depth = 3): unknown {
  const kind = f.int(depth > 0 ? 22 : 13);
  switch (kind) {
    case 0: return undefined;
    case 1: return null;
    case 2: return f.chance(0.5);
    case 3: return f.pick(NUMBERS);
    case 4: return (f.next() - 0.5) * 10 ** f.int(20);
    case 5: return f.int(2_000_000) - 1_000_000;
    case 6: return f.pick(STRINGS);
    case 7: return BigInt(f.int(1000)) ** BigInt(f.int(12)) * (f.chance(0.5) ? -1n : 1n);
    case 8: return new Date(f.chance(0.2) ? Number.NaN : f.int(2 ** 31) * 1000);
    case 9: return f.bytes(16);
    case 10: return f.pick([() => 1, Symbol('s'), Symbol.for('docket')]);
    case 11: return new Float64Array([f.next(), Number.NaN]);
    case 12: {
      const { proxy, revoke } = Proxy.revocable({}, {});
      if (f.chance(0.5)) revoke();
      return proxy;
    }
    case 13:
    case 14: return Array.from({ length: f.int(5) }, () => anyValue(f, depth - 1));
    case 15:
    case 16: {
      const obj: Record<string, unknown> = f.chance(0.1) ? Object.create(null) : {};
      for (let i = f.int(5); i > 0; i--) {
        // defineProperty: an own "__proto__" key, as JSON.parse would make, not a prototype change
        Object.defineProperty(obj, f.pick([...STRINGS, 'k1', 'k2', 'k3']), { value: anyValue(f, depth - 1), enumerable: true, configurable: true, writable: true });
      }
      return obj;
    }
    case 17: return new Map<unknown, unknown>([[f.pick(STRINGS), anyValue(f, depth - 1)], [f.int(5), anyValue(f, depth - 1)]]);
    case 18: return new Set([anyValue(f, depth - 1), anyValue(f, depth - 1)]);
    case 19: {
      const cyclic: Record<string, unknown> = { n: 1 };
      cyclic.self = f.chance(0.5) ? cyclic : { back: cyclic };
      return cyclic;
    }
    case 20: return {
      get boom(): unknown {
        throw new Error('getter');
      },
    };
    default: return new (class Point {
      x = 1;
      y = [2];
    })();
  }
}

/**
 * A JSON-like value that msgpack carries exactly: strings of valid code points, safe
 * integers, finite floats, booleans, null, arrays and plain objects with ordinary keys.
 */
export function plainValue(f: Fuzz, depth = 3): unknown {
  switch (f.int(depth > 0 ? 8 : 6)) {
    case 0: return null;
    case 1: return f.chance(0.5);
    case 2: return f.int(2 ** 31) - 2 ** 30;
    case 3: return (f.next() - 0.5) * 1e6;
    case 4: return f.pick(['', 'text', 'ünïcödé', '日本語', '🎉🎉', 'x'.repeat(f.int(500))]);
    case 5: return Number.MAX_SAFE_INTEGER - f.int(1000);
    case 6: return Array.from({ length: f.int(5) }, () => plainValue(f, depth - 1));
    default: return Object.fromEntries(Array.from({ length: f.int(5) }, (_, i) => [`k${i}${f.pick(['', 'x', '.y', ' z'])}`, plainValue(f, depth - 1)]));
  }
}

/**
 * An options object for a function that takes `valid` options: each known key is left out
 * (40%), given one of the listed values, or (with probability `wild`) any value at all; now
 * and then an unknown key is added.
 */
export function anyOptions(f: Fuzz, valid: Record<string, readonly unknown[]>, wild = 0.2): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  for (const [key, values] of Object.entries(valid)) {
    const roll = f.next();
    if (roll < 0.4) continue;
    options[key] = roll < 1 - wild ? f.pick(values) : anyValue(f, 1);
  }
  if (f.chance(0.05)) {
    const key = f.pick(['atempts', 'delayMs', 'options', 'x', '__proto__']);
    Object.defineProperty(options, key, { value: 1, enumerable: true, configurable: true, writable: true });
  }
  return options;
}
