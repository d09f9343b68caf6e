// The demo's other processes (the server and the workers), forked from the built files next
// to this one, with their output shown in the driver's terminal.
import { type ChildProcess, fork } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ChildMessage } from './ipc-messages.js';
import { abort, isShuttingDown } from './run-state.js';
import { log } from './terminal.js';

export interface Child {
  name: string;
  process: ChildProcess;
  closed: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Forks one of the demo's processes with its output prefixed by its name, so three
 * processes' logs stay readable in one terminal. A child that exits before shutdown stops
 * the run.
 * @param file relative to this module, e.g. './server.js'
 */
export function start(file: string, name: string, env: NodeJS.ProcessEnv, onMessage: (message: unknown) => void): Child {
  const child = fork(fileURLToPath(new URL(file, import.meta.url)), [], { env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  for (const [stream, out] of [
    [child.stdout, process.stdout],
    [child.stderr, process.stderr],
  ] as const) {
    if (!stream) continue;
    createInterface({ input: stream }).on('line', (line) => {
      // Children tag their own lines ("[server] ..."); add the tag only where they did not.
      log(line.startsWith(`[${name}]`) ? line : `[${name}] ${line}`, out);
    });
  }
  child.on('message', onMessage);
  const closed: Child['closed'] = new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  void closed.then(({ code, signal }) => {
    if (!isShuttingDown()) abort(`${name} exited unexpectedly (${signal ?? `code ${code}`})`);
  });
  return { name, process: child, closed };
}

/**
 * Resolves with the first message of `type` from `child`; rejects if it exits first or
 * stays silent for `timeoutMs`.
 */
export function waitForMessage<T extends ChildMessage['type']>(child: Child, type: T, timeoutMs: number): Promise<Extract<ChildMessage, { type: T }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`${child.name} did not report "${type}" within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (message: ChildMessage | undefined): void => {
      if (message?.type === type) done(undefined, message as Extract<ChildMessage, { type: T }>);
    };
    const onExit = (): void => done(new Error(`${child.name} exited before it was ready (see its output above)`));
    const done = (err: Error | undefined, message?: Extract<ChildMessage, { type: T }>): void => {
      clearTimeout(timer);
      child.process.off('message', onMessage);
      child.process.off('exit', onExit);
      if (err || !message) reject(err);
      else resolve(message);
    };
    child.process.on('message', onMessage);
    child.process.once('exit', onExit);
  });
}

/** SIGTERM, then SIGKILL if the child is not gone after `graceMs`. */
export async function stop(child: Child, graceMs = 10_000): Promise<Awaited<Child['closed']>> {
  const p = child.process;
  if (p.exitCode === null && p.signalCode === null) {
    p.kill('SIGTERM');
    const killer = setTimeout(() => p.kill('SIGKILL'), graceMs);
    await child.closed;
    clearTimeout(killer);
  }
  return child.closed;
}
