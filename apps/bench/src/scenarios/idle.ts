// 6b. docket only: the commands an idle consumer (its own process, concurrency 50, empty queue)
// causes per second, from INFO commandstats deltas and, on the private server, MONITOR.
import { ConsumerProcess } from '../consumer-process.js';
import { monoMs } from '../libs.js';
import { commandCalls } from '../redis.js';
import type { DocketOnlyRow } from '../report.js';
import { docketAlone } from '../rounds.js';
import { CONCURRENCY, type Context, type Scenario, log, sleep, targetFor } from '../scenario.js';

declare module '../scenario.js' {
  interface Parameters {
    /** Seconds measured (after 1 s of start-up). */
    idleSeconds: number;
  }
}

interface Idle {
  seconds: number;
  /** INFO commandstats: every command Redis ran, including those run inside the consumer's scripts. */
  commandsPerSecond: number;
  byCommand: Record<string, number>;
  /** MONITOR (private server only): commands the consumer itself sent, i.e. its round trips. */
  sentPerSecond: number | null;
  sentByCommand: Record<string, number> | null;
}

/** Commands/s an idle docket consumer (own process, concurrency 50, empty queue) causes. */
async function idleRates(ctx: Context): Promise<Idle> {
  const target = targetFor(ctx, 'docket');
  const child = new ConsumerProcess({ mode: 'idle', lib: 'docket', target, queue: 'bench-idle', concurrency: CONCURRENCY });
  // MONITOR shows which commands came from a client and which ran inside a script ('lua'). On a
  // shared Redis other clients' commands would mix in: there, commandstats only.
  const monitor = ctx.redis.shared ? undefined : await ctx.admin.duplicate().monitor();
  let monitoring = false;
  const sentByCommand: Record<string, number> = {};
  monitor?.on('monitor', (_time: string, args: string[], source: string) => {
    const cmd = String(args[0] ?? '').toLowerCase();
    if (!monitoring || source === 'lua' || cmd === 'info') return;
    sentByCommand[cmd] = (sentByCommand[cmd] ?? 0) + 1;
  });
  try {
    await child.waitFor('ready', 30_000, 'the consumer to start');
    await sleep(1_000); // let start-up commands pass
    const before = await commandCalls(ctx.admin);
    monitoring = true;
    const t0 = monoMs();
    await sleep(ctx.p.idleSeconds * 1000);
    const after = await commandCalls(ctx.admin);
    monitoring = false;
    const seconds = (monoMs() - t0) / 1000;
    const byCommand: Record<string, number> = {};
    let total = 0;
    for (const [cmd, calls] of after) {
      if (cmd === 'info' || cmd === 'monitor') continue; // our own measurement
      const delta = calls - (before.get(cmd) ?? 0);
      if (delta > 0) {
        byCommand[cmd] = delta;
        total += delta;
      }
    }
    await child.stop();
    const sent = Object.values(sentByCommand).reduce((a, b) => a + b, 0);
    return {
      seconds,
      commandsPerSecond: total / seconds,
      byCommand,
      sentPerSecond: monitor ? sent / seconds : null,
      sentByCommand: monitor ? sentByCommand : null,
    };
  } finally {
    child.kill();
    monitor?.disconnect();
  }
}

const list = (by: Record<string, number>) => Object.entries(by).map(([c, n]) => `${c} ${n}`).join(', ') || 'none';

export const idle: Scenario = {
  name: 'idle',
  measures: 'commands/s an idle docket consumer causes (no target)',
  parameters: { full: { idleSeconds: 10 }, quick: { idleSeconds: 1.5 } },
  docketOnly: true,
  async run(ctx) {
    log(`6b. docket: idle consumer's command rate (INFO commandstats and MONITOR over ${ctx.p.idleSeconds} s)`);
    const r = await docketAlone(ctx, 'idle', async () => {
      const r = await idleRates(ctx);
      log(`  ${r.commandsPerSecond.toFixed(2)} commands/s in commandstats (${list(r.byCommand)}; includes commands run inside scripts)`);
      if (r.sentPerSecond !== null) log(`  ${r.sentPerSecond.toFixed(2)} commands/s sent by the consumer (MONITOR: ${list(r.sentByCommand ?? {})})`);
      return r;
    });
    if (!r) return {};
    const row: DocketOnlyRow = {
      id: 'idle',
      short: 'idle consumer',
      label: `idle consumer (concurrency ${CONCURRENCY}), commands/s over ${r.seconds.toFixed(0)} s`,
      measured:
        `${r.commandsPerSecond.toFixed(2)}/s in commandstats (incl. inside scripts)` +
        (r.sentPerSecond !== null ? `; ${r.sentPerSecond.toFixed(2)}/s sent (${list(r.sentByCommand ?? {})})` : ''),
      ratio: null,
      ratioLabel: 'no target (design: "a handful per second")',
    };
    return { docketOnly: [row], details: { idle: r } };
  },
};
