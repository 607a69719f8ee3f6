// Command-line flags of the bench scripts (bench/run.ts, bench/pipeline.ts, bench/storm/main.ts):
// node:util's parseArgs for the syntax (`--flag value`, `--flag=value`, `-h`), and the checks
// they share, each ending in the script's own `usage(message)` (which exits with status 2).
import { parseArgs } from 'node:util';

export type Usage = (message: string) => never;

/**
 * Parses `argv` against `options` (parseArgs' own option specs). `--help`/`-h` and every
 * unknown flag or missing value call `usage`.
 */
export function readFlags<const O extends Record<string, { type: 'boolean' | 'string' }>>(
  argv: readonly string[],
  options: O,
  usage: Usage,
): { [K in keyof O]?: O[K]['type'] extends 'boolean' ? boolean : string } {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    }) as { values: Record<string, string | boolean | undefined> });
  } catch (error) {
    usage((error as Error).message);
  }
  if (values.help) usage('help');
  return values as { [K in keyof O]?: O[K]['type'] extends 'boolean' ? boolean : string };
}

/** `value` as a number that passes `check`; `undefined` stays `undefined`. */
export function numberFlag(
  flag: string,
  value: string | undefined,
  check: (n: number) => boolean,
  what: string,
  usage: Usage,
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !check(n)) usage(`${flag} needs ${what}, got ${value}`);
  return n;
}

/** A comma-separated list of ids, each one of `allowed`; `undefined` stays `undefined`. */
export function listFlag<T extends string>(
  flag: string,
  value: string | undefined,
  allowed: readonly T[],
  usage: Usage,
): T[] | undefined {
  if (value === undefined) return undefined;
  const items = value.split(',').filter(Boolean);
  const unknown = items.filter((x) => !allowed.includes(x as T));
  if (items.length === 0 || unknown.length) usage(`${flag}: unknown ${unknown.join(', ') || '(none given)'}`);
  return items as T[];
}
