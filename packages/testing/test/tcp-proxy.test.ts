// The TCP proxy the chaos suite cuts the network with: it must forward faithfully, really drop
// connections in an outage, refuse new ones while it lasts, and accept again afterwards; and
// in a stall, go silent on open connections (no bytes either way, no close) while new ones work.
import { type Socket, connect } from 'node:net';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { type TcpProxy, sleep, startTcpProxy, uniquePrefix, waitUntil } from '../src/index.js';
import { startRedisServerForTest, useRedisServer } from '../src/vitest.js';

const redis = useRedisServer({ appendonly: false });

/** A client that fails fast instead of queueing: each command shows whether the link is up now. */
async function fastFailClient(port: number): Promise<Redis> {
  const client = new Redis({
    port,
    host: '127.0.0.1',
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => 50,
  });
  client.on('error', () => {});
  await waitUntil(() => client.status === 'ready', { what: 'the client to connect' });
  return client;
}

/** Resolves with how a raw TCP connection to `port` ended: 'data' if the server spoke, else the error code or 'closed'. */
function probe(port: number, send: string): Promise<string> {
  return new Promise((resolve) => {
    const socket: Socket = connect(port, '127.0.0.1', () => socket.write(send));
    socket.once('data', (chunk) => {
      resolve(`data:${chunk.toString().trim()}`);
      socket.destroy();
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    socket.once('close', () => resolve('closed'));
  });
}

describe('startTcpProxy', () => {
  it('forwards commands to the target and counts its connections', async () => {
    const proxy = await startTcpProxy({ targetPort: redis.port });
    const client = await fastFailClient(proxy.port);
    try {
      expect(proxy.url).toBe(`redis://127.0.0.1:${proxy.port}`);
      expect(proxy.port).not.toBe(redis.port);
      const key = `${uniquePrefix()}:k`;
      await client.set(key, 'through the proxy');
      // The value is really in the target, not somewhere in the proxy.
      expect(await redis.client().get(key)).toBe('through the proxy');
      expect(await client.get(key)).toBe('through the proxy');
      expect(proxy.connections).toBe(1);
      expect(proxy.accepted).toBe(1);
      // Large values cross intact in both directions.
      const big = 'x'.repeat(2_000_000);
      await client.set(`${key}:big`, big);
      expect(await client.get(`${key}:big`)).toBe(big);
      client.disconnect();
      await waitUntil(() => proxy.connections === 0, { what: 'the pair to be closed' });
    } finally {
      client.disconnect();
      await proxy.close();
    }
  });

  it('in an outage drops open connections, refuses new ones, then accepts again', async () => {
    const proxy = await startTcpProxy({ targetPort: redis.port });
    const client = await fastFailClient(proxy.port);
    const closes: number[] = [];
    client.on('close', () => closes.push(Date.now()));
    try {
      expect(await client.ping()).toBe('PONG');
      const outage = proxy.outage(1_000);
      expect(proxy.down).toBe(true);
      // The open connection is dropped at once...
      await waitUntil(() => closes.length > 0, { timeout: 500, what: 'the client connection to drop' });
      expect(proxy.connections).toBe(0);
      // ...commands fail while it lasts, and new connections are reset without reaching Redis.
      await expect(client.ping()).rejects.toThrow();
      expect(await probe(proxy.port, 'PING\r\n')).toMatch(/ECONNRESET|closed/);
      const refusedSoFar = proxy.dropped;
      expect(refusedSoFar).toBeGreaterThanOrEqual(2); // the dropped client and the refused probe
      expect(client.status).not.toBe('ready');
      await outage;
      expect(proxy.down).toBe(false);
      // Afterwards the client reconnects by itself and commands work again.
      await waitUntil(() => client.status === 'ready', { timeout: 5_000, what: 'the client to reconnect' });
      expect(await client.ping()).toBe('PONG');
      expect(await probe(proxy.port, 'PING\r\n')).toBe('data:+PONG');
    } finally {
      client.disconnect();
      await proxy.close();
    }
  });

  it('in a stall forwards nothing either way on open connections, closes none, serves new ones, then resumes', async () => {
    const proxy = await startTcpProxy({ targetPort: redis.port });
    const client = await fastFailClient(proxy.port);
    const waiter = await fastFailClient(proxy.port);
    const direct = redis.client();
    const events: string[] = [];
    for (const c of [client, waiter]) c.on('close', () => events.push('close')).on('end', () => events.push('end'));
    const key = `${uniquePrefix()}:k`;
    try {
      expect(await client.ping()).toBe('PONG');
      // A blocking pop parked in Redis before the stall: its reply travels upstream -> client.
      const popped = waiter.blpop(`${key}:list`, 0);
      await waitUntil(async () => ((await direct.client('LIST')) as string).includes('cmd=blpop'), { what: 'the BLPOP to reach Redis' });

      // A raw connection that will half-close (FIN) during the stall.
      const raw: Socket = connect(proxy.port, '127.0.0.1');
      const rawEvents: string[] = [];
      raw.on('end', () => rawEvents.push('end')).on('close', () => rawEvents.push('close')).on('error', () => rawEvents.push('error'));
      await new Promise((r) => raw.once('connect', r));
      await waitUntil(() => proxy.connections === 3, { what: 'the raw connection to be forwarded' });

      const stall = proxy.stall(1_500);
      expect(proxy.stalled).toBe(3);
      expect(proxy.connections).toBe(3);
      raw.end(); // its FIN is held like its bytes: no FIN comes back, the pair stays
      // client -> Redis: the command is held by the proxy and never reaches Redis...
      const set = client.set(key, 'held');
      // Redis -> client: Redis answers the pop (the list is emptied) but the reply is held.
      await direct.rpush(`${key}:list`, 'v');
      let popSettled = false;
      let setSettled = false;
      void popped.finally(() => (popSettled = true));
      void set.finally(() => (setSettled = true));
      await sleep(500);
      expect(await direct.get(key)).toBeNull();
      expect(await direct.llen(`${key}:list`)).toBe(0);
      expect(setSettled).toBe(false);
      expect(popSettled).toBe(false);
      // ...and neither end is closed: no FIN, no reset, even when a client sent its FIN.
      expect(events).toEqual([]);
      expect(rawEvents).toEqual([]);
      expect(proxy.stalled).toBe(3);
      expect(client.status).toBe('ready');
      // A connection opened during the stall is forwarded normally.
      expect(await probe(proxy.port, 'PING\r\n')).toBe('data:+PONG');

      await stall;
      expect(proxy.stalled).toBe(0);
      // Afterwards the held bytes flow, in order, both ways.
      expect(await set).toBe('OK');
      expect(await direct.get(key)).toBe('held');
      expect(await popped).toEqual([`${key}:list`, 'v']);
      expect(await client.ping()).toBe('PONG');
      expect(events).toEqual([]);
      // The held FIN reached Redis, which closed that connection: the raw client sees it now.
      await waitUntil(() => rawEvents.includes('close'), { what: 'the half-closed raw connection to end' });
      expect(rawEvents).toEqual(['end', 'close']);
      await waitUntil(() => proxy.connections === 2, { what: 'the ended pair to be cleaned up' });
    } finally {
      client.disconnect();
      waiter.disconnect();
      direct.disconnect();
      await proxy.close();
    }
  });

  it('close() ends a stall under way and its stalled connections', async () => {
    const proxy = await startTcpProxy({ targetPort: redis.port });
    const client = await fastFailClient(proxy.port);
    try {
      expect(await client.ping()).toBe('PONG');
      const stall = proxy.stall(60_000);
      expect(proxy.stalled).toBe(1);
      const ping = client.ping();
      await proxy.close();
      await stall; // resolves at once, not after 60 s
      await expect(ping).rejects.toThrow();
      expect(proxy.stalled).toBe(0);
      expect(proxy.connections).toBe(0);
    } finally {
      client.disconnect();
      await proxy.close();
    }
  });

  it('closes a client connection when the target is down, and forwards again once it is back', async () => {
    const target = await startRedisServerForTest({ appendonly: false });
    const proxy = await startTcpProxy({ targetPort: target.port });
    try {
      await target.kill('SIGKILL');
      expect(await probe(proxy.port, 'PING\r\n')).toMatch(/closed|ECONNRESET/);
      await target.restart();
      expect(await probe(proxy.port, 'PING\r\n')).toBe('data:+PONG');
      await waitUntil(() => proxy.connections === 0, { what: 'pairs to be cleaned up' });
    } finally {
      await proxy.close();
    }
  });

  it('close() drops every connection and stops listening', async () => {
    const proxy = await startTcpProxy({ targetPort: redis.port });
    const client = await fastFailClient(proxy.port);
    try {
      expect(await client.ping()).toBe('PONG');
      await proxy.close();
      await expect(client.ping()).rejects.toThrow();
      expect(await probe(proxy.port, 'PING\r\n')).toBe('ECONNREFUSED');
      await expect(proxy.outage(10)).rejects.toThrow(/closed/);
      await expect(proxy.stall(10)).rejects.toThrow(/closed/);
    } finally {
      client.disconnect();
      await proxy.close();
    }
  });

  it('refuses bad arguments and non-loopback targets with errors that name the option', async () => {
    await expect(startTcpProxy({ targetPort: 0 })).rejects.toThrow(/`targetPort`.*1 to 65535.*`0`/);
    await expect(startTcpProxy({ targetPort: 1.5 })).rejects.toThrow(RangeError);
    await expect(startTcpProxy({ targetPort: redis.port, targetHost: '10.0.0.1' })).rejects.toThrow(/`targetHost`.*loopback.*`10.0.0.1`/);
    await expect(startTcpProxy(null as never)).rejects.toThrow(TypeError);
    const proxy: TcpProxy = await startTcpProxy({ targetPort: redis.port });
    try {
      await expect(proxy.outage(-1)).rejects.toThrow(/`ms`.*>= 0.*`-1`/);
      const first = proxy.outage(50);
      await expect(proxy.outage(50)).rejects.toThrow(/already/);
      await first;
      await expect(proxy.stall(1.5)).rejects.toThrow(/`ms`.*>= 0.*`1.5`/);
      const stall = proxy.stall(50);
      await expect(proxy.stall(50)).rejects.toThrow(/already/);
      await stall;
    } finally {
      await proxy.close();
    }
  });
});
