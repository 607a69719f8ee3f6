// An SVG line chart of attempts per 100 ms bucket, one line per strategy, log y axis. Written
// by hand: no dependency earns its place for one chart.
import { BUCKET_MS, type StormResult } from './simulate.js';

/** What the chart shows besides the series. */
export interface StormChartOptions {
  readonly title: string;
  /** The right end of the x axis, in s. */
  readonly xMaxSeconds: number;
  /** Draws a dashed horizontal line at this many attempts per bucket (the server's capacity). */
  readonly capacityPerBucket: number;
  /** Vertical markers, in s, with their labels ("server up", "N/C + D"). */
  readonly markers: readonly { readonly atSeconds: number; readonly label: string }[];
}

const WIDTH = 1000;
const HEIGHT = 560;
const LEFT = 78;
const RIGHT = 24;
const TOP = 72;
const BOTTOM = 56;
const LEGEND_WIDTH = 250;

/** One colour per strategy id; unknown ids cycle through the rest. */
const COLOURS: Readonly<Record<string, string>> = {
  fixed: '#7f7f7f',
  exponential: '#d62728',
  full: '#1f77b4',
  equal: '#2ca02c',
  decorrelated: '#9467bd',
  'full-hints': '#ff7f0e',
  'full-hints-floor': '#17becf',
};
const SPARE = ['#8c564b', '#e377c2', '#bcbd22', '#393b79'];

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** 1, 2, 5 × 10^k: the tick step that gives about `target` ticks over `range`. */
function niceStep(range: number, target: number): number {
  const raw = range / target;
  const power = 10 ** Math.floor(Math.log10(raw));
  const unit = raw / power;
  return (unit <= 1 ? 1 : unit <= 2 ? 2 : unit <= 5 ? 5 : 10) * power;
}

function formatCount(value: number): string {
  if (value >= 1e6) return `${value / 1e6}M`;
  if (value >= 1e3) return `${value / 1e3}k`;
  return String(value);
}

/** A white outline under reference labels, so lines crossing them do not hide the text. */
const HALO = ' paint-order="stroke" stroke="#ffffff" stroke-width="3" stroke-linejoin="round"';

const round = (value: number): string => (Math.round(value * 10) / 10).toString();

/**
 * Renders the attempts-per-bucket series of `results` as one SVG document: one `<path>` per
 * result (and no other `<path>`), a log y axis in decades from 1 (a bucket with 0 or 1 attempt
 * sits on the x axis), a legend with each strategy's drain time, and dashed reference lines.
 * A series that goes on past `xMaxSeconds` is cut there; its legend entry says so.
 *
 * @param results - The runs to draw, in legend order.
 * @param options - Title, x range, reference lines.
 * @returns The SVG text.
 */
