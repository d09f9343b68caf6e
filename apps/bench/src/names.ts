// The libraries compared, in the order every scenario runs them (no imports: report.ts uses it).
export const LIBRARIES = ['docket', 'bullmq', 'bee-queue'] as const;
export type LibraryName = (typeof LIBRARIES)[number];

export const LABELS: Record<LibraryName, string> = { docket: 'docket', bullmq: 'BullMQ', 'bee-queue': 'Bee-Queue' };
