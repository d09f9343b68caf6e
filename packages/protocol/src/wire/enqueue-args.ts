// Wire format `enqueue arguments`, the TypeScript twin of enqueue-args.lua: the jobs of one
// enqueue call, packed into one script argument. Per job: a 2-byte spec length, the spec, a
// 4-byte record length and the record (big-endian lengths). The spec is '' for a job with a
// generated id, ready now, at priority 0 (the common case), else '<delay ms>:<priority>:<id>'
// (id '' to generate one).

/** One job as the enqueue script receives it: its spec and its record, as head + payload. */
export interface EnqueueArgsJob {
  spec: string;
  /** The record's bytes before the payload (see encodeRecordHead). */
  head: Buffer;
  /** The encoded payload: the record is head + payload. */
  payload: Buffer;
}

/** A job's spec: '' for the common case (generated id, no delay, priority 0). */
export function jobSpec(id: string, delay: number, priority: number): string {
  return id === '' && delay === 0 && priority === 0 ? '' : `${delay}:${priority}:${id}`;
}

/** The jobs as one buffer, in order (records copied straight from head and payload). */
export function packEnqueueArgs(jobs: readonly EnqueueArgsJob[]): Buffer {
  let size = 0;
  for (const job of jobs) size += 6 + Buffer.byteLength(job.spec) + job.head.length + job.payload.length;
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const { spec, head, payload } of jobs) {
    const specLength = spec === '' ? 0 : out.write(spec, at + 2);
    out.writeUInt16BE(specLength, at);
    at += 2 + specLength;
    out.writeUInt32BE(head.length + payload.length, at);
    at += 4;
    out.set(head, at);
    at += head.length;
    out.set(payload, at);
    at += payload.length;
  }
  return out;
}

/** Reads what packEnqueueArgs wrote, as { spec, record } per job (for tests and tools). */
export function unpackEnqueueArgs(packed: Buffer): { spec: string; record: Buffer }[] {
  const out: { spec: string; record: Buffer }[] = [];
  for (let at = 0; at < packed.length; ) {
    const specLength = packed.readUInt16BE(at);
    const spec = packed.toString('utf8', at + 2, at + 2 + specLength);
    at += 2 + specLength;
    const recordLength = packed.readUInt32BE(at);
    out.push({ spec, record: Buffer.from(packed.subarray(at + 4, at + 4 + recordLength)) });
    at += 4 + recordLength;
  }
  return out;
}
