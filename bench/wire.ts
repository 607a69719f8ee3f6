// What the benchmark server and clients say to each other: JSON text frames, one object each.
// Shared by the server process (bench/server.ts) and the client workers (bench/client.ts).
//
//   server → client   {"type":"msg","channel":"t3","seq":13,…}  ~100 bytes, pushed or echoed
//                     {"type":"count","channel":"t0","n":…}      the send scenario's receipt
//                     {"type":"pong"}                            the reply to a ping
//   client → server   {"type":"go","n":200000}                   start the push
//                     {"type":"m","seq":1}                       one counted message (send scenario)
//                     {"type":"msg","channel":"t1","seq":1}      echoed verbatim (latency scenario)
//                     {"type":"subscribe","channel":"t0"}        counted per connection (reconnect, storm)
//                     {"type":"ping"}                            the full client's heartbeat

/** A message as every stack's subscribers see it. */
export interface Msg {
  readonly type: string;
  readonly channel?: string;
  readonly seq?: number;
  readonly n?: number;
}

/** Channels `t0` … `t9`: message `seq` belongs to channel `t${seq % CHANNELS}`. */
export const CHANNELS = 10;

export function channelOf(seq: number): string {
  return `t${seq % CHANNELS}`;
}

/** The subscribe message for channel `t${k}`, as user code or a channel spec sends it. */
export function subscribeMessage(k: number): { type: 'subscribe'; channel: string } {
  return { type: 'subscribe', channel: `t${k}` };
}

/** The pushed message `seq`: deterministic, ~100 bytes of JSON. */
export function pushedMessage(seq: number): string {
  // xorshift32 seeded by seq: the same bytes on every run.
  let x = (0x2545f491 ^ Math.imul(seq, 0x9e3779b1)) | 0;
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  const r = x >>> 0;
  return JSON.stringify({
    type: 'msg',
    channel: channelOf(seq),
    seq,
    price: 100 + (r % 100_000) / 1000,
    size: 100 * (1 + (r % 50)),
    side: r & 1 ? 'buy' : 'sell',
    ts: 1_700_000_000_000 + seq,
  });
}

/** How many of seq 1..n belong to channel `t${k}`. */
export function channelCount(n: number, k: number): number {
  const first = k === 0 ? CHANNELS : k;
  return n >= first ? Math.floor((n - first) / CHANNELS) + 1 : 0;
}

/**
 * Counts one subscriber's messages and checks their order: it should receive seq `first`,
 * `first + step`, … up to `expected` messages. Anything else (a gap, a duplicate, a message of
 * another type) is recorded once, as the first problem, and the count goes on.
 */
export class Sink {
  count = 0;
  private expectedSeq: number;
  private firstBad: string | undefined;

  constructor(
    readonly name: string,
    first: number,
    private readonly step: number,
    readonly expected: number,
  ) {
    this.expectedSeq = first;
  }

  /** Records one message; returns whether it was the expected one. */
  receive(m: Msg): boolean {
    if (m.type !== 'msg' || m.seq !== this.expectedSeq) {
      this.firstBad ??= `${this.name}: message #${this.count + 1} is ${JSON.stringify(m).slice(0, 80)}, expected seq ${this.expectedSeq}`;
      this.count++;
      return false;
    }
    this.expectedSeq += this.step;
    this.count++;
    return true;
  }

  problem(): string | undefined {
    if (this.firstBad !== undefined) return this.firstBad;
    if (this.count !== this.expected) return `${this.name}: received ${this.count} messages, expected ${this.expected}`;
    return undefined;
  }
}

/**
 * The sinks of one run of seq 1..n: one for a stack with a single subscriber (every message in
 * order), or one per channel for a fan-out stack (sink k gets channel `t${k}`: every tenth seq).
 */
export function makeSinks(n: number, subscribers: number): Sink[] {
  if (subscribers === 1) return [new Sink('subscriber', 1, 1, n)];
  return Array.from({ length: subscribers }, (_, k) => new Sink(`subscriber t${k}`, k === 0 ? CHANNELS : k, CHANNELS, channelCount(n, k)));
}
