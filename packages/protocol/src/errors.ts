/**
 * Every failure docket raises on purpose carries one of these codes. The union is closed:
 * code that switches on `error.code` can be exhaustive.
 */
export type DocketErrorCode =
  /** An argument or option is missing, of the wrong type or out of range. */
  | 'INVALID_ARGUMENT'
  /** A payload or result that msgpack cannot encode faithfully. */
  | 'NOT_ENCODABLE'
  /** An encoded payload larger than `maxPayloadBytes`. */
  | 'PAYLOAD_TOO_LARGE'
  /** A job record in Redis that cannot be decoded. */
  | 'CORRUPT_RECORD'
  /** A queue's recorded meta (protocol version, strategy) disagrees with this process. */
  | 'QUEUE_MISMATCH'
  /** An ack or failure report whose lease (fencing token) is no longer current. */
  | 'LEASE_LOST'
  /** A try ran longer than its `timeout`, or `waitFor` gave up waiting. */
  | 'TIMEOUT'
  /** The job was cancelled (`producer.cancel`). */
  | 'CANCELLED'
  /** The job is dead: `waitFor` rejects with this, carrying the job's last error. */
  | 'JOB_FAILED'
  /** No job with this id exists (any more). */
  | 'NOT_FOUND'
  /** Redis refused a command, answered unexpectedly, or the connection failed mid-way. */
  | 'REDIS_ERROR'
  /** No usable connection to Redis within the connect timeout (unreachable, TLS handshake failed...). */
  | 'CONNECTION_FAILED'
  /** Redis refused the credentials: a wrong password or user name, a disabled user, or none given. */
  | 'AUTH_FAILED'
  /** The producer or consumer was closed. */
  | 'CLOSED';

const DOCKET_ERROR_NAME = 'DocketError';

export interface DocketErrorOptions {
  cause?: unknown;
  /** The job concerned, when there is one. */
  jobId?: string;
  /** The queue concerned, when there is one. */
  queue?: string;
}

/**
 * The one error class docket throws. Check with {@link isDocketError} rather than
 * `instanceof`, which fails when two copies of the package are installed.
 *
 * @example
 * try { await producer.enqueue(emails, payload, { attempts: 0 }) }
 * catch (err) { if (isDocketError(err) && err.code === 'INVALID_ARGUMENT') ... }
 */
export class DocketError extends Error {
  override readonly name = DOCKET_ERROR_NAME;
  readonly code: DocketErrorCode;
  readonly jobId: string | undefined;
  readonly queue: string | undefined;

  constructor(code: DocketErrorCode, message: string, options: DocketErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.jobId = options.jobId;
    this.queue = options.queue;
  }
}

/** True for a {@link DocketError} from any copy of this package (checks `name` and `code`). */
export function isDocketError(value: unknown, code?: DocketErrorCode): value is DocketError {
  if (value instanceof DocketError) return code === undefined || value.code === code;
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as { name?: unknown; code?: unknown };
  return (
    candidate.name === DOCKET_ERROR_NAME &&
    typeof candidate.code === 'string' &&
    (code === undefined || candidate.code === code)
  );
}
