import { fileURLToPath } from 'node:url';
import { DocketError, isDocketError } from '@docket/protocol';
import { rejection, waitUntil } from '@docket/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { SandboxPool, type SandboxOptions, type SandboxTry } from '../src/sandbox.js';

const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url);

const pools: SandboxPool[] = [];
function pool(options: Partial<SandboxOptions> & Pick<SandboxOptions, 'module'>): SandboxPool {
  const p = new SandboxPool({ size: 1, ...options });
  pools.push(p);
  return p;
}

afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

let seq = 0;
function makeTry(payload: unknown, extra: Partial<SandboxTry> = {}): SandboxTry & { progress: unknown[] } {
  const progress: unknown[] = [];
  seq++;
  return {
    job: { id: `job-${seq}`, queue: 'q', payload, attempt: 1, maxAttempts: 3, priority: 0, createdAt: 1_700_000_000_000, token: seq },
    timeout: 0,
    signal: new AbortController().signal,
    onProgress: (value) => progress.push(value),
    progress,
    ...extra,
  };
}

/** Samples threadCount until stopped; returns the highest value seen. */
function watchThreads(p: SandboxPool): () => number {
  let max = p.threadCount;
  const timer = setInterval(() => (max = Math.max(max, p.threadCount)), 1);
  return () => {
    clearInterval(timer);
    return Math.max(max, p.threadCount);
  };
}

/** Resolves when the try has reported `value` through onProgress. */
async function progressSeen(t: { progress: unknown[] }, value: unknown): Promise<void> {
  await waitUntil(() => t.progress.includes(value), { interval: 5, what: `progress ${JSON.stringify(value)}` });
}

describe('SandboxPool: results and errors', () => {
  it('runs a handler (default export) in a thread and resolves with its result', async () => {
    const p = pool({ module: fixture('returns.mjs'), size: 2 });
    await p.start();
    expect(p.threadCount).toBe(2);
    const t = makeTry({ n: 1, nested: { list: [1, 2], when: new Date(5) } });
    const result = (await p.run(t)) as { threadId: number; job: SandboxTry['job']; frozen: boolean; signalIsAbortSignal: boolean; hasProgress: boolean };
    expect(result.threadId).toBeGreaterThan(0);
    expect(result.job).toEqual(t.job);
    expect(result.frozen).toBe(true);
    expect(result.signalIsAbortSignal).toBe(true);
    expect(result.hasProgress).toBe(true);
  });

  it('accepts a named `handler` export and a module given as an absolute path', async () => {
    const p = pool({ module: fileURLToPath(fixture('named-handler.mjs')) });
    await p.start();
    const t = makeTry({ n: 21 });
    await expect(p.run(t)).resolves.toBe(`named:${t.job.id}:42`);
  });

  it('rejects with the thrown error: same name, message, stack and code', async () => {
    const p = pool({ module: fixture('throws.mjs') });
    await p.start();
    const err = (await rejection(p.run(makeTry({ n: 3 })))) as Error & { code?: string };
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('RangeError');
    expect(err.message).toBe('bad payload: n=3');
    expect(err.code).toBe('E_BAD_N');
    expect(err.stack).toContain('RangeError: bad payload: n=3');
    expect(err.stack).toContain('throws.mjs');
    // the pool keeps working after a failed try
    expect(((await rejection(p.run(makeTry({ n: 4 })))) as Error).message).toBe('bad payload: n=4');
  });

  it('turns non-Error thrown values into an Error describing the value', async () => {
    const p = pool({ module: fixture('throws.mjs') });
    await p.start();
    const a = (await rejection(p.run(makeTry({ kind: 'string' })))) as Error;
    expect(a).toBeInstanceOf(Error);
    expect(a.message).toContain('non-Error');
    expect(a.message).toContain('a plain string');
    const b = (await rejection(p.run(makeTry({ kind: 'object' })))) as Error;
    expect(b).toBeInstanceOf(Error);
    expect(b.message).toContain("reason: 'an object'");
  });

  it('rejects when a handler throws synchronously', async () => {
    const p = pool({ module: fixture('throws-sync.mjs') });
    await p.start();
    const err = (await rejection(p.run(makeTry({})))) as Error;
    expect(err.name).toBe('TypeError');
    expect(err.message).toBe('thrown synchronously');
  });

  it('rejects with a clear error when the result cannot be structured-cloned', async () => {
    const p = pool({ module: fixture('unclonable.mjs') });
    await p.start();
    const t = makeTry({});
    const err = await rejection(p.run(t));
    expect(isDocketError(err, 'NOT_ENCODABLE')).toBe(true);
    expect((err as DocketError).jobId).toBe(t.job.id);
    expect((err as Error).message).toMatch(/cannot be sent back from its sandbox thread/);
    // a payload that cannot be cloned is refused without harming the thread
    const bad = await rejection(p.run(makeTry({ fn: () => 1 })));
    expect(isDocketError(bad, 'NOT_ENCODABLE')).toBe(true);
    expect(p.threadCount).toBe(1);
  });

  it('delivers progress values through onProgress, in order', async () => {
    const p = pool({ module: fixture('progress.mjs') });
    await p.start();
    const t = makeTry({});
    await expect(p.run(t)).resolves.toBe('done');
    expect(t.progress).toEqual([10, { step: 2, of: 3, note: 'structured' }, [1, 2, 3]]);
  });
});

