// The driver's HTTP side: JSON requests to the demo server, and the bulk workload sent
// through them, half one job per request and half in batches.
import { Agent, request } from 'node:http';
import { accepted, refused } from './bookkeeping.js';
import type { Answer, BatchCreated, TaskCreated } from './http-api.js';
import { aborted } from './run-state.js';
import { type TaskSpec, WORKLOAD, batchTask, taskBody } from './workload.js';

/**
 * Keep-alive connections, as many as requests in flight. node:http rather than fetch: on
 * Node 20, fetch costs several times more CPU per request, and the driver would measure
 * its own overhead instead of docket's.
 */
const agent = new Agent({ keepAlive: true, maxSockets: WORKLOAD.httpConcurrency });
/**
 * The scenarios' own connections: behind the bulk workload's 32 busy sockets, a poll or a
 * DELETE would queue in the agent and the timings would measure that queue.
 */
export const scenarioAgent = new Agent({ keepAlive: true, maxSockets: 16 });

/** Closes the kept-alive connections, so that the server can shut down. */
export function closeAgents(): void {
  agent.destroy();
  scenarioAgent.destroy();
}

/** One JSON request to the demo server; `T` is what the body holds when it succeeds (see http-api.ts). */
export function http<T>(base: string, method: string, path: string, body?: unknown, via: Agent = agent): Promise<Answer<T>> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const headers = data === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) };
    const req = request(new URL(path, base), { method, agent: via, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) });
        } catch {
          reject(new Error(`${method} ${path}: ${res.statusCode} with a body that is not JSON: ${text.slice(0, 200)}`));
        }
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(data);
  });
}

/** Runs `tasks` with at most `limit` of them in flight (stops taking new ones once the run aborts). */
export async function pool(tasks: (() => Promise<void>)[], limit: number): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < tasks.length && !aborted()) await (tasks[next++] as () => Promise<void>)();
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, lane));
}

/** How the workload went out: jobs and requests, one by one and in batches. */
export interface SendStats {
  single: number;
  singleRequests: number;
  batched: number;
  batchRequests: number;
}

/**
 * Sends the workload: alternating groups go one request per job (POST /tasks) and one
 * request per kind (POST /tasks/batch), so both paths carry delayed and failing jobs.
 */
export async function sendWorkload(base: string, specs: TaskSpec[]): Promise<SendStats> {
  const stats: SendStats = { single: 0, singleRequests: 0, batched: 0, batchRequests: 0 };
  const requests: (() => Promise<void>)[] = [];
  for (let start = 0, group = 0; start < specs.length; start += WORKLOAD.batchSize, group++) {
    const chunk = specs.slice(start, start + WORKLOAD.batchSize);
    if (group % 2 === 1) {
      for (const spec of chunk) {
        requests.push(async () => {
          const res = await http<TaskCreated>(base, 'POST', '/tasks', taskBody(spec));
          stats.singleRequests++;
          const { queue, jobId } = res.body;
          if (res.status !== 201 || queue === undefined || jobId === undefined) return refused('POST /tasks', res, 1);
          stats.single++;
          accepted(spec, queue, jobId);
        });
      }
      continue;
    }
    for (const kind of ['email', 'report'] as const) {
      const ofKind = chunk.filter((s) => s.kind === kind);
      if (ofKind.length === 0) continue;
      requests.push(async () => {
        const res = await http<BatchCreated>(base, 'POST', '/tasks/batch', { kind, tasks: ofKind.map(batchTask) });
        stats.batchRequests++;
        const { queue, jobs } = res.body;
        if (res.status !== 201 || queue === undefined || jobs === undefined) return refused('POST /tasks/batch', res, ofKind.length);
        stats.batched += ofKind.length;
        jobs.forEach((j, k) => accepted(ofKind[k] as TaskSpec, queue, j.jobId));
      });
    }
  }
  await pool(requests, WORKLOAD.httpConcurrency);
  return stats;
}