export function renderStormChart(results: readonly StormResult[], options: StormChartOptions): string {
  const plotLeft = LEFT;
  const plotRight = WIDTH - RIGHT - LEGEND_WIDTH;
  const plotTop = TOP;
  const plotBottom = HEIGHT - BOTTOM;
  const xMax = options.xMaxSeconds;
  const lastBucket = Math.ceil((xMax * 1000) / BUCKET_MS);
  let peak = 1;
  for (const result of results) {
    const end = Math.min(result.buckets, lastBucket);
    for (let b = 0; b < end; b++) peak = Math.max(peak, result.attemptsPerBucket[b]!);
  }
  const decades = Math.max(1, Math.ceil(Math.log10(peak)));
  const x = (seconds: number): number => plotLeft + (seconds / xMax) * (plotRight - plotLeft);
  const y = (count: number): number => plotBottom - (Math.log10(Math.max(1, count)) / decades) * (plotBottom - plotTop);

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="12">`,
  );
  out.push(`<rect x="0" y="0" width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`);
  out.push(`<text x="${WIDTH / 2}" y="28" text-anchor="middle" font-size="16" font-weight="600">${escapeXml(options.title)}</text>`);

  // Grid and y axis: one line per decade.
  for (let d = 0; d <= decades; d++) {
    const value = 10 ** d;
    const py = round(y(value));
    out.push(`<line x1="${plotLeft}" y1="${py}" x2="${plotRight}" y2="${py}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${plotLeft - 8}" y="${py}" dy="4" text-anchor="end">${d === 0 ? '≤1' : formatCount(value)}</text>`);
  }
  // x axis ticks.
  const step = niceStep(xMax, 10);
  for (let s = 0; s <= xMax + 1e-9; s += step) {
    const px = round(x(s));
    out.push(`<line x1="${px}" y1="${plotBottom}" x2="${px}" y2="${plotBottom + 5}" stroke="#333"/>`);
    out.push(`<text x="${px}" y="${plotBottom + 19}" text-anchor="middle">${round(s)}</text>`);
  }
  out.push(`<line x1="${plotLeft}" y1="${plotBottom}" x2="${plotRight}" y2="${plotBottom}" stroke="#333"/>`);
  out.push(`<line x1="${plotLeft}" y1="${plotTop}" x2="${plotLeft}" y2="${plotBottom}" stroke="#333"/>`);
  out.push(`<text x="${(plotLeft + plotRight) / 2}" y="${HEIGHT - 14}" text-anchor="middle">time since the drop (s)</text>`);
  out.push(
    `<text transform="translate(20 ${(plotTop + plotBottom) / 2}) rotate(-90)" text-anchor="middle">handshake attempts per 100 ms (log scale)</text>`,
  );

  // Reference lines.
  const capY = round(y(options.capacityPerBucket));
  out.push(`<line x1="${plotLeft}" y1="${capY}" x2="${plotRight}" y2="${capY}" stroke="#000" stroke-dasharray="6 4"/>`);
  // Labels go on top of the series, drawn after them.
  const labels: string[] = [
    `<text x="${plotRight - 4}" y="${capY}" dy="-5" text-anchor="end"${HALO}>server capacity: ${formatCount(options.capacityPerBucket)} per 100 ms</text>`,
  ];
  options.markers.forEach((marker, i) => {
    if (marker.atSeconds > xMax) return;
    const px = round(x(marker.atSeconds));
    out.push(`<line x1="${px}" y1="${plotTop}" x2="${px}" y2="${plotBottom}" stroke="#555" stroke-dasharray="2 3"/>`);
    labels.push(`<text x="${px}" y="${plotTop - 6 - 13 * (i % 2)}" dx="3" text-anchor="start" fill="#333"${HALO}>${escapeXml(marker.label)}</text>`);
  });

  // Series: one path each. Runs of equal values keep only their ends.
  results.forEach((result, i) => {
    const colour = COLOURS[result.strategy.id] ?? SPARE[i % SPARE.length]!;
    const end = Math.min(result.buckets, lastBucket);
    const series = result.attemptsPerBucket;
    const parts: string[] = [];
    for (let b = 0; b < end; b++) {
      const value = series[b]!;
      const same = b > 0 && b < end - 1 && series[b - 1] === value && series[b + 1] === value;
      if (same) continue;
      const px = round(x(((b + 0.5) * BUCKET_MS) / 1000));
      parts.push(`${parts.length === 0 ? 'M' : 'L'}${px} ${round(y(value))}`);
    }
    if (parts.length === 0) parts.push(`M${plotLeft} ${plotBottom}`);
    const dashed = result.strategy.hints === 'floor-only' ? ' stroke-dasharray="5 3"' : '';
    const faint = result.strategy.deterministic ? ' stroke-opacity="0.4"' : '';
    out.push(
      `<path d="${parts.join(' ')}" fill="none" stroke="${colour}" stroke-width="1.4"${dashed}${faint}><title>${escapeXml(result.strategy.label)}</title></path>`,
    );
  });

  out.push(...labels);

  // Legend.
  const legendX = plotRight + 16;
  out.push(`<text x="${legendX}" y="${plotTop + 4}" font-weight="600">strategy (all reconnected at)</text>`);
  results.forEach((result, i) => {
    const colour = COLOURS[result.strategy.id] ?? SPARE[i % SPARE.length]!;
    const ly = plotTop + 26 + i * 36;
    out.push(`<rect x="${legendX}" y="${ly - 6}" width="18" height="4" fill="${colour}"/>`);
    out.push(`<text x="${legendX + 24}" y="${ly}">${escapeXml(result.strategy.label)}</text>`);
    const drained = result.drainedAtMs;
    const note =
      drained === undefined
        ? `not drained (${result.pending.toLocaleString('en-US')} waiting)`
        : `${round(drained / 1000)} s = ${(drained / result.boundMs).toFixed(2)}× bound${drained / 1000 > xMax ? ', off chart' : ''}`;
    out.push(`<text x="${legendX + 24}" y="${ly + 15}" fill="#555">${escapeXml(note)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
