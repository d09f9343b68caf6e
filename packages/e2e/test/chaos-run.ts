// The chaos scenario behind test/chaos.test.ts (short form in `pnpm test`, full form in
// `pnpm test:chaos`). One producer process enqueues `jobs` jobs while `consumers` consumer
// processes run them, all through a TCP proxy in front of redis-server (AOF, appendfsync
// everysec, the setting the README recommends). Meanwhile:
//   - every `killEvery` ms one random consumer is SIGKILLed and a new one started in its place;
//   - twice, redis-server is SIGKILLed, left down for `redisDown` ms and restarted on its AOF;
//   - once, the proxy drops every connection and refuses new ones for `proxyOutage` ms.
// Every try's side effect is written to its consumer's own append-only log (see
// fixtures/chaos-consumer.mjs), so it survives the SIGKILL of the process that ran it. At the
// end the logs, the producer's log and docket's final state are put side by side.
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Producer, defineQueue } from '@docket/producer';
import { queueKeys } from '@docket/protocol/internal';
import { type RedisServer, type TcpProxy, sleep, sourceNodeArgs, startRedisServer, startTcpProxy, uniquePrefix } from '@docket/testing';

export interface ChaosOptions {
  /** Jobs the producer enqueues. */
  jobs: number;
  /** Seconds over which the producer spreads its enqueues (the faults happen inside this). */
  seconds: number;
  consumers: number;
  concurrency: number;
  /** Consumer leaseDuration, ms. */
  leaseDuration: number;
  /** ms between two consumer kills. */
  killEvery: number;
  /** ms redis-server stays down after each SIGKILL. */
  redisDown: number;
  /** ms the proxy refuses connections in its outage. */
  proxyOutage: number;
  /** Each try waits 1..workMs ms before its side effect. */
  workMs: number;
  /** Upper bound for the whole run, ms (the test fails if the jobs are not all done by then). */
  deadline: number;
  /** Progress lines on stdout while it runs. */
  verbose?: boolean;
}

export interface Fault {
  kind: 'redis-kill' | 'proxy-outage';
  start: number;
  /** When Redis accepts commands again (restart done, or the proxy accepting again). */
  end: number;
  /** Jobs leased (active in Redis) at the fault: the ones a lost connection can make run twice. */
  leased: number;
  /** ms from `end` until the first completion Redis took afterwards. */
  recovery: number | undefined;
}

export interface ConsumerKill {
  at: number;
  pid: number;
  log: string;
  /** Tries the killed process had started and not seen completed: the most it can leave behind. */
  held: number;
  /** ms from the kill until every job it held had run again (or undefined if none needed to). */
  recovery: number | undefined;
}

export interface Rejection {
  id: string;
  at: number;
  name: string;
  code: string;
  message: string;
}

export interface ChaosResult {
  options: ChaosOptions;
  queue: string;
  jobs: number;
  /** Distinct ids whose enqueue call resolved at least once. */
  resolved: number;
  /** Enqueue calls that rejected (each is retried with the same id until one resolves). */
  rejections: Rejection[];
  /** Ids whose call rejected although the job had been stored (a later retry found it: created false). */
  rejectedButStored: number;
  /** Resolved ids that docket holds as completed. */
  completed: number;
  /** Resolved ids with no side effect recorded or not completed in docket. */
  lost: string[];
  /** For each lost id (first 20): when its enqueue resolved, relative to the faults, and what is known of it. */
  lostDetail: string[];
  /** Side effects beyond the first, summed over jobs. */
  duplicates: number;
  /** The most duplicates the faults can explain: jobs held at each consumer kill + jobs leased at each Redis fault. */
  duplicateBound: number;
  /** Jobs docket buried as dead (their attempts ran out). */
  dead: string[];
  /** Attempts docket counted for which no handler was ever called (a lease whose reply was lost). */
  phantomAttempts: number;
  /**
   * Where those leases were taken, judged by when the job ran next (one leaseDuration later):
   * just before a consumer kill (the reply died with the process), around a Redis fault (the
   * reply was lost with the connection), or neither.
   */
  phantomCauses: { consumerKill: number; redisFault: number; other: number };
  /** Tries started (handler called), summed over jobs. */
  tries: number;
  consumerKills: ConsumerKill[];
  consumerStarts: number;
  faults: Fault[];
  /** LEASE_LOST errors the consumers reported. */
  leaseLost: number;
  proxyDropped: number;
  proxyAccepted: number;
  durationMs: number;
  verdict: string;
}

