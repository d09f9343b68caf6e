import { Worker } from 'node:worker_threads';
import { type DocketErrorCode, DocketError } from '@docket/protocol';
import { MAX_TIMER_MS, checkInteger, describe } from '@docket/protocol/internal';
import { type SerializedError, restoreFields, serializeError } from './sandbox-errors.mjs';
import { defaultThreadFile, toFileUrl } from './sandbox-files.js';

export interface SandboxOptions {
  /** Module file whose default export (or named export `handler`) is `async (job, context) => result`. Absolute path or file: URL (string or URL). */
  module: string | URL;
  /** Threads in the pool = the consumer's concurrency. */
  size: number;
  /** ms a thread gets to stop after its signal aborted (cancel/close) before it is terminated. @default 1000 */
  abortGrace?: number;
  /**
   * @internal The thread entry file (absolute path or file: URL). By default `sandbox-thread.js`
   * (built package) or `sandbox-thread.mjs` (sources) next to this module. Only needed when this
   * module is re-bundled into an application where that file is not beside it.
   */
  threadFile?: string | URL;
}

export interface SandboxTry {
  job: { id: string; queue: string; payload: unknown; attempt: number; maxAttempts: number; priority: number; createdAt: number; token: number };
  /** 0 = no limit. When it passes, the thread is terminated (and replaced) and run() rejects with DocketError code 'TIMEOUT'. */
  timeout: number;
  /** Aborting it (reason: any DocketError) asks the thread's handler to stop via its own AbortSignal (same reason message/code); if the handler has not settled after abortGrace ms the thread is terminated and run() rejects with the reason. */
  signal: AbortSignal;
  onProgress(value: unknown): void;
}

type ThreadMessage =
  | { type: 'ready' }
  | { type: 'load-error'; message: string }
  | { type: 'progress'; id: number; value: unknown }
  | { type: 'done'; id: number; ok: true; value: unknown }
  | { type: 'done'; id: number; ok: false; error: SerializedError | null };

interface Slot {
  /** A try holds this slot: from run() until that run settles. */
  busy: boolean;
  /** The slot's thread (loading, ready, or being terminated); undefined once it has exited. */
  thread: Thread | undefined;
}

interface Thread {
  slot: Slot;
  worker: Worker;
  /** Resolves once the handler module is loaded; rejects if it cannot be (never unhandled). */
  ready: Promise<void>;
  isReady: boolean;
  markReady(): void;
  failReady(error: Error): void;
  /** Resolves on the worker's 'exit' event. */
  exited: Promise<void>;
  alive: boolean;
  /** The uncaught exception that is ending the thread, if any. */
  crash: unknown;
  /** The try assigned to this thread and not yet decided. */
  run: Running | undefined;
}

interface Running {
  id: number;
  t: SandboxTry;
  slot: Slot;
  thread: Thread | undefined;
  /** The run message was posted to the thread. */
  dispatched: boolean;
  /** The outcome is decided; every later event about this try is ignored. */
  decided: boolean;
  timer: NodeJS.Timeout | undefined;
  grace: NodeJS.Timeout | undefined;
  onAbort: () => void;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/** An abort reason (a DocketError, or whatever a signal was aborted with) for the thread. */
const serializeReason = (value: unknown): SerializedError => serializeError(value, (v) => (typeof v === 'string' ? v : describe(v)));

/** An error thrown in a thread, rebuilt with the same name, message, stack (and code); a DocketError stays one. */
function reviveError(s: SerializedError): Error {
  const cause = s.cause === undefined ? undefined : reviveError(s.cause);
  if (s.name === 'DocketError' && typeof s.code === 'string') {
    const err = new DocketError(s.code as DocketErrorCode, s.message, { cause, jobId: s.jobId, queue: s.queue });
    err.stack = s.stack ?? `${s.name}: ${s.message}`;
    return err;
  }
  return restoreFields(new Error(s.message, cause === undefined ? undefined : { cause }), s);
}

/**
 * A pool of worker threads that run tries of a handler module in isolation. A try that passes
 * its timeout, or ignores its aborted signal for longer than `abortGrace`, is stopped for real:
 * its thread is terminated and replaced. At most `size` threads are alive at any time.
 *
 * @example
 * const pool = new SandboxPool({ module: new URL('./handler.js', import.meta.url), size: 4 });
 * await pool.start();
 * const result = await pool.run({ job, timeout: 30_000, signal, onProgress: (v) => ... });
 * await pool.close();
 */
export class SandboxPool {
  readonly #module: string;
  readonly #threadFile: URL;
  readonly #size: number;
  readonly #abortGrace: number;
  readonly #slots: Slot[];
  readonly #threads = new Set<Thread>();
  readonly #runs = new Set<Running>();
  #state: 'new' | 'starting' | 'running' | 'closed' = 'new';
  #nextId = 1;
  #closing: Promise<void> | undefined;

