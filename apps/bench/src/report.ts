// Turns the measurements into the table (console and Markdown) and the JSON record; the SVG
// chart of the ratios against their targets is in chart.ts.
import { LABELS, LIBRARIES, type LibraryName } from './names.js';

export type PerLibrary = Record<LibraryName, number | null>;

export interface Row {
  id: string;
  label: string;
  /** Shorter label for the chart. */
  short: string;
  unit: string;
  better: 'higher' | 'lower';
  values: PerLibrary;
  decimals: number;
  /** Target on the absolute docket value (e.g. p99 <= 2 ms), shown in the docket cell. */
  absolute?: { op: '<=' | '>='; value: number };
  /** Targets on docket ÷ other. */
  targets?: Partial<Record<'bullmq' | 'bee-queue', { op: '<=' | '>='; value: number }>>;
}

/** A throughput row (jobs/s, higher is better, no decimals) with its targets on docket ÷ other. */
export function rateRow(id: string, short: string, label: string, values: PerLibrary, targets?: Row['targets']): Row {
  return { id, short, label, unit: 'jobs/s', better: 'higher', values, decimals: 0, ...(targets ? { targets } : {}) };
}

export interface DocketOnlyRow {
  id: string;
  label: string;
  /** Shorter label for the chart. */
  short: string;
  measured: string;
  ratio: number | null;
  ratioLabel: string;
  target?: { op: '<=' | '>='; value: number };
}

export interface TargetResult {
  id: string;
  label: string;
  /** What `value` is, e.g. 'docket ÷ BullMQ' or 'docket p99 (ms)'. */
  measure: string;
  value: number | null;
  op: '<=' | '>=';
  target: number;
  met: boolean | null;
  /** For the chart: a short label, the value as a ratio and its target as a ratio (absolute targets: value ÷ bound). */
  chartLabel: string;
  chartValue: number | null;
  chartTarget: number;
  /** Unit of `value` and `target` ('×' for ratios). */
  unit: string;
}

export interface Machine {
  date: string;
  cpus: number;
  cpuModel: string;
  loadAverage: { start: number[]; end: number[] };
  memoryGiB: number;
  os: string;
  node: string;
  redis: string;
  redisTarget: string;
}

export interface Report {
  mode: 'full' | 'quick';
  machine: Machine;
  libraries: Record<LibraryName, string>;
  parameters: Record<string, number>;
  rows: Row[];
  docketOnly: DocketOnlyRow[];
  targets: TargetResult[];
  details: Record<string, unknown>;
  failures: { scenario: string; library: string; message: string }[];
  notes: string[];
  durationSeconds: number;
}

export const OPS = { '<=': '≤', '>=': '≥' } as const;

export function isMet(value: number | null, op: '<=' | '>=', target: number): boolean | null {
  if (value === null || !Number.isFinite(value)) return null;
  return op === '>=' ? value >= target : value <= target;
}

