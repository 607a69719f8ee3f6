// The marble language of a scripted connection; internal to rxtether/testing.

/** One scripted server event, at a frame counted from the connection's creation. */
export interface ScriptEvent {
  readonly frame: number;
  readonly kind: 'open' | 'message' | 'close' | 'freeze';
  /** The marble character of a message. */
  readonly key: string;
}

/** Characters with a meaning of their own: they cannot name a message in `values`. */
export const RESERVED_CHARS = ['o', '#', '~', '-', ' ', '(', ')', '|', '^', '!', '[', ']'] as const;

const SYMBOLS: Readonly<Record<string, ScriptEvent['kind']>> = { o: 'open', '#': 'close', '~': 'freeze' };

const HINTS: Readonly<Record<string, string>> = {
  '|': "a socket does not complete: end the connection with '#' (its code comes from `close`)",
  '^': "'^' marks a subscription point; a connection's script starts when the client creates the socket",
  '!': "'!' marks an unsubscription; the client closes the socket itself",
  '[': 'inner-observable brackets have no meaning in a connection script',
  ']': 'inner-observable brackets have no meaning in a connection script',
};

const TIME_PROGRESSION = /^(\d+(?:\.\d+)?)(ms|s|m)(?: |$)/;
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000 };

/**
 * Parses one connection's marbles, with the frame rules of `TestScheduler.run` (1 ms per
 * character, spaces ignored, `(…)` groups, `10ms` time progressions), and checks that the
 * script is something a server could do: at most one open, no message before it, nothing after
 * the close or the freeze.
 *
 * @param where - Names the argument in error messages, e.g. `createFakeServer: scripts[1]`.
 * @param isValue - Whether a character names a message in `values`.
 */
export function parseScript(marbles: string, isValue: (char: string) => boolean, where: string): ScriptEvent[] {
  if (typeof marbles !== 'string') {
    throw new TypeError(`${where}: marbles must be a string, got ${marbles === null ? 'null' : typeof marbles}`);
  }
  const events: ScriptEvent[] = [];
  const at = (i: number): string => `at index ${i} of ${JSON.stringify(marbles)}`;
  let frame = 0;
  let groupStart = -1;
  let opened = false;
  let ended: string | undefined; // the character that ended the script
  for (let i = 0; i < marbles.length; i++) {
    const c = marbles[i]!;
    if (c === ' ') continue;
    if (c === '-') {
      frame += 1;
      continue;
    }
    if (/\d/.test(c) && (i === 0 || marbles[i - 1] === ' ')) {
      const match = TIME_PROGRESSION.exec(marbles.slice(i));
      if (match) {
        frame += Number(match[1]) * UNIT_MS[match[2]!]!;
        i += match[0].length - 1;
        continue;
      }
    }
    if (c === '(') {
      if (groupStart !== -1) throw new TypeError(`${where}: nested '(' ${at(i)}: groups cannot be nested`);
      groupStart = frame;
      frame += 1;
      continue;
    }
    if (c === ')') {
      if (groupStart === -1) throw new TypeError(`${where}: ')' without '(' ${at(i)}`);
      groupStart = -1;
      frame += 1;
      continue;
    }
    const hint = HINTS[c];
    if (hint) throw new TypeError(`${where}: unexpected '${c}' ${at(i)}: ${hint}`);
    const kind = SYMBOLS[c] ?? 'message';
    if (kind === 'message' && !isValue(c)) {
      const digit = /\d/.test(c) ? ' (a time progression such as 10ms needs a space before and after it)' : '';
      throw new TypeError(`${where}: '${c}' ${at(i)} has no message in values${digit}`);
    }
    if (ended !== undefined) {
      throw new TypeError(`${where}: '${c}' ${at(i)} comes after '${ended}': nothing can happen after the connection ${ended === '#' ? 'closed' : 'froze'}`);
    }
    if (kind === 'open') {
      if (opened) throw new TypeError(`${where}: a second 'o' ${at(i)}: a connection opens once`);
      opened = true;
    } else if (kind === 'message' && !opened) {
      throw new TypeError(`${where}: message '${c}' ${at(i)} comes before 'o': a server sends nothing before the socket opens`);
    } else if (kind === 'close' || kind === 'freeze') {
      ended = c;
    }
    events.push({ frame: groupStart === -1 ? frame : groupStart, kind, key: c });
    frame += 1;
  }
  if (groupStart !== -1) throw new TypeError(`${where}: '(' is never closed in ${JSON.stringify(marbles)}`);
  return events;
}
