import { DocketError } from './errors.js';

/**
 * Argument checks shared by every public function. Each message names the option, what was
 * expected and what was got: "Expected `attempts` to be an integer >= 1, got `0`".
 */

/**
 * The longest delay a Node.js timer can wait (about 24.8 days): a longer one fires at once. Options
 * that become timers (`timeout`, `leaseDuration`, ...) are capped at it.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return value.toString();
  if (value === null || typeof value !== 'object') return String(value);
  try {
    if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
    if (Array.isArray(value)) return value.length === 0 ? 'an empty array' : 'an array';
    const tag = tagOf(value);
    return tag === 'Object' ? 'an object' : `${/^[AEIO]/.test(tag) ? 'an' : 'a'} ${tag}`;
  } catch {
    return 'an unreadable object (a revoked Proxy?)'; // a message must never fail to be built
  }
}

/**
 * Describes anything that was thrown, for an error message: an Error as `Name: message`,
 * anything else as `non-Error thrown: <value>`. Never throws itself, whatever the value (a
 * revoked Proxy, an object whose getters throw).
 */
export function describeThrown(thrown: unknown): string {
  try {
    if (thrown instanceof Error) return `${String(thrown.name)}: ${String(thrown.message)}`;
    if (typeof thrown === 'object' && thrown !== null && !Array.isArray(thrown)) {
      let json: string | undefined;
      try {
        json = JSON.stringify(thrown);
      } catch {
        json = undefined; // a cycle, a bigint: fall back to the short description
      }
      if (json !== undefined) return `non-Error thrown: ${json.length > 200 ? `${json.slice(0, 197)}...` : json}`;
    }
    return `non-Error thrown: ${describe(thrown)}`;
  } catch {
    return 'a thrown value that cannot be read (a revoked Proxy, a getter that throws)';
  }
}

/** 'Object' for plain objects and class instances; 'Map', 'Promise', 'Date'... for built-ins. */
function tagOf(value: object): string {
  try {
    return Object.prototype.toString.call(value).slice(8, -1);
  } catch {
    return 'Unreadable';
  }
}

/** Array.isArray, but true (so the value is refused) instead of a TypeError for a revoked Proxy. */
function isArray(value: unknown): boolean {
  try {
    return Array.isArray(value);
  } catch {
    return true; // not a usable object either way
  }
}

/**
 * Runs the validation of `option`; an exception from reading it (a getter that throws, a
 * revoked Proxy somewhere inside) becomes an INVALID_ARGUMENT DocketError naming the option.
 */
export function validating<T>(option: string, validate: () => T): T {
  try {
    return validate();
  } catch (err) {
    if (err instanceof DocketError) throw err;
    throw new DocketError('INVALID_ARGUMENT', `\`${option}\` cannot be read: ${describeThrown(err)}`, { cause: err });
  }
}

export function invalid(name: string, expected: string, value: unknown): DocketError {
  return new DocketError('INVALID_ARGUMENT', `Expected \`${name}\` to be ${expected}, got \`${describe(value)}\``);
}

/** An integer within [min, max]. */
export function checkInteger(name: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
    throw invalid(name, `an integer ${range}`, value);
  }
  return value;
}

export function optionalInteger(name: string, value: unknown, min: number, max?: number): number | undefined {
  return value === undefined ? undefined : checkInteger(name, value, min, max);
}

export function checkBoolean(name: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw invalid(name, 'a boolean', value);
  return value;
}

/**
 * An object of options: not an array, and not a Map, Set, Date, Promise or other built-in whose
 * entries are not its own properties (a Map of options would silently mean "no options").
 */
export function checkPlainObject(name: string, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || isArray(value) || tagOf(value) !== 'Object') throw invalid(name, 'an object', value);
  return value as Record<string, unknown>;
}

/** Rejects keys the caller did not expect, so a typo (`atempts`) is an error, not a silent default. */
export function checkKnownKeys(name: string, value: Record<string, unknown>, known: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      // options.atempts; an empty, odd or very long key is shown quoted: options["", options["my key"]
      const path = /^[A-Za-z_$][\w$]{0,60}$/.test(key) ? `${name}.${key}` : `${name}[${describe(key)}]`;
      throw new DocketError('INVALID_ARGUMENT', `Unknown option \`${path}\`; expected one of ${known.map((k) => `\`${k}\``).join(', ')}`);
    }
  }
}

export function checkOneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw invalid(name, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, value);
  }
  return value as T;
}