  constructor(options: SandboxOptions) {
    if (options === null || typeof options !== 'object') {
      throw new DocketError('INVALID_ARGUMENT', `Expected \`options\` to be an object, got \`${describe(options)}\``);
    }
    this.#module = toFileUrl('module', options.module).href;
    this.#size = checkInteger('size', options.size, 1, 10_000);
    this.#abortGrace = options.abortGrace === undefined ? 1_000 : checkInteger('abortGrace', options.abortGrace, 0, MAX_TIMER_MS);
    this.#threadFile = options.threadFile === undefined ? defaultThreadFile() : toFileUrl('threadFile', options.threadFile);
    this.#slots = Array.from({ length: this.#size }, () => ({ busy: false, thread: undefined }));
  }

  /** Threads alive right now (loading, running, idle, or being terminated); never more than `size`. */
  get threadCount(): number {
    return this.#threads.size;
  }

  /** Starts the threads and checks the module loads and exports a function; rejects with DocketError 'INVALID_ARGUMENT' naming the module otherwise. */
  async start(): Promise<void> {
    if (this.#state !== 'new') throw new DocketError('INVALID_ARGUMENT', `SandboxPool.start() was already called (the pool is ${this.#state})`);
    this.#state = 'starting';
    const threads = this.#slots.map((slot) => (slot.thread = this.#spawn(slot)));
    const results = await Promise.allSettled(threads.map((th) => th.ready));
    if (this.#state !== 'starting') throw new DocketError('CLOSED', 'The sandbox pool was closed while starting');
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure !== undefined) {
      await this.close();
      throw failure.reason;
    }
    this.#state = 'running';
  }

  /** Runs one try on a free thread (callers never run more than `size` at once; throw if they do). Resolves with the handler's result, rejects with its error (an Error with the same name/message/stack as thrown in the thread; non-Error thrown values become an Error describing the value). The slot (thread) is free again only when this settles: after a terminate, only once the replacement thread is ready or the old one has fully exited (never earlier). */
  async run(t: SandboxTry): Promise<unknown> {
    if (this.#state !== 'running') {
      if (this.#state === 'closed') throw new DocketError('CLOSED', 'The sandbox pool is closed', { jobId: t?.job?.id, queue: t?.job?.queue });
      throw new DocketError('INVALID_ARGUMENT', 'SandboxPool.run() was called before start() resolved');
    }
    const slot = this.#slots.find((s) => !s.busy);
    if (slot === undefined) {
      throw new DocketError('INVALID_ARGUMENT', `SandboxPool.run() was called with all ${this.#size} threads busy (at most \`size\` tries may run at once)`, {
        jobId: t.job.id,
        queue: t.job.queue,
      });
    }
    const timeout = checkInteger('timeout', t.timeout, 0);
    if (t.signal.aborted) throw t.signal.reason;
    slot.busy = true;
    return new Promise<unknown>((resolve, reject) => {
      const run: Running = {
        id: this.#nextId++,
        t,
        slot,
        thread: undefined,
        dispatched: false,
        decided: false,
        timer: undefined,
        grace: undefined,
        onAbort: () => this.#onAbort(run),
        resolve,
        reject,
      };
      this.#runs.add(run);
      if (timeout > 0) {
        run.timer = setTimeout(() => {
          const { job } = t;
          const error = new DocketError(
            'TIMEOUT',
            `Job "${job.id}" try ${job.attempt} timed out after ${timeout} ms; its sandbox thread was terminated`,
            { jobId: job.id, queue: job.queue },
          );
          void this.#kill(run, error);
        }, Math.min(timeout, MAX_TIMER_MS));
      }
      t.signal.addEventListener('abort', run.onAbort, { once: true });
      this.#dispatch(run);
    });
  }

  /** Terminates all threads. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#state = 'closed';
    const waits: Promise<void>[] = [];
    for (const run of this.#runs) {
      if (run.decided) continue;
      waits.push(this.#kill(run, new DocketError('CLOSED', `The sandbox pool was closed while job "${run.t.job.id}" was running; its thread was terminated`, { jobId: run.t.job.id, queue: run.t.job.queue })));
    }
    for (const th of this.#threads) {
      th.worker.ref();
      void th.worker.terminate().catch(() => {});
      waits.push(th.exited);
    }
    await Promise.all(waits);
  }

  // ---------------------------------------------------------------- threads

  #spawn(slot: Slot): Thread {
    const worker = new Worker(this.#threadFile, { workerData: { module: this.#module } });
    let markReady!: () => void;
    let failReady!: (error: Error) => void;
    const ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      failReady = reject;
    });
    ready.catch(() => {}); // whoever needs the thread observes the failure
    let exitedResolve!: () => void;
    const exited = new Promise<void>((resolve) => (exitedResolve = resolve));
    const th: Thread = { slot, worker, ready, isReady: false, markReady, failReady, exited, alive: true, crash: undefined, run: undefined };
    this.#threads.add(th);
    worker.on('message', (msg: ThreadMessage) => this.#onMessage(th, msg));
    worker.on('messageerror', (err: Error) => {
      const run = th.run;
      if (run && !run.decided) {
        this.#decide(run);
        this.#settle(run, false, new Error(`A message from the sandbox thread running job "${run.t.job.id}" could not be deserialized: ${err.message}`, { cause: err }));
      }
    });
    worker.on('error', (err: unknown) => {
      th.crash ??= err;
    });
    worker.on('exit', (code: number) => {
      th.alive = false;
      this.#threads.delete(th);
      if (slot.thread === th) slot.thread = undefined;
      exitedResolve();
      this.#onExit(th, code);
    });
    return th;
  }

  #onMessage(th: Thread, msg: ThreadMessage): void {
    switch (msg.type) {
      case 'ready':
        th.isReady = true;
        th.markReady();
        if (th.run === undefined) th.worker.unref();
        return;
      case 'load-error':
        th.failReady(new DocketError('INVALID_ARGUMENT', `The sandbox handler module ${this.#module} ${msg.message}`));
        return;
      case 'progress': {
        const run = th.run;
        if (run === undefined || run.id !== msg.id || run.decided) return;
        try {
          run.t.onProgress(msg.value);
        } catch {
          // A throwing progress listener must not break the pool.
        }
        return;
      }
      case 'done': {
        const run = th.run;
        if (run === undefined || run.id !== msg.id || run.decided) return;
        this.#decide(run);
        if (msg.ok) this.#settle(run, true, msg.value);
        else this.#settle(run, false, msg.error === null ? run.t.signal.reason : reviveError(msg.error));
        return;
      }
    }
  }

  #onExit(th: Thread, code: number): void {
    if (!th.isReady) {
      const why = th.crash === undefined ? `its thread exited with code ${code} while loading it` : `threw while loading: ${this.#describeCrash(th.crash)}`;
      th.failReady(new DocketError('INVALID_ARGUMENT', `The sandbox handler module ${this.#module} cannot be loaded: ${why}`, { cause: th.crash }));
      return; // a try waiting for this thread is failed by its ready handler
    }
    const run = th.run;
    if (run === undefined || run.decided) return;
    this.#decide(run);
    const { job } = run.t;
    const error =
      th.crash === undefined
        ? new Error(`The sandbox thread running job "${job.id}" try ${job.attempt} exited with code ${code} (process.exit() in the handler?)`)
        : new Error(`The sandbox thread running job "${job.id}" try ${job.attempt} crashed: ${this.#describeCrash(th.crash)}`, { cause: th.crash });
    // The old thread has fully exited: replace it, then free the slot.
    if (this.#state === 'running' && run.slot.thread === undefined) run.slot.thread = this.#spawn(run.slot);
    this.#settle(run, false, error);
  }

  #describeCrash(crash: unknown): string {
    return crash instanceof Error ? `${crash.name}: ${crash.message}` : `uncaught ${describe(crash)}`;
  }

  // ---------------------------------------------------------------- tries

  #dispatch(run: Running): void {
    const { slot } = run;
    let th = slot.thread;
    if (th === undefined || !th.alive) th = slot.thread = this.#spawn(slot);
    run.thread = th;
    th.run = run;
    th.worker.ref();
    const thread = th;
    thread.ready.then(
      () => {
        if (run.decided) return;
        const { id, queue, payload, attempt, maxAttempts, priority, createdAt, token } = run.t.job;
        try {
          thread.worker.postMessage({ type: 'run', id: run.id, job: { id, queue, payload, attempt, maxAttempts, priority, createdAt, token } });
          run.dispatched = true;
        } catch (err) {
          this.#decide(run);
          this.#settle(run, false, new DocketError('NOT_ENCODABLE', `The payload of job "${id}" cannot be sent to a sandbox thread (structured clone failed: ${(err as Error).message})`, { cause: err, jobId: id, queue }));
        }
      },
      async (err: unknown) => {
        if (run.decided) return;
        this.#decide(run);
        await thread.exited; // the thread ends by itself after a load failure
        this.#settle(run, false, err);
      },
    );
  }

  #onAbort(run: Running): void {
    if (run.decided) return;
    const reason: unknown = run.t.signal.reason;
    if (!run.dispatched) {
      // The handler has not started: nothing to stop. The slot's thread keeps loading for the next try.
      this.#decide(run);
      this.#settle(run, false, reason);
      return;
    }
    const th = run.thread as Thread;
    try {
      th.worker.postMessage({ type: 'abort', id: run.id, reason: serializeReason(reason) });
    } catch {
      // the thread is exiting; its exit decides the try
    }
    run.grace = setTimeout(() => void this.#kill(run, reason), this.#abortGrace);
  }

  /** Terminates the try's thread; rejects the try with `error` once it has exited, after starting its replacement. */
  async #kill(run: Running, error: unknown): Promise<void> {
    if (run.decided) return;
    this.#decide(run);
    const th = run.thread;
    if (th !== undefined) {
      th.worker.ref();
      void th.worker.terminate().catch(() => {});
      await th.exited;
    }
    if (this.#state === 'running' && run.slot.thread === undefined) run.slot.thread = this.#spawn(run.slot);
    this.#settle(run, false, error);
  }

  /** The try's outcome is fixed: stop its timers and listeners and detach it from its thread. */
  #decide(run: Running): void {
    run.decided = true;
    clearTimeout(run.timer);
    clearTimeout(run.grace);
    run.t.signal.removeEventListener('abort', run.onAbort);
    if (run.thread?.run === run) run.thread.run = undefined;
  }

  /** Frees the try's slot and settles its run() promise. */
  #settle(run: Running, ok: boolean, value: unknown): void {
    this.#runs.delete(run);
    run.slot.busy = false;
    const th = run.slot.thread;
    if (th !== undefined && th.alive && th.isReady && th.run === undefined) th.worker.unref();
    if (ok) run.resolve(value);
    else run.reject(value);
  }
}