export function fmt(value: number | null, decimals = 0): string {
  if (value === null || !Number.isFinite(value)) return '—';
  return value.toLocaleString('en', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}

/**
 * A ratio with two decimals, or more when two would round onto the target it misses (so
 * "3.00× ❌ (≥ 3×)" reads "2.997× ❌ (≥ 3×)").
 */
export function ratioText(value: number, target?: { op: '<=' | '>='; value: number }): string {
  let decimals = 2;
  if (target && isMet(value, target.op, target.value) === false) {
    while (decimals < 6 && Number(value.toFixed(decimals)) === target.value) decimals++;
  }
  return value.toFixed(decimals);
}

const mark = (met: boolean | null) => (met === null ? '?' : met ? '✅' : '❌');

/** docket ÷ other. */
export function ratio(values: PerLibrary, other: LibraryName): number | null {
  const d = values.docket;
  const o = values[other];
  return d === null || o === null || o === 0 ? null : d / o;
}

export function collectTargets(rows: Row[], docketOnly: DocketOnlyRow[]): TargetResult[] {
  const out: TargetResult[] = [];
  for (const row of rows) {
    if (row.absolute) {
      const v = row.values.docket;
      out.push({
        id: `${row.id}-absolute`,
        label: `${row.label}: docket ${OPS[row.absolute.op]} ${row.absolute.value} ${row.unit}`,
        measure: `docket (${row.unit})`,
        value: v,
        op: row.absolute.op,
        target: row.absolute.value,
        met: isMet(v, row.absolute.op, row.absolute.value),
        chartLabel: `${row.short}, docket ÷ ${row.absolute.value} ${row.unit}`,
        chartValue: v === null ? null : v / row.absolute.value,
        chartTarget: 1,
        unit: ` ${row.unit}`,
      });
    }
    for (const other of ['bullmq', 'bee-queue'] as const) {
      const t = row.targets?.[other];
      if (!t) continue;
      const r = ratio(row.values, other);
      out.push({
        id: `${row.id}-vs-${other}`,
        label: `${row.label} vs ${LABELS[other]}`,
        measure: `docket ÷ ${LABELS[other]}`,
        value: r,
        op: t.op,
        target: t.value,
        met: isMet(r, t.op, t.value),
        chartLabel: `${row.short}, docket ÷ ${LABELS[other]}`,
        chartValue: r,
        chartTarget: t.value,
        unit: '×',
      });
    }
  }
  for (const row of docketOnly) {
    if (!row.target) continue;
    out.push({
      id: row.id,
      label: row.label,
      measure: row.ratioLabel,
      value: row.ratio,
      op: row.target.op,
      target: row.target.value,
      met: isMet(row.ratio, row.target.op, row.target.value),
      chartLabel: row.short,
      chartValue: row.ratio,
      chartTarget: row.target.value,
      unit: '×',
    });
  }
  return out;
}

function ratioCell(row: Row, other: 'bullmq' | 'bee-queue'): string {
  const r = ratio(row.values, other);
  const t = row.targets?.[other];
  const text = r === null ? '—' : `${ratioText(r, t)}×`;
  if (!t) return text;
  return `${text} ${mark(isMet(r, t.op, t.value))} (${OPS[t.op]} ${t.value}×)`;
}

function docketCell(row: Row): string {
  const text = fmt(row.values.docket, row.decimals);
  if (!row.absolute) return text;
  const met = isMet(row.values.docket, row.absolute.op, row.absolute.value);
  return `${text} ${mark(met)} (${OPS[row.absolute.op]} ${row.absolute.value})`;
}

/** A Markdown table padded so it also reads well in a terminal. */
function table(header: string[], body: string[][]): string {
  const width = (s: string) => [...s].length + (s.match(/[✅❌]/gu)?.length ?? 0); // emoji take two columns
  const widths = header.map((h, c) => Math.max(width(h), ...body.map((r) => width(r[c] ?? ''))));
  const line = (cells: string[]) =>
    `| ${cells.map((cell, c) => cell + ' '.repeat(Math.max(0, (widths[c] ?? 0) - width(cell)))).join(' | ')} |`;
  return [line(header), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...body.map(line)].join('\n');
}

export function resultsTable(report: Report): string {
  const header = ['scenario', 'unit', ...LIBRARIES.map((l) => LABELS[l]), 'docket ÷ BullMQ', 'docket ÷ Bee-Queue'];
  const body = report.rows.map((row) => [
    row.label,
    `${row.unit} (${row.better} is better)`,
    docketCell(row),
    fmt(row.values.bullmq, row.decimals),
    fmt(row.values['bee-queue'], row.decimals),
    ratioCell(row, 'bullmq'),
    ratioCell(row, 'bee-queue'),
  ]);
  return table(header, body);
}

export function docketOnlyTable(report: Report): string {
  const body = report.docketOnly.map((row) => {
    const r = row.ratio === null ? '—' : ratioText(row.ratio, row.target);
    const t = row.target ? `${mark(isMet(row.ratio, row.target.op, row.target.value))} (${OPS[row.target.op]} ${row.target.value})` : '';
    return [row.label, row.measured, `${row.ratioLabel}: ${r} ${t}`.trim()];
  });
  return table(['docket only', 'measured', 'ratio (target)'], body);
}

export function summaryLine(report: Report): string {
  const known = report.targets.filter((t) => t.met !== null);
  const met = known.filter((t) => t.met).length;
  const missed = report.targets.filter((t) => t.met === false).map((t) => t.label);
  return `targets met: ${met} of ${report.targets.length}${missed.length ? ` (missed: ${missed.join('; ')})` : ''}`;
}

export function machineLine(m: Machine): string {
  return (
    `${m.date} · ${m.cpus} × ${m.cpuModel} · load ${m.loadAverage.start.map((x) => x.toFixed(2)).join(' ')} ` +
    `→ ${m.loadAverage.end.map((x) => x.toFixed(2)).join(' ')} · ${m.memoryGiB.toFixed(1)} GiB · ${m.os} · ` +
    `Node ${m.node} · Redis ${m.redis} (${m.redisTarget})`
  );
}

export function markdown(report: Report, svgFile: string): string {
  const libs = LIBRARIES.map((l) => `${LABELS[l]} ${report.libraries[l]}`).join(', ');
  const params = Object.entries(report.parameters)
    .map(([k, v]) => `${k}=${v.toLocaleString('en')}`)
    .join(', ');
  const lines = [
    `# docket vs BullMQ vs Bee-Queue (${report.mode} run)`,
    '',
    `- machine: ${machineLine(report.machine)}`,
    `- libraries: ${libs}`,
    `- parameters: ${params}`,
    `- duration: ${report.durationSeconds.toFixed(0)} s`,
    `- ${summaryLine(report)}`,
    '',
    resultsTable(report),
    '',
    docketOnlyTable(report),
    '',
    `![docket's ratios against the targets](${svgFile})`,
    '',
  ];
  if (report.failures.length > 0) {
    lines.push('## Failures', '');
    for (const f of report.failures) lines.push(`- ${f.scenario} / ${f.library}: ${f.message}`);
    lines.push('');
  }
  if (report.notes.length > 0) {
    lines.push('## Notes', '');
    for (const n of report.notes) lines.push(`- ${n}`);
    lines.push('');
  }
  return lines.join('\n');
}
