// The parent's side of child.ts: a forked consumer process and its messages, for the
// scenarios that run a consumer (process, latency, idle).
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ChildConfig, ChildMessage } from './child.js';
import { Failure } from './scenario.js';

const CHILD = fileURLToPath(new URL('./child.js', import.meta.url));
/** Consumer processes still running (killed if the benchmark is interrupted). */
const LIVE = new Set<ChildProcess>();

/** Kills every consumer process still running (on SIGINT/SIGTERM). */
export function killConsumerProcesses(): void {
  for (const proc of LIVE) proc.kill('SIGKILL');
}

/** A forked consumer process and its messages. */
export class ConsumerProcess {
  readonly proc: ChildProcess;
  readonly #waiters = new Set<(m: ChildMessage) => void>();
  #exit: Promise<number | null>;
  #error: string | undefined;

  constructor(config: ChildConfig, onMessage?: (m: ChildMessage) => void) {
    this.proc = fork(CHILD, [JSON.stringify(config)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.proc.on('message', (m: ChildMessage) => {
      if (m.type === 'error') this.#error = m.message;
      onMessage?.(m);
      for (const w of this.#waiters) w(m);
    });
    LIVE.add(this.proc);
    this.#exit = new Promise((resolve) =>
      this.proc.once('exit', (code) => {
        LIVE.delete(this.proc);
        resolve(code);
      }),
    );
  }

  /** Resolves with the first message of `type`; rejects on a child error, exit or timeout. */
  waitFor<T extends ChildMessage['type']>(type: T, timeoutMs: number, what: string): Promise<Extract<ChildMessage, { type: T }>> {
    return new Promise((resolve, reject) => {
      const done = (fn: () => void) => {
        clearTimeout(timer);
        this.#waiters.delete(waiter);
        fn();
      };
      const waiter = (m: ChildMessage) => {
        if (m.type === type) done(() => resolve(m as Extract<ChildMessage, { type: T }>));
        else if (m.type === 'error') done(() => reject(new Failure(`consumer process: ${m.message}`)));
      };
      const timer = setTimeout(() => done(() => reject(new Failure(`timed out after ${timeoutMs / 1000} s waiting for ${what}`))), timeoutMs);
      this.#waiters.add(waiter);
      void this.#exit.then((code) =>
        done(() => reject(new Failure(this.#error ? `consumer process: ${this.#error}` : `consumer process exited (${code}) before ${what}`))),
      );
    });
  }

  /** Asks the child to close its consumer and exit; kills it if it takes too long. */
  async stop(timeoutMs = 15_000): Promise<void> {
    if (this.proc.exitCode === null && this.proc.connected) this.proc.send({ type: 'stop' });
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), timeoutMs);
    await this.#exit;
    clearTimeout(timer);
  }

  /** The error the child reported, if any. */
  get error(): string | undefined {
    return this.#error;
  }

  kill(): void {
    if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
  }
}
