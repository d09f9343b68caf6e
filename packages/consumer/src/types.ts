// The shapes the consumer's parts share: a queue as the consumer runs it, a leased try, a
// report on a finished try. Types only: every part imports them from here, so no part needs
// another's module for its types, and no import cycle appears.
import type { DocketError, QueueDefinition } from '@docket/protocol';
import type { JobHeader, LuaScript, QueueKeys, ReportKind, WireReport } from '@docket/protocol/internal';
import type { Job } from './job.js';

/** One of the consumer's queues: its keys, scripts and pending reports. */
export interface QueueRuntime {
  def: QueueDefinition;
  keys: QueueKeys;
  keyList: string[];
  step: LuaScript;
  renew: LuaScript;
  progress: LuaScript;
  /** Reports on finished tries, sent with the next step call on this queue. */
  reports: Report[];
  /** When (performance.now(), a monotonic clock) a step on this queue last did housekeeping (-Infinity: never). */
  housekeptAt: number;
  /** This consumer's inbox for push delivery, on a consumer of one queue only. */
  inbox: string | undefined;
  /** Its position in the consumer's `queues`. */
  index: number;
  /**
   * Entries of K_HANDED (lua/step.lua) that this consumer's earlier steps leased jobs under,
   * whose replies arrived but whose confirmation failed: sent again with the next step. (A lease
   * whose reply never arrived stays unconfirmed, and goes back uncounted when it expires.)
   */
  received: string[];
}

/** One leased try, from fetch until Redis has taken its report (or the lease is lost). */
export interface Lease {
  rt: QueueRuntime;
  job: Job;
  header: JobHeader;
  /** Created when the handler first reads `signal` (most never do): see try-context.ts. */
  controller: AbortController | undefined;
  /** Why the try's signal fired (kept for a signal created after the fact). */
  abortReason: unknown;
  timer: NodeJS.Timeout | undefined;
  /** The try's outcome is decided (first of: handler settled, timeout, release). */
  reported: boolean;
  /** Another consumer owns the job now; nothing about this try may be reported. */
  lost: boolean;
  /** Why the try was stopped early (timeout or cancellation); it decides the outcome. */
  stopped: DocketError | undefined;
  /** Progress waiting to be sent (only the latest counts), and whether a send is under way. */
  progressPending: Buffer | undefined;
  progressSending: boolean;
}

/** A try's outcome, from the moment it is decided until Redis answers the step that carries it. */
export interface Report extends WireReport {
  lease: Lease;
  error?: Error;
  result?: unknown;
  /** Sent before in a call whose reply was lost; a refusal now most likely means it was applied. */
  resent?: boolean;
}

export type { ReportKind };

/** What one step call did. */
export interface StepResult {
  leased: number;
  /** Jobs the step could have leased: the slots asked for plus those taken back from a registration. */
  wanted: number;
  /** ms until the next delayed job is due, Infinity if none. */
  nextDueIn: number;
  /** ms until a housekeeping step may find work (a lease deadline, a registration running out), Infinity if none. */
  nextHousekeepingIn: number;
}

/** The consumer's lifecycle. */
export type ConsumerStatus = 'new' | 'starting' | 'running' | 'closing' | 'closed';
