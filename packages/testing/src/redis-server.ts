import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis, type RedisOptions } from 'ioredis';

const run = promisify(execFile);

export interface RedisServerOptions {
  /** Append-only file on, fsync every second (the setting docket recommends). @default true */
  appendonly?: boolean;
  /** Extra `redis-server` arguments, e.g. `['--maxmemory-policy', 'allkeys-lru']`. */
  args?: string[];
  /** Password of the `default` user (`requirepass`); `url`, `connectionOptions()` and `client()` use it. */
  password?: string;
  /**
   * ACL users, one rule line each as in an ACL file without the leading `user`, e.g.
   * `'app on >secret resetkeys ~app:* -@all +get'`. The `default` user keeps every right
   * (behind `password` if given), so `client()` can still inspect and set up anything.
   */
  aclUsers?: string[];
  /**
   * Serve TLS only (no plain port): a throwaway CA and a certificate for 127.0.0.1 and
   * localhost are made with the `openssl` CLI in the temp dir. Clients must trust `tls.ca`.
   * @default false
   */
  tls?: boolean;
  /** Listen on this loopback port instead of a free one (e.g. one a test saw refused). */
  port?: number;
  /** The `redis-server` binary to run: a name looked up on PATH, or a path. @default 'redis-server' */
  binary?: string;
  /**
   * Run the server in a process group of its own, so that Ctrl+C in a terminal (SIGINT to the
   * whole foreground group) does not stop it under clients that still need it while they
   * shut down; `stop()` ends it. @default false
   */
  detached?: boolean;
}

/** The test CA of a TLS server. */
export interface RedisServerTls {
  /** Path of the CA certificate (PEM), e.g. for NODE_EXTRA_CA_CERTS or `redis-cli --cacert`. */
  caFile: string;
  /** The CA certificate itself (PEM), for ioredis `tls: { ca }`. */
  ca: string;
}

/**
 * A private redis-server on a free loopback port, in its own temp dir. It can be killed and
 * restarted on the same port and dir (so on its AOF), and must be stopped with `stop()`.
 */
export interface RedisServer {
  readonly port: number;
  /** `redis://` (or `rediss://` with `tls`) URL of the `default` user, with its password if any. */
  readonly url: string;
  readonly dir: string;
  /** The CA to trust when the server was started with `tls: true`. */
  readonly tls: RedisServerTls | undefined;
  /** ioredis options for the `default` user (host, port, password, TLS CA), merged with `overrides`. */
  connectionOptions(overrides?: RedisOptions): RedisOptions;
  /** Sends `signal` (SIGKILL by default) and waits until the process has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts redis-server again on the same port and dir; resolves when it accepts commands. */
  restart(): Promise<void>;
  /** A new client to this server (closed by `stop()` if still open). */
  client(): Redis;
  /** Kills the server, closes clients made by `client()` and removes the temp dir. */
  stop(): Promise<void>;
}

/** A loopback port nothing listened on a moment ago (connections to it are refused). */
export async function freePort(): Promise<number> {
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

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error('openssl is not on PATH: install it (apt-get install -y openssl) to start a TLS redis-server');
    throw new Error(`openssl ${args[0]} failed: ${e.stderr ?? e.message}`);
  }
}

/** A CA and a server certificate (for 127.0.0.1 and localhost) signed by it, valid two days. */
async function makeCertificates(dir: string): Promise<RedisServerTls> {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl(
    ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=docket test CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
    dir,
  );
  await openssl(['req', '-new', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1'], dir);
  await writeFile(
    join(dir, 'server.ext'),
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n',
  );
  await openssl(
    ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'server.ext'],
    dir,
  );
  const caFile = join(dir, 'ca.crt');
  return { caFile, ca: await readFile(caFile, 'utf8') };
}

/** Users and the default password go in a config file: rule lines hold characters a shell or `--` parsing would mangle. */
async function writeConfig(dir: string, options: RedisServerOptions): Promise<string | undefined> {
  if (options.password === undefined && !options.aclUsers?.length) return undefined;
  const lines: string[] = [];
  if (options.password !== undefined) lines.push(`requirepass "${options.password}"`);
  for (const rule of options.aclUsers ?? []) lines.push(`user ${rule}`);
  const file = join(dir, 'redis.conf');
  await writeFile(file, lines.join('\n') + '\n', { mode: 0o600 });
  return file;
}

function launch(port: number, dir: string, options: RedisServerOptions, config: string | undefined): Promise<ChildProcess> {
  const appendonly = options.appendonly ?? true;
  const listen = options.tls
    ? ['--port', '0', '--tls-port', String(port), '--tls-cert-file', join(dir, 'server.crt'), '--tls-key-file', join(dir, 'server.key'),
        '--tls-ca-cert-file', join(dir, 'ca.crt'), '--tls-auth-clients', 'no']
    : ['--port', String(port)];
  const args = [
    ...(config ? [config] : []),
    ...listen,
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--save', '',
    '--appendonly', appendonly ? 'yes' : 'no',
    '--appendfsync', 'everysec',
    '--daemonize', 'no',
    '--logfile', '',
    ...(options.args ?? []),
  ];
  const binary = options.binary ?? 'redis-server';
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: options.detached ?? false });
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
      if (err.code !== 'ENOENT') return reject(err);
      // code ENOENT kept, so a caller can tell "no such binary" from a server that failed to start.
      const missing = binary === 'redis-server' ? 'redis-server is not on PATH' : `${binary} was not found`;
      reject(Object.assign(new Error(`${missing}: install it (apt-get install -y redis-server)`), { code: 'ENOENT' }));
    });
    child.once('exit', (code) => {
      if (options.tls && /tls-port/.test(output) && /Bad directive|wrong number of arguments/.test(output)) {
        reject(new Error(`this redis-server was built without TLS support (redis-server --tls-port is refused):\n${output}`));
        return;
      }
      reject(new Error(`redis-server exited with ${code} before it was ready:\n${output}`));
    });
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
  let tls: RedisServerTls | undefined;
  let config: string | undefined;
  try {
    if (options.tls) tls = await makeCertificates(dir);
    config = await writeConfig(dir, options);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  for (let tries = 0; !child; tries++) {
    port = options.port ?? (await freePort());
    try {
      child = await launch(port, dir, options, config);
    } catch (err) {
      // Another process may have taken the port between the probe and the launch.
      if (tries >= 4 || options.port !== undefined || !String(err).includes('Address already in use')) {
        await rm(dir, { recursive: true, force: true });
        throw err;
      }
    }
  }
  const clients = new Set<Redis>();
  let current: ChildProcess = child;

  const auth = options.password === undefined ? '' : `:${encodeURIComponent(options.password)}@`;
  const connectionOptions = (overrides: RedisOptions = {}): RedisOptions => ({
    host: '127.0.0.1',
    port,
    ...(options.password === undefined ? {} : { password: options.password }),
    ...(tls ? { tls: { ca: tls.ca } } : {}),
    ...overrides,
  });

  const server: RedisServer = {
    port,
    url: `${tls ? 'rediss' : 'redis'}://${auth}127.0.0.1:${port}`,
    dir,
    tls,
    connectionOptions,
    async kill(signal = 'SIGKILL') {
      current.kill(signal);
      await exited(current);
    },
    async restart() {
      current = await launch(port, dir, options, config);
    },
    client() {
      const client = new Redis(connectionOptions({ maxRetriesPerRequest: null }));
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
