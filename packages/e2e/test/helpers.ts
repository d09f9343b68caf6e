import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { sourceNodeArgs } from '@docket/testing';

export interface ChildMessage {
  type: 'ready' | 'start' | 'completed' | 'error' | 'warn' | 'closed' | 'aborted' | 'failed' | 'dead' | 'cancelled';
  id?: string;
  attempt?: number;
  token?: number;
  pid?: number;
  code?: string;
  message?: string;
  jobId?: string;
}

export interface ConsumerChild {
  process: ChildProcess;
  messages: ChildMessage[];
  /** Resolves with the first message matching `predicate` (already received ones count). */
  next(predicate: (m: ChildMessage) => boolean, timeout?: number): Promise<ChildMessage>;
  /** SIGKILLs the process and waits for it to exit. */
  kill(): Promise<void>;
}

const fixture = fileURLToPath(new URL('../fixtures/consumer.mjs', import.meta.url));

export interface ConsumerChildConfig {
  url: string;
  prefix: string;
  queue: string;
  concurrency?: number;
  leaseDuration?: number;
  pollInterval?: number;
  handler?: { sleepMs?: number; busyMs?: number; waitForAbort?: boolean; failOnPayload?: boolean };
}

/**
 * Forks fixtures/consumer.mjs (which runs @docket/consumer from its sources) and waits until it is
 * started. `env` is added to this process's environment (e.g. NODE_EXTRA_CA_CERTS).
 */
export async function forkConsumer(config: ConsumerChildConfig, { env }: { env?: Record<string, string> } = {}): Promise<ConsumerChild> {
  const child = fork(fixture, [JSON.stringify(config)], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: sourceNodeArgs(),
    ...(env ? { env: { ...process.env, ...env } } : {}),
  });
  const messages: ChildMessage[] = [];
  const waiters = new Set<() => void>();
  child.on('message', (m: ChildMessage) => {
    messages.push(m);
    for (const w of waiters) w();
  });
  const handle: ConsumerChild = {
    process: child,
    messages,
    next(predicate, timeout = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = messages.find(predicate);
          if (found) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(found);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`consumer child: no matching message within ${timeout} ms; got ${JSON.stringify(messages.slice(-5))}`));
        }, timeout);
        waiters.add(check);
        check();
      });
    },
    async kill() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    },
  };
  await handle.next((m) => m.type === 'ready');
  return handle;
}
