// Wire format `lease entries`, the TypeScript twin of lease-entries.lua: how a leased job
// reaches a consumer, in a step's reply or in an inbox element (push delivery). Per job: token
// (6 bytes), id length (2), record length (4), big-endian; then the id (UTF-8) and the record.
// Entries follow each other with nothing between them.

/** One leased job, as read from a packed buffer (the record still encoded). */
export interface LeaseEntry {
  token: number;
  id: string;
  record: Buffer;
}

/** Bytes before an entry's id. */
export const LEASE_ENTRY_HEAD_BYTES = 12;

/**
 * Reads the entry that starts at `at` in `packed`, calls `take(token, id, record)` with it, and
 * returns where the next entry starts. A callback rather than an object: a consumer at full
 * speed reads tens of thousands of entries a second.
 */
export function readLeaseEntry(packed: Buffer, at: number, take: (token: number, id: string, record: Buffer) => void): number {
  const token = packed.readUIntBE(at, 6);
  const idLength = packed.readUInt16BE(at + 6);
  const recordLength = packed.readUInt32BE(at + 8);
  const idStart = at + LEASE_ENTRY_HEAD_BYTES;
  const recordStart = idStart + idLength;
  take(token, packed.toString('utf8', idStart, recordStart), packed.subarray(recordStart, recordStart + recordLength));
  return recordStart + recordLength;
}

/** Every entry of `packed`, in order (for tests and tools; the consumer reads with readLeaseEntry). */
export function readLeaseEntries(packed: Buffer): LeaseEntry[] {
  const out: LeaseEntry[] = [];
  for (let at = 0; at < packed.length; ) at = readLeaseEntry(packed, at, (token, id, record) => out.push({ token, id, record }));
  return out;
}

/** The entries packed one after another, as lease-entries.lua writes them. */
export function packLeaseEntries(entries: readonly LeaseEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const { token, id, record } of entries) {
    const head = Buffer.allocUnsafe(LEASE_ENTRY_HEAD_BYTES);
    const idBytes = Buffer.from(id);
    head.writeUIntBE(token, 0, 6);
    head.writeUInt16BE(idBytes.length, 6);
    head.writeUInt32BE(record.length, 8);
    parts.push(head, idBytes, record);
  }
  return Buffer.concat(parts);
}
