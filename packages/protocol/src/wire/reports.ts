// Wire format `reports`, the TypeScript twin of reports.lua: a consumer's reports on finished
// tries, packed into the one argument of a step call. Per report: kind (1 byte), token
// (6 bytes), retry delay ms (6 bytes), then id, error message and result bytes, each after a
// 4-byte length. Big-endian.

/**
 * What a try's report says happened: 'c' completed, 'f' failed (retried while attempts remain),
 * 'x' failed for good, 'k' stopped because it was cancelled, 'r' released unfinished (back to
 * waiting, its attempt not counted).
 */
export type ReportKind = 'c' | 'f' | 'x' | 'r' | 'k';

/** The fields of one report that go over the wire. */
export interface WireReport {
  kind: ReportKind;
  id: string;
  /** The fencing token of the try's lease. */
  token: number;
  /** ms until the retry ('f'); 0 otherwise. Rounded, clamped to 0..2^48-1. */
  delay: number;
  /** The error message ('' for none). */
  message: string;
  /** The encoded result ('' for none). */
  resultBytes: Buffer | '';
}

const MAX_DELAY = 2 ** 48 - 1;

/** The reports as one buffer, in order. */
export function packReports(reports: readonly WireReport[]): Buffer {
  let size = 0;
  for (const r of reports) {
    size += 25 + Buffer.byteLength(r.id) + (r.message === '' ? 0 : Buffer.byteLength(r.message)) + r.resultBytes.length;
  }
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const r of reports) {
    out[at] = r.kind.charCodeAt(0);
    out.writeUIntBE(r.token, at + 1, 6);
    out.writeUIntBE(Math.min(Math.max(0, Math.round(r.delay)), MAX_DELAY), at + 7, 6);
    const idLength = out.write(r.id, at + 17);
    out.writeUInt32BE(idLength, at + 13);
    at += 17 + idLength;
    const messageLength = r.message === '' ? 0 : out.write(r.message, at + 4);
    out.writeUInt32BE(messageLength, at);
    at += 4 + messageLength;
    out.writeUInt32BE(r.resultBytes.length, at);
    at += 4;
    if (r.resultBytes !== '') at += r.resultBytes.copy(out, at);
  }
  return out;
}

/** Reads what packReports wrote (for tests and tools). */
export function unpackReports(packed: Buffer): WireReport[] {
  const out: WireReport[] = [];
  for (let at = 0; at < packed.length; ) {
    const kind = String.fromCharCode(packed[at] as number) as ReportKind;
    const token = packed.readUIntBE(at + 1, 6);
    const delay = packed.readUIntBE(at + 7, 6);
    const idLength = packed.readUInt32BE(at + 13);
    const id = packed.toString('utf8', at + 17, at + 17 + idLength);
    at += 17 + idLength;
    const messageLength = packed.readUInt32BE(at);
    const message = packed.toString('utf8', at + 4, at + 4 + messageLength);
    at += 4 + messageLength;
    const resultLength = packed.readUInt32BE(at);
    const resultBytes = resultLength === 0 ? '' : Buffer.from(packed.subarray(at + 4, at + 4 + resultLength));
    at += 4 + resultLength;
    out.push({ kind, id, token, delay, message, resultBytes });
  }
  return out;
}