const consumerFixture = fileURLToPath(new URL('../fixtures/chaos-consumer.mjs', import.meta.url));
const producerFixture = fileURLToPath(new URL('../fixtures/chaos-producer.mjs', import.meta.url));

interface ConsumerSlot {
  child: ChildProcess;
  log: string;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Races `promise` against a timer, so one stuck call cannot hang the run. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

interface ConsumerLog {
  pid: number;
  file: string;
  starts: { id: string; attempt: number; token: number; at: number }[];
  effects: { id: string; attempt: number; token: number; at: number }[];
  completions: { id: string; attempt: number; at: number }[];
  /** Jobs whose lease this process was told it lost (its outcome refused, or a renewal refused). */
  leaseLost: { id: string; at: number }[];
}

async function readConsumerLog(file: string, pid: number): Promise<ConsumerLog> {
  const out: ConsumerLog = { pid, file, starts: [], effects: [], completions: [], leaseLost: [] };
  const text = await readFile(file, 'utf8').catch(() => '');
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if ((f[0] === 'S' || f[0] === 'E') && f.length === 5) {
      const entry = { id: f[1] as string, attempt: Number(f[2]), token: Number(f[3]), at: Number(f[4]) };
      (f[0] === 'S' ? out.starts : out.effects).push(entry);
    } else if (f[0] === 'C' && f.length === 4) {
      out.completions.push({ id: f[1] as string, attempt: Number(f[2]), at: Number(f[3]) });
    } else if (f[0] === 'W' && f[1] === 'LEASE_LOST' && f[3] && f[3] !== '-') {
      out.leaseLost.push({ id: f[3], at: Number(f[2]) });
    }
  }
  return out;
}