describe('SandboxPool: timeouts and aborts', () => {
  it('terminates a thread that never yields once its timeout passes, and replaces it', async () => {
    const p = pool({ module: fixture('spins.mjs'), size: 1 });
    await p.start();
    const stop = watchThreads(p);
    const before = (await p.run(makeTry({}))) as { threadId: number };

    const t = makeTry({ spin: true }, { timeout: 300 });
    const err = await rejection(p.run(t));
    expect(isDocketError(err, 'TIMEOUT')).toBe(true);
    expect((err as DocketError).jobId).toBe(t.job.id);
    expect((err as Error).message).toMatch(/timed out after 300 ms/);

    const after = (await p.run(makeTry({}))) as { threadId: number };
    expect(after.threadId).not.toBe(before.threadId);
    expect(stop()).toBeLessThanOrEqual(1);
    expect(p.threadCount).toBe(1);
  });

  it('never has more than `size` threads alive while several stuck threads are replaced', async () => {
    const p = pool({ module: fixture('spins.mjs'), size: 3 });
    await p.start();
    const stop = watchThreads(p);
    const first = (await Promise.all([p.run(makeTry({})), p.run(makeTry({})), p.run(makeTry({}))])) as { threadId: number }[];
    const errors = await Promise.all([1, 2, 3].map(() => rejection(p.run(makeTry({ spin: true }, { timeout: 300 })))));
    for (const err of errors) expect(isDocketError(err, 'TIMEOUT')).toBe(true);
    const second = (await Promise.all([p.run(makeTry({})), p.run(makeTry({})), p.run(makeTry({}))])) as { threadId: number }[];
    const oldIds = new Set(first.map((r) => r.threadId));
    expect(oldIds.size).toBe(3);
    for (const r of second) expect(oldIds.has(r.threadId)).toBe(false);
    expect(stop()).toBeLessThanOrEqual(3);
  });

  it('refuses more than `size` tries at once', async () => {
    const p = pool({ module: fixture('abortable.mjs'), size: 1 });
    await p.start();
    const controller = new AbortController();
    const first = p.run(makeTry({}, { signal: controller.signal }));
    const err = await rejection(p.run(makeTry({ quick: true })));
    expect(isDocketError(err, 'INVALID_ARGUMENT')).toBe(true);
    expect((err as Error).message).toMatch(/all 1 threads busy/);
    controller.abort(new DocketError('CLOSED', 'stop'));
    await rejection(first);
  });

  it('aborting the signal stops a signal-respecting handler, which settles with the reason; its thread is kept', async () => {
    const p = pool({ module: fixture('abortable.mjs'), abortGrace: 60_000 });
    await p.start();
    const { threadId } = (await p.run(makeTry({ quick: true }))) as { threadId: number };
    const controller = new AbortController();
    const t = makeTry({}, { signal: controller.signal });
    const running = p.run(t);
    await progressSeen(t, 'started');
    const reason = new DocketError('LEASE_LOST', 'Lost the lease of job "x"', { jobId: t.job.id, queue: 'q' });
    controller.abort(reason);
    const err = await rejection(running);
    expect(err).toBe(reason);
    // inside the thread the handler's own signal carried the same name, message and code
    expect(t.progress).toContainEqual({ seen: { name: 'DocketError', message: 'Lost the lease of job "x"', code: 'LEASE_LOST', isError: true } });
    // it stopped on its own: the same thread runs the next try
    await expect(p.run(makeTry({ quick: true }))).resolves.toEqual({ threadId });
  });

  it('a handler that resolves after its signal aborted settles with its result', async () => {
    const p = pool({ module: fixture('abortable.mjs'), abortGrace: 60_000 });
    await p.start();
    const controller = new AbortController();
    const t = makeTry({ resolveOnAbort: true }, { signal: controller.signal });
    const running = p.run(t);
    await progressSeen(t, 'started');
    controller.abort(new DocketError('CLOSED', 'closing'));
    await expect(running).resolves.toBe('stopped politely');
  });

  it('terminates a handler that ignores its aborted signal after abortGrace, rejecting with the reason', async () => {
    const abortGrace = 200;
    const p = pool({ module: fixture('busy.mjs'), abortGrace, size: 1 });
    await p.start();
    const stop = watchThreads(p);
    const controller = new AbortController();
    const t = makeTry({}, { signal: controller.signal });
    const running = p.run(t);
    await progressSeen(t, 'started');
    const reason = new DocketError('CLOSED', 'The consumer is closing');
    const abortedAt = Date.now();
    controller.abort(reason);
    const err = await rejection(running);
    expect(err).toBe(reason);
    expect(Date.now() - abortedAt).toBeGreaterThanOrEqual(abortGrace - 20); // not terminated before its grace
    // the replacement thread runs the next try
    const t2 = makeTry({});
    const next = rejection(p.run(t2));
    await progressSeen(t2, 'started');
    expect(p.threadCount).toBe(1);
    expect(stop()).toBeLessThanOrEqual(1);
    await p.close();
    expect(isDocketError(await next, 'CLOSED')).toBe(true);
  });

  it('rejects at once with the reason when the signal is already aborted', async () => {
    const p = pool({ module: fixture('returns.mjs') });
    await p.start();
    const reason = new DocketError('CLOSED', 'already');
    await expect(p.run(makeTry({}, { signal: AbortSignal.abort(reason) }))).rejects.toBe(reason);
    await expect(p.run(makeTry({}))).resolves.toMatchObject({ frozen: true });
  });
});

