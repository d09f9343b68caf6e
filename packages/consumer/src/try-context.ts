// A try's handler context (`signal`, `progress`) and its abort signal, made on first use.
import type { HandlerContext } from './job.js';
import type { Lease } from './types.js';

/** Fires the try's signal (the first reason wins), or remembers it for a signal not created yet. */
export function abortTry(lease: Lease, reason: unknown): void {
  if (lease.abortReason !== undefined) return;
  lease.abortReason = reason;
  lease.controller?.abort(reason);
}

/** The try's AbortSignal, created on first use (already aborted if the try was stopped). */
export function signalOf(lease: Lease): AbortSignal {
  if (!lease.controller) {
    lease.controller = new AbortController();
    if (lease.abortReason !== undefined) lease.controller.abort(lease.abortReason);
  }
  return lease.controller.signal;
}

/**
 * A try's handler context. `signal` and the `progress` function are made on first read: most
 * handlers use neither, and a consumer at full speed starts tens of thousands of tries a second.
 */
export class TryContext implements HandlerContext {
  declare readonly signal: AbortSignal;
  declare readonly progress: (value: unknown) => void;
  readonly #lease: Lease;
  readonly #report: (lease: Lease, value: unknown) => void;
  #progress: ((value: unknown) => void) | undefined;

  constructor(lease: Lease, report: (lease: Lease, value: unknown) => void) {
    this.#lease = lease;
    this.#report = report;
    // Own, enumerable accessors (a wrapper may pass on `{ ...context, more }`), from shared
    // descriptors: no closure per try.
    Object.defineProperties(this, TryContext.#props);
  }

  static readonly #props: PropertyDescriptorMap = {
    signal: {
      enumerable: true,
      get(this: TryContext): AbortSignal {
        return signalOf(this.#lease);
      },
    },
    progress: {
      enumerable: true,
      get(this: TryContext): (value: unknown) => void {
        const lease = this.#lease;
        const report = this.#report;
        return (this.#progress ??= (value: unknown) => report(lease, value));
      },
    },
  };
}