/** Runs the scenario and returns its figures; the caller asserts on them. */
export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  const o = options;
  const say = (text: string) => {
    if (o.verbose) console.log(`chaos ${((Date.now() - began) / 1000).toFixed(1).padStart(6)}s ${text}`);
  };
  const began = Date.now();
  const dir = await mkdtemp(join(tmpdir(), 'docket-chaos-'));
  const redis: RedisServer = await startRedisServer({ appendonly: true });
  const proxy: TcpProxy = await startTcpProxy({ targetPort: redis.port });
  const prefix = uniquePrefix('chaos');
  const queue = defineQueue(`chaos-${prefix}`);
  const keys = queueKeys(prefix, queue.name);
  // The observer talks to Redis directly, never through the proxy.
  const direct = redis.client();
  const slots: ConsumerSlot[] = [];
  const pids = new Map<string, number>();
  const consumerKills: ConsumerKill[] = [];
  const killed = new Map<string, number>(); // log file -> kill time
  const faults: Fault[] = [];
  let consumerStarts = 0;
  let producer: ChildProcess | undefined;
  let stopKills = false;
  let killLoop: Promise<void> | undefined;
  let faultLoop: Promise<void> | undefined;

  const startConsumer = (slot: number): ConsumerSlot => {
    const log = join(dir, `consumer-${slot}-${consumerStarts++}.log`);
    const config = {
      url: proxy.url,
      prefix,
      queue: queue.name,
      concurrency: o.concurrency,
      leaseDuration: o.leaseDuration,
      log,
      workMs: o.workMs,
    };
    const child = fork(consumerFixture, [JSON.stringify(config)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: sourceNodeArgs() });
    if (child.pid) pids.set(log, child.pid);
    const entry = { child, log };
    slots[slot] = entry;
    return entry;
  };

  try {
    const ready = Array.from({ length: o.consumers }, (_, i) => {
      const { child } = startConsumer(i);
      return within(new Promise((resolve) => child.once('message', resolve)), 20_000, `consumer ${i} start`);
    });
    await Promise.all(ready);
    say(`${o.consumers} consumers ready; redis on ${redis.port}, proxy on ${proxy.port}`);

    const producerConfig = {
      host: '127.0.0.1',
      port: proxy.port,
      prefix,
      queue: queue.name,
      jobs: o.jobs,
      seconds: o.seconds,
      log: join(dir, 'producer.log'),
      retryDelay: 250,
    };
    const producerStart = Date.now();
    producer = fork(producerFixture, [JSON.stringify(producerConfig)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: sourceNodeArgs() });
    const producerDone = new Promise<void>((resolve, reject) => {
      producer?.on('message', (m: { type: string }) => {
        if (m.type === 'done') resolve();
      });
      producer?.once('exit', (code, signal) => reject(new Error(`the producer exited (${code ?? signal}) before every enqueue resolved`)));
    });
    producerDone.catch(() => {});

    // Consumer kills, every killEvery ms, until the run is over.
    killLoop = (async () => {
      while (!stopKills) {
        await sleep(o.killEvery);
        if (stopKills) break;
        const slot = Math.floor(Math.random() * o.consumers);
        const victim = slots[slot] as ConsumerSlot;
        const at = Date.now();
        victim.child.kill('SIGKILL');
        await exited(victim.child);
        killed.set(victim.log, at);
        startConsumer(slot);
        say(`consumer slot ${slot} (pid ${pids.get(victim.log)}) SIGKILLed and restarted`);
      }
    })();

    // The Redis faults, in order, at fixed points of the production period.
    const leasedNow = () => within(direct.zcount(keys.active, '-inf', '(+inf'), 10_000, 'ZCOUNT active');
    faultLoop = (async () => {
      const at = (fraction: number) => sleep(Math.max(0, producerStart + fraction * o.seconds * 1000 - Date.now()));
      const redisKill = async () => {
        const before = await leasedNow();
        const start = Date.now();
        await redis.kill('SIGKILL');
        await sleep(o.redisDown);
        await redis.restart();
        const end = Date.now();
        // What the restarted server holds as leased is what the kill left behind.
        const after = await leasedNow();
        faults.push({ kind: 'redis-kill', start, end, leased: Math.max(before, after), recovery: undefined });
        say(`redis-server SIGKILLed and restarted on its AOF (${end - start} ms down, ${after} leases survived)`);
      };
      await at(0.2);
      await redisKill();
      await at(0.45);
      const before = await leasedNow();
      const start = Date.now();
      const outage = proxy.outage(o.proxyOutage);
      // Nothing can be leased through the proxy once it is cut: this is the most left behind.
      const cut = await leasedNow();
      await outage;
      faults.push({ kind: 'proxy-outage', start, end: Date.now(), leased: Math.max(before, cut), recovery: undefined });
      say(`proxy outage of ${o.proxyOutage} ms over (${proxy.dropped} connections dropped or refused)`);
      await at(0.75);
      await redisKill();
    })();

    await within(producerDone, o.deadline, 'the producer');
    say('every enqueue resolved');
    await within(faultLoop, o.deadline, 'the faults');
    // Wait until nothing is waiting, delayed or active any more: every job has finished.
    const observer = new Producer({ connection: redis.url, prefix });
    try {
      const drainBy = began + o.deadline;
      for (;;) {
        const c = await within(observer.counts(queue), 10_000, 'counts');
        if (c.waiting + c.delayed + c.active === 0) break;
        if (Date.now() > drainBy) {
          throw new Error(`jobs still unfinished after ${o.deadline} ms: ${JSON.stringify(c)}`);
        }
        await sleep(250);
      }
    } finally {
      await observer.close();
    }
    say('every job finished');
    stopKills = true;
    await killLoop;
    for (const slot of slots) slot.child.kill('SIGKILL');
    await Promise.all(slots.map((s) => exited(s.child)));
    const durationMs = Date.now() - began;

    return await analyse({ o, dir, direct, prefix, queueName: queue.name, redis, pids, killed, consumerKills, consumerStarts, faults, proxy, durationMs });
  } finally {
    stopKills = true;
    for (const slot of slots) slot.child.kill('SIGKILL');
    producer?.kill('SIGKILL');
    await Promise.all([...slots.map((s) => exited(s.child)), producer ? exited(producer) : undefined]);
    await killLoop?.catch(() => {});
    await faultLoop?.catch(() => {});
    await proxy.close();
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

async function analyse(ctx: {
  o: ChaosOptions;
  dir: string;
  direct: ReturnType<RedisServer['client']>;
  prefix: string;
  queueName: string;
  redis: RedisServer;
  pids: Map<string, number>;
  killed: Map<string, number>;
  consumerKills: ConsumerKill[];
  consumerStarts: number;
  faults: Fault[];
  proxy: TcpProxy;
  durationMs: number;
}): Promise<ChaosResult> {
  const { o, dir, queueName, faults, consumerKills } = ctx;
  const queue = defineQueue(queueName);
  const keys = queueKeys(ctx.prefix, queueName);

  // The producer's view: which ids resolved, which calls rejected and how.
  const resolvedAt = new Map<string, number>();
  const rejections: Rejection[] = [];
  const rejectedIds = new Set<string>();
  let rejectedButStored = 0;
  for (const line of (await readFile(join(dir, 'producer.log'), 'utf8')).split('\n')) {
    const [kind, id, at, ...rest] = line.split(' ');
    if (!id || !at) continue;
    if (kind === 'R' && !resolvedAt.has(id)) {
      resolvedAt.set(id, Number(at));
      if (rejectedIds.has(id) && rest[0] === '0') rejectedButStored++;
    } else if (kind === 'X') {
      const e = JSON.parse(rest.join(' ')) as { name: string; code: string; message: string };
      rejections.push({ id, at: Number(at), name: e.name, code: e.code, message: e.message });
      rejectedIds.add(id);
    }
  }

  // The side-effect store: every consumer process's log.
  const logs: ConsumerLog[] = [];
  for (const name of (await readdir(dir)).filter((n) => n.startsWith('consumer-')).sort()) {
    const file = join(dir, name);
    logs.push(await readConsumerLog(file, ctx.pids.get(file) ?? 0));
  }
  const effects = new Map<string, number[]>(); // id -> times of its side effects
  const starts = new Map<string, { attempt: number; at: number }[]>(); // id -> tries started
  const completions: number[] = [];
  for (const log of logs) {
    for (const s of log.starts) {
      const list = starts.get(s.id) ?? [];
      list.push({ attempt: s.attempt, at: s.at });
      starts.set(s.id, list);
    }
    for (const e of log.effects) {
      const list = effects.get(e.id) ?? [];
      list.push(e.at);
      effects.set(e.id, list);
    }
    for (const c of log.completions) completions.push(c.at);
  }
  completions.sort((a, b) => a - b);

  // docket's own final state.
  const completedIds = new Set(await ctx.direct.zrange(keys.completed, 0, -1));
  const dead = await ctx.direct.zrange(keys.dead, 0, -1);
  const observer = new Producer({ connection: ctx.redis.url, prefix: ctx.prefix });
  let phantomAttempts = 0;
  const phantomCauses = { consumerKill: 0, redisFault: 0, other: 0 };
  const killTimes = [...ctx.killed.values()];
  try {
    const ids = [...completedIds, ...dead];
    for (let i = 0; i < ids.length; i += 2000) {
      const infos = await Promise.all(ids.slice(i, i + 2000).map((id) => observer.getJob(queue, id)));
      for (const info of infos) {
        if (!info) continue;
        const tried = starts.get(info.id) ?? [];
        for (let attempt = 1; attempt <= info.attempts; attempt++) {
          if (tried.some((t) => t.attempt === attempt)) continue;
          phantomAttempts++;
          // The lease expired unused and the job ran again soon after: it was taken about one
          // leaseDuration before the next try started.
          const next = tried.filter((t) => t.attempt > attempt).sort((a, b) => a.attempt - b.attempt)[0];
          const takenBy = next ? next.at - o.leaseDuration : Number.NaN;
          // The nearest event before it: a kill's reply was in flight (the job runs again within
          // a poll interval of the expiry); a Redis fault delays that by the reconnection.
          const sinceKill = Math.min(...killTimes.map((k) => takenBy - k).filter((d) => d >= -50));
          const sinceFault = Math.min(...faults.map((f) => takenBy - f.start).filter((d) => d >= -50));
          if (sinceKill <= 700 && !(sinceFault < sinceKill)) phantomCauses.consumerKill++;
          else if (sinceFault <= 2_500) phantomCauses.redisFault++;
          else phantomCauses.other++;
        }
      }
    }
  } finally {
    await observer.close();
  }

  const lost = [...resolvedAt.keys()].filter((id) => !effects.has(id) || !completedIds.has(id));
  // A lost job's story, to find the cause: an enqueue acknowledged shortly before a redis-server
  // kill would point at the AOF; one that ran but is not completed, at the consumer.
  const lostDetail = await Promise.all(
    lost.slice(0, 20).map(async (id) => {
      const at = resolvedAt.get(id) as number;
      const near = faults.map((f) => `${f.kind}${at <= f.start ? '-' : '+'}${Math.abs(at - f.start)}ms`).join(' ');
      const record = await ctx.direct.hexists(keys.jobs, id);
      return `${id}: resolved at ${near}; tries started ${starts.get(id)?.length ?? 0}, side effects ${effects.get(id)?.length ?? 0}, record ${record ? 'present' : 'absent'}, ${completedIds.has(id) ? 'completed' : dead.includes(id) ? 'dead' : 'not completed'}`;
    }),
  );
  let duplicates = 0;
  for (const list of effects.values()) duplicates += list.length - 1;

  // Consumer kills: what each killed process held, and how long until all of it ran again. It
  // held every try it started unless Redis took its completion or told it the lease was lost.
  for (const log of logs) {
    const at = ctx.killed.get(log.file);
    if (at === undefined) continue;
    const done = new Set(log.completions.map((c) => `${c.id} ${c.attempt}`));
    const held = log.starts.filter(
      (s) => !done.has(`${s.id} ${s.attempt}`) && !log.leaseLost.some((l) => l.id === s.id && l.at >= s.at),
    );
    let recovery: number | undefined;
    for (const s of held) {
      const again = (effects.get(s.id) ?? []).filter((t) => t > at);
      if (again.length > 0) recovery = Math.max(recovery ?? 0, Math.min(...again) - at);
    }
    consumerKills.push({ at, pid: log.pid, log: log.file, held: held.length, recovery });
  }
  consumerKills.sort((a, b) => a.at - b.at);

  // Redis faults: how long after each until completions resume.
  for (const fault of faults) {
    const next = completions.find((t) => t >= fault.end);
    fault.recovery = next === undefined ? undefined : next - fault.end;
  }

  const duplicateBound =
    consumerKills.reduce((sum, k) => sum + k.held, 0) + faults.reduce((sum, f) => sum + f.leased, 0);
  let tries = 0;
  for (const list of starts.values()) tries += list.length;
  const recoveries = faults.map((f) => f.recovery ?? Number.POSITIVE_INFINITY);
  const maxRecovery = recoveries.length ? Math.max(...recoveries) : 0;
  const leaseRecoveries = consumerKills.map((k) => k.recovery ?? 0);
  const completed = [...resolvedAt.keys()].filter((id) => completedIds.has(id)).length;
  const verdict =
    `chaos: jobs=${o.jobs} resolved=${resolvedAt.size} rejected-calls=${rejections.length} completed=${completed} ` +
    `lost=${lost.length} duplicates=${duplicates} (bound ${duplicateBound}) dead=${dead.length} ` +
    `consumer-kills=${consumerKills.length} consumer-restarts=${consumerKills.length} ` +
    `redis-restarts=${faults.filter((f) => f.kind === 'redis-kill').length} ` +
    `proxy-outages=${faults.filter((f) => f.kind === 'proxy-outage').length} ` +
    `max-recovery=${Number.isFinite(maxRecovery) ? `${maxRecovery}ms` : 'never'} ` +
    `max-lease-recovery=${leaseRecoveries.length ? Math.max(...leaseRecoveries) : 0}ms ` +
    `phantom-attempts=${phantomAttempts} time=${(ctx.durationMs / 1000).toFixed(1)}s`;

  return {
    options: o,
    queue: queueName,
    jobs: o.jobs,
    resolved: resolvedAt.size,
    rejections,
    rejectedButStored,
    completed,
    lost,
    lostDetail,
    duplicates,
    duplicateBound,
    dead,
    phantomAttempts,
    phantomCauses,
    tries,
    consumerKills,
    consumerStarts: ctx.consumerStarts,
    faults,
    leaseLost: logs.reduce((sum, l) => sum + l.leaseLost.length, 0),
    proxyDropped: ctx.proxy.dropped,
    proxyAccepted: ctx.proxy.accepted,
    durationMs: ctx.durationMs,
    verdict,
  };
}