describe('SandboxPool: crashes', () => {
  it('an uncaught exception in the thread fails the try with a clear error and the thread is replaced', async () => {
    const p = pool({ module: fixture('crash.mjs') });
    await p.start();
    const before = (await p.run(makeTry({}))) as { threadId: number };
    const t = makeTry({ kind: 'uncaught' });
    const err = (await rejection(p.run(t))) as Error;
    expect(err.message).toMatch(/sandbox thread running job "job-\d+" try 1 crashed: Error: kaboom outside the promise/);
    const after = (await p.run(makeTry({}))) as { threadId: number };
    expect(after.threadId).not.toBe(before.threadId);
  });

  it('process.exit() in the thread fails the try and the thread is replaced', async () => {
    const p = pool({ module: fixture('crash.mjs'), size: 2 });
    await p.start();
    const stop = watchThreads(p);
    const err = (await rejection(p.run(makeTry({ kind: 'exit' })))) as Error;
    expect(err.message).toMatch(/exited with code 7/);
    await expect(p.run(makeTry({}))).resolves.toHaveProperty('threadId');
    await expect(p.run(makeTry({}))).resolves.toHaveProperty('threadId');
    expect(stop()).toBeLessThanOrEqual(2);
  });
});

describe('SandboxPool: start and close', () => {
  it('start() rejects with INVALID_ARGUMENT naming a module that does not exist', async () => {
    const missing = fileURLToPath(fixture('does-not-exist.mjs'));
    const p = pool({ module: missing, size: 2 });
    const err = await rejection(p.start());
    expect(isDocketError(err, 'INVALID_ARGUMENT')).toBe(true);
    expect((err as Error).message).toContain('does-not-exist.mjs');
    expect((err as Error).message).toMatch(/cannot be loaded/);
    expect(p.threadCount).toBe(0);
  });

  it('start() rejects with INVALID_ARGUMENT when the module exports no function', async () => {
    const p = pool({ module: fixture('no-function.mjs') });
    const err = await rejection(p.start());
    expect(isDocketError(err, 'INVALID_ARGUMENT')).toBe(true);
    expect((err as Error).message).toContain('no-function.mjs');
    expect((err as Error).message).toMatch(/`handler`/);
    expect(p.threadCount).toBe(0);
  });

  it('start() rejects with INVALID_ARGUMENT when the module throws while loading', async () => {
    const p = pool({ module: fixture('load-throws.mjs') });
    const err = await rejection(p.start());
    expect(isDocketError(err, 'INVALID_ARGUMENT')).toBe(true);
    expect((err as Error).message).toContain('load-throws.mjs');
    expect((err as Error).message).toContain('broken at import time');
  });

  it('the constructor checks its options', () => {
    expect(() => new SandboxPool({ module: 'relative/handler.mjs', size: 1 })).toThrow(/absolute path or a file: URL/);
    expect(() => new SandboxPool({ module: new URL('https://example.com/h.mjs'), size: 1 })).toThrow(/absolute path or a file: URL/);
    expect(() => new SandboxPool({ module: fixture('returns.mjs'), size: 0 })).toThrow(/`size`/);
    expect(() => new SandboxPool({ module: fixture('returns.mjs'), size: 1, abortGrace: -1 })).toThrow(/`abortGrace`/);
  });

  it('run() before start() is refused', async () => {
    const p = pool({ module: fixture('returns.mjs') });
    expect(isDocketError(await rejection(p.run(makeTry({}))), 'INVALID_ARGUMENT')).toBe(true);
  });

  it('close() terminates every thread, running or idle; a pending run rejects with CLOSED', async () => {
    const p = pool({ module: fixture('busy.mjs'), size: 3 });
    await p.start();
    const t = makeTry({});
    const running = rejection(p.run(t));
    await progressSeen(t, 'started');
    expect(p.threadCount).toBe(3);
    await p.close();
    expect(p.threadCount).toBe(0);
    const err = await running;
    expect(isDocketError(err, 'CLOSED')).toBe(true);
    expect((err as DocketError).jobId).toBe(t.job.id);
    expect(isDocketError(await rejection(p.run(makeTry({}))), 'CLOSED')).toBe(true);
    await p.close(); // idempotent
  });
});
