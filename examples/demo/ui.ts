/**
 * Terminal output for the demo: a live status line rewritten in place on a TTY, plain lines
 * elsewhere (CI, pipes, a test's captured output).
 */

/** Where the demo writes: `process.stdout`, or anything with `write` (a test's buffer). */
export interface DemoOutput {
  write(chunk: string): unknown;
  /** `true`: a live status line rewritten in place, with colours. Otherwise plain lines. */
  readonly isTTY?: boolean;
  /** Terminal width; the live line is cut to fit, so that it never wraps. */
  readonly columns?: number;
}

export type Tone = 'dim' | 'bold' | 'red' | 'green' | 'yellow' | 'cyan' | 'magenta' | 'plain';

/** A piece of text and how to colour it. */
export type Segment = readonly [text: string, tone?: Tone];

const CODES: Record<Tone, string> = {
  plain: '',
  dim: '\x1b[2m',
  bold: '\x1b[1m',
  red: '\x1b[31m',
  green: '\x1b[32m',
  yellow: '\x1b[33m',
  cyan: '\x1b[36m',
  magenta: '\x1b[35m',
};
const RESET = '\x1b[0m';
const CLEAR_LINE = '\r\x1b[2K';
const HIDE_CURSOR = '\x1b[?25l';
const SHOW_CURSOR = '\x1b[?25h';

export const number = (n: number): string => n.toLocaleString('en-US');

export class Screen {
  readonly live: boolean;
  private readonly color: boolean;
  private status: readonly Segment[] = [];
  private shown = false;

  constructor(
    private readonly out: DemoOutput,
    env: Record<string, string | undefined> = {},
  ) {
    this.live = out.isTTY === true;
    this.color = this.live && env.NO_COLOR === undefined && env.TERM !== 'dumb';
    if (this.live) out.write(HIDE_CURSOR);
  }

  /** Renders segments, cut to `width` visible characters when given. */
  private render(segments: readonly Segment[], width = Infinity): string {
    let text = '';
    let left = width;
    for (const [piece, tone = 'plain'] of segments) {
      if (left <= 0) break;
      const cut = piece.length > left ? piece.slice(0, Math.max(0, left - 1)) + '…' : piece;
      left -= cut.length;
      text += this.color && tone !== 'plain' ? `${CODES[tone]}${cut}${RESET}` : cut;
    }
    return text;
  }

  /** A permanent line (an event, the tally). On a TTY it goes above the live status line. */
  line(...segments: Segment[]): void {
    if (this.live) {
      this.out.write(`${CLEAR_LINE}${this.render(segments)}\n`);
      if (this.shown) this.out.write(this.render(this.status, this.width()));
    } else {
      this.out.write(`${this.render(segments)}\n`);
    }
  }

  /** Replaces the live status line (TTY only; elsewhere call {@link line} periodically). */
  setStatus(segments: readonly Segment[]): void {
    this.status = segments;
    if (!this.live) return;
    this.shown = true;
    this.out.write(`${CLEAR_LINE}${this.render(segments, this.width())}`);
  }

  /** Removes the live line and shows the cursor again. */
  end(): void {
    if (!this.live) return;
    this.out.write(`${this.shown ? CLEAR_LINE : ''}${SHOW_CURSOR}`);
    this.shown = false;
  }

  private width(): number {
    return Math.max(20, (this.out.columns || 100) - 1);
  }
}
