// Statistics and table formatting shared by the runner's scenarios.

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * The median over repetitions of `a[r] / b[r]`: stacks ran interleaved within a repetition,
 * so pairing them there is steadier than dividing two medians. `undefined` without pairs.
 */
export function pairedRatio(a: readonly number[], b: readonly number[] | undefined): number | undefined {
  const ratios = pairedRatios(a, b);
  return ratios.length ? median(ratios) : undefined;
}

/** The per-repetition ratios `a[r] / b[r]` (finite pairs only); empty without `b`. */
export function pairedRatios(a: readonly number[], b: readonly number[] | undefined): number[] {
  if (!b) return [];
  const ratios: number[] = [];
  for (let r = 0; r < Math.min(a.length, b.length); r++) {
    const x = a[r]!;
    const y = b[r]!;
    if (Number.isFinite(x) && Number.isFinite(y) && y !== 0) ratios.push(x / y);
  }
  return ratios;
}

/** The per-repetition differences `a[r] − b[r]` (finite pairs only). */
export function pairedDifferences(a: readonly number[], b: readonly number[]): number[] {
  const diffs: number[] = [];
  for (let r = 0; r < Math.min(a.length, b.length); r++) {
    const x = a[r]!;
    const y = b[r]!;
    if (Number.isFinite(x) && Number.isFinite(y)) diffs.push(x - y);
  }
  return diffs;
}

/** Digits for a figure of this size: 3 significant ones, at most 2 decimals. */
export function fmt(x: number | undefined, decimals?: number): string {
  if (x === undefined || !Number.isFinite(x)) return '–';
  if (decimals !== undefined) return x.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
  const a = Math.abs(x);
  const d = a >= 100 ? 0 : a >= 10 ? 1 : 2;
  return x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}

/** "median (min–max)" of a series; a single value alone. */
export function spread(xs: readonly number[], decimals?: number): string {
  const finite = xs.filter(Number.isFinite);
  if (finite.length === 0) return '–';
  const m = fmt(median(finite), decimals);
  if (finite.length === 1) return m;
  return `${m} (${fmt(Math.min(...finite), decimals)}–${fmt(Math.max(...finite), decimals)})`;
}

export function ratio(x: number | undefined): string {
  return x === undefined ? '–' : `${x.toFixed(2)}×`;
}

/**
 * The median of per-repetition ratios with their min–max, e.g. `1.46× (1.31–1.60×)`;
 * the median alone for a single ratio, '–' for none.
 */
export function ratioSpread(ratios: readonly number[]): string {
  const finite = ratios.filter(Number.isFinite);
  if (finite.length === 0) return '–';
  const m = ratio(median(finite));
  if (finite.length === 1) return m;
  return `${m} (${Math.min(...finite).toFixed(2)}–${Math.max(...finite).toFixed(2)}×)`;
}

export function bytes(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return '–';
  return `${Math.round(x).toLocaleString('en-US')} B`;
}

export interface Table {
  readonly headers: readonly string[];
  readonly rows: readonly (readonly string[])[];
}

/** A markdown table; the first column left-aligned, the others right-aligned. */
export function markdownTable(t: Table): string {
  const line = (r: readonly string[]): string => `| ${r.join(' | ')} |`;
  return [line(t.headers), `|${t.headers.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`, ...t.rows.map(line)].join('\n');
}

/** The same table as aligned plain text, for the console. */
export function textTable(t: Table): string {
  const all = [t.headers, ...t.rows];
  const widths = t.headers.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]): string => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(t.headers), widths.map((w) => '-'.repeat(w)).join('  '), ...t.rows.map(line)].join('\n');
}

/** `list` rotated left by `by`: who goes first changes with every repetition. */
export function rotate<T>(list: readonly T[], by: number): T[] {
  if (list.length === 0) return [];
  const k = by % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}
