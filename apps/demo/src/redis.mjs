// @ts-check
// Which Redis the demo runs against, and how to leave it as it was found.
//
// Order of preference: REDIS_URL if set; else a Redis already answering on 127.0.0.1:6379
// (the common dev setup); else a private redis-server started here on a free port in a temp
// dir. The demo writes only keys under a per-run prefix, so on a shared Redis it can delete
// exactly what it wrote and nothing else.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

/** A problem the user has to fix (no Redis to use); main prints it without a stack trace. */
export class SetupError extends Error {}

/**
 * @typedef {object} ChosenRedis
 * @property {string} url what producers and consumers connect to
 * @property {string} description for the banner, e.g. "private redis-server 7.2.4 on port 41234"
 * @property {boolean} shared true if other data may live there (so the demo must clean up its keys)
 * @property {() => Promise<void>} stop stops a private server and removes its dir; no-op otherwise
 */

/** A key prefix no other run (and no other application) uses. */
export function uniquePrefix() {
  return `demo-${randomBytes(4).toString('hex')}`;
}

/**
 * Sends an inline PING over a raw socket. Raw on purpose: a client library would retry and
 * log connection errors, while here "nothing listens" is an expected answer.
 * @param {number} port
 * @param {number} timeoutMs
 * @returns {Promise<boolean>} true if a Redis answered +PONG in time
 */
export function probe(port, timeoutMs) {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    /** @param {boolean} ok */
    const done = (ok) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk;
      // Anything else (-NOAUTH, a non-Redis service) means we cannot use this port.
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
    socket.on('error', () => done(false));
    socket.on('close', () => done(false));
  });
}

/** @returns {Promise<number>} a loopback port that was free a moment ago */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (address && typeof address === 'object' ? resolve(address.port) : reject(new Error('no port assigned'))));
    });
  });
}

/** @param {number} port @param {string} binary */
const installHint = (port, binary) =>
  [
    'The demo needs a Redis server, and found none:',
    '  - REDIS_URL is not set,',
    `  - nothing answers PING on 127.0.0.1:${port},`,
    binary === 'redis-server' ? '  - and there is no `redis-server` on PATH to start a private one.' : `  - and ${binary} (DEMO_REDIS_SERVER) does not exist.`,
    'Either install Redis (Debian/Ubuntu: `sudo apt-get install -y redis-server`, macOS: `brew install redis`)',
    'or point the demo at one: `REDIS_URL=redis://host:6379 pnpm demo`.',
  ].join('\n');

/**
 * Starts `redis-server` on a free port in a fresh temp dir and waits until it answers PING.
 * Retries on a new port if another process grabbed the chosen one in the meantime.
 * @param {string} binary
 * @param {number} probedPort only for the message if there is no binary
 * @returns {Promise<ChosenRedis>}
 */
