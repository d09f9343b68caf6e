// The SVG chart of docket's ratios against their targets. No chart library: the SVG is written
// by hand.
import { OPS, type Report, ratioText } from './report.js';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/**
 * Horizontal bars on a log scale centred on 1× (parity): each bar runs from 1× to the measured
 * ratio, a black tick marks the target, green when met, red when missed. For "lower is better"
 * targets (latency, memory) the bar should end left of the tick, otherwise right of it.
 */
export function svgChart(report: Report): string {
  const targets = report.targets;
  const rowH = 30;
  const charW = 6.7; // average width of a 12px sans-serif character
  const labelW = Math.ceil(Math.max(200, ...targets.map((t) => [...t.chartLabel].length * charW)) + 24);
  const plotW = 480;
  const valueW = 190;
  const top = 74;
  const width = labelW + plotW + valueW;
  const height = top + targets.length * rowH + 40;
  const values = targets.flatMap((t) => [t.chartTarget, ...(t.chartValue && t.chartValue > 0 ? [t.chartValue] : [])]);
  // Log axis from at most 1/16× to at most 32×; bars beyond are cut and end in an arrow.
  const lo = Math.max(1 / 16, Math.min(0.25, ...values.map((v) => v / 1.3)));
  const hi = Math.min(32, Math.max(4, ...values.map((v) => v * 1.3)));
  const l2 = Math.log2;
  const x = (v: number) => labelW + ((l2(Math.min(Math.max(v, lo), hi)) - l2(lo)) / (l2(hi) - l2(lo))) * plotW;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="bold">docket against the targets (${report.mode} run, ${esc(report.machine.date.slice(0, 16).replace('T', ' '))} UTC)</text>`,
    `<text x="12" y="42" fill="#555">Log scale. Each bar runs from 1× (parity) to the measured ratio; the black tick is the target. Green: met, red: missed.</text>`,
    `<text x="12" y="56" fill="#555">Throughput: ratio above target is better. Latency and memory (≤ targets): ratio below target is better.</text>`,
  );
  for (let e = Math.ceil(l2(lo)); e <= Math.floor(l2(hi)); e++) {
    const v = 2 ** e;
    const gx = x(v);
    out.push(
      `<line x1="${gx.toFixed(1)}" y1="${top - 2}" x2="${gx.toFixed(1)}" y2="${top + targets.length * rowH}" stroke="${v === 1 ? '#444' : '#e2e2e2'}" stroke-width="${v === 1 ? 1.5 : 1}"/>`,
      `<text x="${gx.toFixed(1)}" y="${top + targets.length * rowH + 16}" text-anchor="middle" fill="#555">${v >= 1 ? v : `1/${1 / v}`}×</text>`,
    );
  }
  targets.forEach((t, k) => {
    const y = top + k * rowH;
    const cy = y + rowH / 2;
    const color = t.met === null ? '#999' : t.met ? '#2e9d4a' : '#d23b3b';
    out.push(`<text x="${labelW - 10}" y="${cy + 4}" text-anchor="end">${esc(t.chartLabel)}</text>`);
    if (t.chartValue !== null && t.chartValue > 0) {
      const x0 = x(1);
      const x1 = x(t.chartValue);
      const clipped = t.chartValue > hi || t.chartValue < lo;
      out.push(
        `<rect x="${Math.min(x0, x1).toFixed(1)}" y="${(y + 7).toFixed(1)}" width="${Math.max(1.5, Math.abs(x1 - x0)).toFixed(1)}" height="${rowH - 14}" fill="${color}" rx="2"/>`,
      );
      if (clipped) {
        const d = t.chartValue > hi ? 1 : -1;
        out.push(`<path d="M ${x1.toFixed(1)} ${y + 5} l ${8 * d} ${rowH / 2 - 5} l ${-8 * d} ${rowH / 2 - 5} z" fill="${color}"/>`);
      }
    }
    const tx = x(t.chartTarget);
    out.push(`<line x1="${tx.toFixed(1)}" y1="${y + 3}" x2="${tx.toFixed(1)}" y2="${y + rowH - 3}" stroke="#000" stroke-width="2.5"/>`);
    const num = (v: number) => (v < 10 ? ratioText(v, { op: t.op, value: t.target }) : v.toFixed(1));
    const shown = t.value === null ? 'no data' : `${num(t.value)}${t.unit} (target ${OPS[t.op]} ${t.target}${t.unit})`;
    out.push(`<text x="${labelW + plotW + 14}" y="${cy + 4}" fill="${color}">${esc(shown)}</text>`);
  });
  out.push('</svg>', '');
  return out.join('\n');
}
