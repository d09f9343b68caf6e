import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export interface RedisServerOptions {
  /** Append-only file on, fsync every second (the setting docket recommends). @default true */
  appendonly?: boolean;
  /** Extra `redis-server` arguments, e.g. `['--maxmemory-policy', 'allkeys-lru']`. */
  args?: string[];
}

/**
 * A private redis-server on a free loopback port, in its own temp dir. It can be killed and
 * restarted on the same port and dir (so on its AOF), and must be stopped with `stop()`.
 */
export interface RedisServer {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  /** Sends `signal` (SIGKILL by default) and waits until the process has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts redis-server again on the same port and dir; resolves when it accepts commands. */
  restart(): Promise<void>;
  /** A new client to this server (closed by `stop()` if still open). */
  client(): Redis;
  /** Kills the server, closes clients made by `client()` and removes the temp dir. */
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function launch(port: number, dir: string, options: RedisServerOptions): Promise<ChildProcess> {
  const appendonly = options.appendonly ?? true;
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--save', '',
    '--appendonly', appendonly ? 'yes' : 'no',
    '--appendfsync', 'everysec',
    '--daemonize', 'no',
    '--logfile', '',
    ...(options.args ?? []),
  ];
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      reject(err);
      return;
    }
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) {
        child.stdout?.off('data', onData);
        child.stdout?.resume();
        resolve(child);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'ENOENT' ? new Error('redis-server is not on PATH: install it (apt-get install -y redis-server)') : err);
    });
    child.once('exit', (code) => reject(new Error(`redis-server exited with ${code} before it was ready:\n${output}`)));
  });
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * Starts a private redis-server. Use in `beforeAll` and call `stop()` in `afterAll`.
 *
 * @example
 * const redis = await startRedisServer();
 * afterAll(() => redis.stop());
 */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const dir = await mkdtemp(join(tmpdir(), 'docket-redis-'));
  let port = 0;
  let child: ChildProcess | undefined;
  for (let tries = 0; !child; tries++) {
    port = await freePort();
    try {
      child = await launch(port, dir, options);
    } catch (err) {
      // Another process may have taken the port between the probe and the launch.
      if (tries >= 4 || !String(err).includes('Address already in use')) {
        await rm(dir, { recursive: true, force: true });
        throw err;
      }
    }
  }
  const clients = new Set<Redis>();
  let current: ChildProcess = child;

  const server: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    async kill(signal = 'SIGKILL') {
      current.kill(signal);
      await exited(current);
    },
    async restart() {
      current = await launch(port, dir, options);
    },
    client() {
      const client = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: null });
      // Tests kill and restart the server on purpose: reconnect errors are expected noise.
      client.on('error', () => {});
      clients.add(client);
      client.once('end', () => clients.delete(client));
      return client;
    },
    async stop() {
      for (const client of clients) client.disconnect();
      clients.clear();
      current.kill('SIGKILL');
      await exited(current);
      await rm(dir, { recursive: true, force: true });
    },
  };
  return server;
}
