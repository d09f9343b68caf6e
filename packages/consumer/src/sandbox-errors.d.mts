/** An error as it crosses between a sandbox pool and its threads (see sandbox-errors.mjs). */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  code?: string | number;
  jobId?: string;
  queue?: string;
  cause?: SerializedError;
}

export function isErrorLike(value: unknown): value is Error;
export function serializeError(value: unknown, describe: (value: unknown) => string, depth?: number): SerializedError;
export function restoreFields<E extends Error>(err: E, s: SerializedError): E;
