import { type Server, type Socket, connect, createServer } from 'node:net';

export interface TcpProxyOptions {
  /** Port the proxy forwards to (e.g. a `RedisServer`'s `port`). */
  targetPort: number;
  /**
   * Host the proxy forwards to. Loopback only: tests never send traffic anywhere else.
   * @default '127.0.0.1'
   */
  targetHost?: string;
}

/**
 * A TCP proxy on a free loopback port that forwards every connection to `targetHost:targetPort`,
 * and can simulate network failures: `outage(ms)` drops every open connection (reset) and
 * resets new ones for `ms`, then accepts again; `stall(ms)` silently stops forwarding on every
 * open connection (a half-open connection: no bytes, no FIN, no reset) while new ones work;
 * `loseReplies(ms)` lets requests through but not their replies, then resets the connections.
 * Stop it with `close()`.
 */
export interface TcpProxy {
  readonly port: number;
  /** `redis://127.0.0.1:<port>`: connect clients here instead of to the target. */
  readonly url: string;
  /** Client connections open right now. */
  readonly connections: number;
  /** Client connections accepted and forwarded since the start (refused ones excluded). */
  readonly accepted: number;
  /** Client connections reset by an outage (open ones dropped, and new ones refused). */
  readonly dropped: number;
  /** True while an outage is under way. */
  readonly down: boolean;
  /** Client connections stalled right now (see `stall`). */
  readonly stalled: number;
  /**
   * Drops every open connection at once and resets new ones for `ms`; resolves when the proxy
   * accepts connections again. Another outage while one is under way is refused.
   */
  outage(ms: number): Promise<void>;
  /**
   * Stalls every open connection for `ms`: the proxy stops forwarding bytes in both directions
   * but keeps both sockets open and sends neither FIN nor reset, so each end sees its peer go
   * silent, as with a half-open connection after a failover. Whatever either end sends meanwhile
   * is held (not lost). Connections opened during the stall are forwarded normally. After `ms`
   * the stalled connections forward again, held bytes first, and the promise resolves (at once
   * if the proxy is closed meanwhile). Another stall while one is under way is refused.
   */
  stall(ms: number): Promise<void>;
  /**
   * Loses the replies: for `ms`, every open connection still forwards what the client sends,
   * but what the server answers is discarded; then those connections are reset (as when a
   * network fails after a request arrived, before its reply did). Resolves after the reset.
   */
  loseReplies(ms: number): Promise<void>;
  /** Drops every connection and stops listening. */
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1']);

/**
 * Starts a TCP proxy in front of a (loopback) server, for failure tests that cut the network
 * between clients and Redis without touching either.
 *
 * @example
 * const redis = await startRedisServer();
 * const proxy = await startTcpProxy({ targetPort: redis.port });
 * const producer = new Producer({ connection: proxy.url });
 * await proxy.outage(3_000); // every client connection drops; reconnects are refused for 3 s
 */
export async function startTcpProxy(options: TcpProxyOptions): Promise<TcpProxy> {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`Expected \`options\` to be an object { targetPort, targetHost? }, got \`${String(options)}\``);
  }
  const { targetPort, targetHost = '127.0.0.1' } = options;
  if (!Number.isInteger(targetPort) || targetPort < 1 || targetPort > 65_535) {
    throw new RangeError(`Expected \`targetPort\` to be an integer from 1 to 65535, got \`${String(targetPort)}\``);
  }
  if (!LOOPBACK.has(targetHost)) {
    throw new RangeError(`Expected \`targetHost\` to be a loopback address (127.0.0.1, localhost or ::1), got \`${String(targetHost)}\``);
  }

  /** Each open client socket with its upstream socket. */
  const pairs = new Map<Socket, Socket>();
  let accepted = 0;
  let dropped = 0;
  let downUntil = 0;
  let closed = false;
  /** Client sockets whose pair is stalled. */
  const frozen = new Set<Socket>();

  // Half-open allowed on both sockets: a FIN is passed on through the pipe (and not answered by
  // the proxy itself), so a stalled connection does not answer one either.
  const server: Server = createServer({ noDelay: true, allowHalfOpen: true }, (client) => {
    if (closed || Date.now() < downUntil) {
      dropped++;
      client.on('error', () => {});
      client.resetAndDestroy();
      return;
    }
    accepted++;
    const upstream = connect({ port: targetPort, host: targetHost, noDelay: true, allowHalfOpen: true });
    pairs.set(client, upstream);
    // Either side failing or closing ends both: the client sees what it would see if the
    // server went away, and no half-open pair is left behind.
    const end = () => {
      pairs.delete(client);
      frozen.delete(client);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });

  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      const address = server.address();
      if (typeof address === 'object' && address) resolve(address.port);
      else reject(new Error('the proxy has no port'));
    });
  });

  const dropAll = () => {
    for (const [client, upstream] of pairs) {
      dropped++;
      // A reset, not a polite FIN: the client sees the connection fail mid-conversation.
      client.resetAndDestroy();
      upstream.destroy();
    }
    pairs.clear();
    frozen.clear();
  };

  // Unpiped and paused, a socket reads at most its buffer's worth from the kernel and passes
  // nothing on: no data, and no FIN it received (it may emit 'end', which no pipe forwards).
  const freeze = (client: Socket, upstream: Socket) => {
    client.unpipe(upstream);
    upstream.unpipe(client);
    client.pause();
    upstream.pause();
    frozen.add(client);
  };
  const thaw = () => {
    for (const client of frozen) {
      const upstream = pairs.get(client);
      if (!upstream) continue;
      client.pipe(upstream);
      upstream.pipe(client);
      // A FIN that arrived during the stall was not passed on by a pipe: pass it on now.
      if (client.readableEnded) upstream.end();
      if (upstream.readableEnded) client.end();
    }
    frozen.clear();
  };
  let stallRunning: { timer: NodeJS.Timeout; done: () => void } | undefined;

  let outageRunning = false;
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get connections() {
      return pairs.size;
    },
    get accepted() {
      return accepted;
    },
    get dropped() {
      return dropped;
    },
    get down() {
      return Date.now() < downUntil;
    },
    get stalled() {
      return frozen.size;
    },
    async outage(ms: number) {
      if (!Number.isInteger(ms) || ms < 0) throw new RangeError(`Expected \`ms\` to be an integer >= 0, got \`${String(ms)}\``);
      if (closed) throw new Error('The proxy is closed');
      if (outageRunning) throw new Error('An outage is already under way');
      outageRunning = true;
      downUntil = Date.now() + ms;
      dropAll();
      try {
        await new Promise((resolve) => setTimeout(resolve, ms));
      } finally {
        downUntil = 0;
        outageRunning = false;
      }
    },
    async stall(ms: number) {
      if (!Number.isInteger(ms) || ms < 0) throw new RangeError(`Expected \`ms\` to be an integer >= 0, got \`${String(ms)}\``);
      if (closed) throw new Error('The proxy is closed');
      if (stallRunning) throw new Error('A stall is already under way');
      for (const [client, upstream] of pairs) freeze(client, upstream);
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(stallRunning?.timer);
          stallRunning = undefined;
          thaw();
          resolve();
        };
        stallRunning = { timer: setTimeout(done, ms), done };
      });
    },
    async loseReplies(ms: number) {
      if (!Number.isInteger(ms) || ms < 0) throw new RangeError(`Expected \`ms\` to be an integer >= 0, got \`${String(ms)}\``);
      if (closed) throw new Error('The proxy is closed');
      const losing = [...pairs];
      for (const [client, upstream] of losing) {
        upstream.unpipe(client);
        upstream.on('data', () => {}); // read and dropped
      }
      await new Promise((resolve) => setTimeout(resolve, ms));
      for (const [client, upstream] of losing) {
        if (!pairs.has(client)) continue;
        pairs.delete(client);
        dropped++;
        client.resetAndDestroy();
        upstream.destroy();
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      dropAll();
      stallRunning?.done();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
