// What the scenarios share.

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
export const log = (line: string) => console.log(line);
/** A library did not do what the scenario expects (its message says what). */
export class Failure extends Error {}

export const describeError = (e: unknown) => (e instanceof Failure ? e.message : e instanceof Error ? `${e.name}: ${e.message}` : String(e));