async function startPrivateServer(binary, probedPort) {
  const dir = await mkdtemp(join(tmpdir(), 'docket-demo-redis-'));
  let lastFailure = '';
  for (let tries = 0; tries < 3; tries++) {
    const port = await freePort();
    // No persistence: the data is thrown away with the dir at the end anyway.
    const child = spawn(
      binary,
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning'],
      // Its own process group: Ctrl+C in the terminal must not kill Redis under the workers
      // while they hand their jobs back; stop() ends it after them.
      { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
    );
    // Keep the tail of its output: if it fails to start, that is the explanation.
    let output = '';
    /** @param {Buffer} chunk */
    const keep = (chunk) => (output = (output + chunk.toString()).slice(-2_000));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    /** @type {Promise<{ code: number | null, error?: NodeJS.ErrnoException }>} */
    const exited = new Promise((resolve) => {
      child.once('error', (error) => resolve({ code: null, error }));
      child.once('exit', (code) => resolve({ code }));
    });

    const deadline = Date.now() + 5_000;
    /** @type {{ code: number | null, error?: NodeJS.ErrnoException } | undefined} */
    let exit;
    exited.then((e) => (exit = e));
    while (!exit && Date.now() < deadline) {
      if (await probe(port, 200)) {
        return {
          url: `redis://127.0.0.1:${port}`,
          description: `private redis-server on 127.0.0.1:${port} (temp dir ${dir})`,
          shared: false,
          stop: async () => {
            if (child.exitCode === null && child.signalCode === null) {
              child.kill('SIGTERM');
              const killer = setTimeout(() => child.kill('SIGKILL'), 3_000);
              await exited;
              clearTimeout(killer);
            }
            await rm(dir, { recursive: true, force: true });
          },
        };
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    if (exit?.error?.code === 'ENOENT') {
      await rm(dir, { recursive: true, force: true });
      throw new SetupError(installHint(probedPort, binary));
    }
    if (!exit) {
      child.kill('SIGKILL');
      await exited;
      lastFailure = `it did not answer PING within 5 s\n${output.trim()}`;
    } else {
      lastFailure = exit.error ? exit.error.message : `it exited with code ${exit.code}\n${output.trim()}`;
    }
  }
  await rm(dir, { recursive: true, force: true });
  throw new SetupError(`Could not start a private redis-server: ${lastFailure}`);
}

/**
 * Checks that REDIS_URL answers, so a typo fails here with one clear line instead of as
 * connection errors from three processes.
 * @param {string} url
 */
async function checkUrl(url) {
  const client = new Redis(url, { lazyConnect: true, connectTimeout: 3_000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  // The 'error' event has the cause (ECONNREFUSED, ENOTFOUND, ...); the rejected command
  // often only says "Connection is closed".
  /** @type {Error | undefined} */
  let cause;
  client.on('error', (err) => (cause ??= err));
  try {
    await client.connect();
    await client.ping();
  } catch (err) {
    const reason = (cause ?? err) instanceof Error ? /** @type {Error} */ (cause ?? err).message : String(err);
    throw new SetupError(`REDIS_URL=${redactUrl(url)} does not answer PING: ${reason}`);
  } finally {
    client.disconnect();
  }
}

/**
 * Picks the Redis to use (see the top of this file).
 *
 * Test hooks: DEMO_PROBE_PORT (default 6379) is the port probed for a local Redis (point it
 * at a closed port to exercise the private-server path), DEMO_REDIS_SERVER the binary to
 * start (default `redis-server` from PATH).
 * @param {NodeJS.ProcessEnv} env
 * @returns {Promise<ChosenRedis>}
 */
export async function chooseRedis(env = process.env) {
  const noop = async () => {};
  if (env.REDIS_URL) {
    await checkUrl(env.REDIS_URL);
    return { url: env.REDIS_URL, description: `REDIS_URL (${redactUrl(env.REDIS_URL)})`, shared: true, stop: noop };
  }
  const port = Number(env.DEMO_PROBE_PORT ?? 6379);
  if (Number.isInteger(port) && port > 0 && port < 65_536) {
    // About a second in total: a local Redis answers within milliseconds, but one right
    // after boot may need a moment.
    for (let i = 0; i < 4; i++) {
      if (await probe(port, 250)) {
        return { url: `redis://127.0.0.1:${port}`, description: `the Redis already running on 127.0.0.1:${port}`, shared: true, stop: noop };
      }
    }
  }
  return startPrivateServer(env.DEMO_REDIS_SERVER || 'redis-server', port);
}

/** @param {string} url */
function redactUrl(url) {
  // Never echo a password to the terminal (or to CI logs).
  return url.replace(/\/\/([^@/]*)@/, '//***@');
}

/**
 * Deletes every key under `prefix`, for runs on a shared Redis. SCAN (not KEYS) so a big
 * Redis is never blocked; UNLINK so large hashes are freed in the background.
 * @param {string} url
 * @param {string} prefix
 * @returns {Promise<number>} how many keys were deleted
 */
export async function deleteKeys(url, prefix) {
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  client.on('error', () => {});
  let deleted = 0;
  try {
    let cursor = '0';
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1_000);
      cursor = next;
      if (keys.length > 0) deleted += await client.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    client.disconnect();
  }
  return deleted;
}
