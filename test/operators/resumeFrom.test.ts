import { type Observable, Subject, defer, tap } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import {
  ResumeGapError,
  type ResumeCursor,
  compareCursors,
  createResumeCursor,
  isNextInSequence,
  isResumeGapError,
  resumeFrom,
  retryWithJitteredBackoff,
} from '../../operators/index.js';

const createTestScheduler = (): TestScheduler =>
  new TestScheduler((actual, expected) => {
    expect(actual).toEqual(expected);
  });

interface Msg {
  readonly seq?: number;
  readonly session?: string;
  readonly type?: string;
}

/** `values['3']` is `{ seq: 3 }`; `a`–`c` are session A, `x`–`z` session B; `k` a keep-alive. */
const values: Record<string, Msg> = {
  1: { seq: 1 },
  2: { seq: 2 },
  3: { seq: 3 },
  4: { seq: 4 },
  5: { seq: 5 },
  6: { seq: 6 },
  7: { seq: 7 },
  8: { seq: 8 },
  a: { seq: 1, session: 'A' },
  b: { seq: 2, session: 'A' },
  c: { seq: 3, session: 'A' },
  x: { seq: 1, session: 'B' },
  y: { seq: 2, session: 'B' },
  z: { seq: 3, session: 'B' },
  k: { type: 'keepalive' },
};

const seqCursor = () => createResumeCursor({ cursorOf: (m: Msg) => m.seq });

/** One scripted connection per subscription; `requests` records the cursor each one was opened with. */
function connections<T>(requests: unknown[], read: () => unknown, ...scripts: Observable<T>[]): Observable<T> {
  let n = 0;
  return defer(() => {
    requests.push(read());
    const next = scripts[n++];
    if (next === undefined) throw new Error('test: no more connections scripted');
    return next;
  });
}

describe('resumeFrom', () => {
  describe('dedupe across re-subscription', () => {
    it('should drop replayed values and resume from the last cursor delivered before the drop', () => {
      const cursor = seqCursor();
      const requests: unknown[] = [];
      createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const first = cold('  -1-2-3-#', values);
        const second = cold(' ---2-3-4-5-#', values); // replays 2 and 3
        const third = cold('  --5-6-|', values); //      replays 5
        const result = connections(requests, () => cursor.current, first, second, third).pipe(
          resumeFrom(cursor),
          retryWithJitteredBackoff({ initialDelay: 2, jitter: 'none' }),
        );
        expectObservable(result).toBe('-1-2-3 10ms 4-5 7ms 6-|', values);
        expectSubscriptions(first.subscriptions).toBe('^------!');
        expectSubscriptions(second.subscriptions).toBe('9ms ^----------!');
        expectSubscriptions(third.subscriptions).toBe('22ms ^-----!');
      });
      // Each reconnect read the cursor delivered downstream before the drop, never one of the new connection.
      expect(requests).toEqual([undefined, 3, 5]);
      expect(cursor.current).toBe(6);
    });

    it('should deliver 8–11 exactly once when the server replays an overlapping range', () => {
      const cursor = createResumeCursor({ cursorOf: (n: number) => n });
      createTestScheduler().run(({ cold, expectObservable }) => {
        const nums = { 1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 7, 8: 8, 9: 9, A: 10, B: 11 };
        const first = cold('1234567#', nums);
        const second = cold('56789AB|', nums);
        const result = connections([], () => cursor.current, first, second).pipe(
          resumeFrom(cursor),
          retryWithJitteredBackoff({ initialDelay: 1, jitter: 'none' }),
        );
        expectObservable(result).toBe('1234567 4ms 89AB|', nums);
      });
    });

    it('should pass values without a cursor through untouched, even between replays', () => {
      const cursor = seqCursor();
      cursor.set(2);
      createTestScheduler().run(({ cold, expectObservable }) => {
        const source = cold('-1k2k3k|', values);
        expectObservable(source.pipe(resumeFrom(cursor))).toBe('--k-k3k|', values);
      });
      expect(cursor.current).toBe(3);
    });

    it('should pass errors and completion through and keep the cursor', () => {
      const cursor = seqCursor();
      const error = new Error('closed');
      createTestScheduler().run(({ cold, expectObservable }) => {
        expectObservable(cold('-1-2-#', values, error).pipe(resumeFrom(cursor))).toBe('-1-2-#', values, error);
      });
      expect(cursor.current).toBe(2);
    });
  });

  describe('gaps', () => {
    it('should error with a ResumeGapError on a jump and keep the cursor at the last delivered value', () => {
      const cursor = createResumeCursor({ cursorOf: (m: Msg) => m.seq, isNext: isNextInSequence });
      createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold('-1-2-4-5-', values);
        expectObservable(source.pipe(resumeFrom(cursor))).toBe('-1-2-#', values, new ResumeGapError('gap', 2, 4));
        expectSubscriptions(source.subscriptions).toBe('^----!');
      });
      expect(cursor.current).toBe(2);
    });

    it('should call onGap before the value that follows the jump, then continue', () => {
      const cursor = createResumeCursor({ cursorOf: (m: Msg) => m.seq, isNext: isNextInSequence });
      const log: string[] = [];
      const testScheduler = createTestScheduler();
      testScheduler.run(({ cold, expectObservable }) => {
        const source = cold('-1-2-4-5-8|', values);
        const result = source.pipe(
          resumeFrom(cursor, {
            onGap: (gap) => log.push(`${gap.kind} ${String(gap.previous)}→${gap.received} at ${testScheduler.now()}`),
          }),
          tap((m) => log.push(`seq ${m.seq}`)),
        );
        expectObservable(result).toBe('-1-2-4-5-8|', values);
      });
      expect(log).toEqual(['seq 1', 'seq 2', 'gap 2→4 at 5', 'seq 4', 'seq 5', 'gap 5→8 at 9', 'seq 8']);
      expect(cursor.current).toBe(8);
    });

    it('should detect a gap against the stored initial cursor', () => {
      const cursor = createResumeCursor({ cursorOf: (m: Msg) => m.seq, isNext: isNextInSequence, initial: 5 });
      createTestScheduler().run(({ cold, expectObservable }) => {
        expectObservable(cold('-3-5-7-', values).pipe(resumeFrom(cursor))).toBe('-----#', values, new ResumeGapError('gap', 5, 7));
      });
    });
  });

  describe('epochs', () => {
    const sessionCursor = () =>
      createResumeCursor({ cursorOf: (m: Msg) => m.seq, epochOf: (m) => m.session, isNext: isNextInSequence });

    it('should signal a new epoch before its first value, reset the cursor and deliver the new epoch', () => {
      const cursor = sessionCursor();
      const gaps: ResumeGapError<number>[] = [];
      createTestScheduler().run(({ cold, expectObservable }) => {
        const source = cold('-a-b-x-y-|', values);
        // x has seq 1, below the cursor 2: without the epoch it would be dropped as a replay
        expectObservable(source.pipe(resumeFrom(cursor, { onGap: (gap) => gaps.push(gap) }))).toBe('-a-b-x-y-|', values);
      });
      expect(gaps).toEqual([new ResumeGapError('epoch', 2, 1)]);
      expect({ current: cursor.current, epoch: cursor.epoch }).toEqual({ current: 2, epoch: 'B' });
    });

    it('should error on a new epoch and let a retry start the fresh session without a resume loop', () => {
      const cursor = sessionCursor();
      const requests: unknown[] = [];
      const errors: unknown[] = [];
      createTestScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
        const first = cold('-a-b-#', values);
        const second = cold('-x-y-', values); //  the server refused the resume: new session B
        const third = cold('-x-y-z-', values); // the fresh session, requested without a cursor
        const result = connections(requests, () => cursor.current, first, second, third).pipe(
          resumeFrom(cursor),
          retryWithJitteredBackoff({
            initialDelay: 1,
            jitter: 'none',
            shouldRetry: (error) => {
              errors.push(error);
              return true;
            },
          }),
        );
        // waits: 1 ms after `b` reset the counter, then 2 ms (the second connection delivered nothing)
        expectObservable(result, '^ 14ms !').toBe('-a-b 6ms x-y-z', values);
        expectSubscriptions(first.subscriptions).toBe('^----!');
        expectSubscriptions(second.subscriptions).toBe('6ms ^!');
        expectSubscriptions(third.subscriptions).toBe('9ms ^-----!');
      });
      expect(requests).toEqual([undefined, 2, undefined]);
      expect(errors.filter(isResumeGapError)).toEqual([new ResumeGapError('epoch', 2, 1)]);
      expect({ current: cursor.current, epoch: cursor.epoch }).toEqual({ current: 3, epoch: 'B' });
    });

    it('should detect a changed epoch against the stored initial epoch', () => {
      const cursor = createResumeCursor({
        cursorOf: (m: Msg) => m.seq,
        epochOf: (m) => m.session,
        initial: 3,
        initialEpoch: 'A',
      });
      createTestScheduler().run(({ cold, expectObservable }) => {
        expectObservable(cold('-x-', values).pipe(resumeFrom(cursor))).toBe('-#', values, new ResumeGapError('epoch', 3, 1));
      });
    });
  });

  describe('cursor types', () => {
    it('should order uint64 decimal strings by value, not as text', () => {
      const cursor = createResumeCursor({ cursorOf: (m: { offset: string }) => m.offset, isNext: isNextInSequence });
      const m = {
        a: { offset: '9' },
        b: { offset: '10' },
        c: { offset: '18446744073709551614' },
        d: { offset: '18446744073709551615' },
      };
      const gaps: ResumeGapError<string>[] = [];
      createTestScheduler().run(({ cold, expectObservable }) => {
        const source = cold('-a-b-a-c-d-c-d-|', m);
        expectObservable(source.pipe(resumeFrom(cursor, { onGap: (gap) => gaps.push(gap) }))).toBe('-a-b---c-d-----|', m);
      });
      expect(gaps).toEqual([new ResumeGapError('gap', '10', '18446744073709551614')]);
      expect(cursor.current).toBe('18446744073709551615');
    });

    it('should handle bigint cursors and a custom compare', () => {
      const big = createResumeCursor({ cursorOf: (n: bigint) => n, isNext: isNextInSequence });
      const byTime = createResumeCursor({ cursorOf: (d: Date) => d, compare: (a, b) => a.getTime() - b.getTime() });
      createTestScheduler().run(({ cold, expectObservable }) => {
        const n = { a: 2n ** 64n - 2n, b: 2n ** 64n - 1n };
        expectObservable(cold('ab-ab|', n).pipe(resumeFrom(big))).toBe('ab---|', n);
        const d = { a: new Date(1), b: new Date(2) };
        expectObservable(cold('a-b-a-b|', d).pipe(resumeFrom(byTime))).toBe('a-b----|', d);
      });
      expect(big.current).toBe(2n ** 64n - 1n);
    });

    it('should compare numbers, bigints and canonical decimal strings', () => {
      expect(compareCursors(1, 2)).toBeLessThan(0);
      expect(compareCursors(2n, 1)).toBeGreaterThan(0);
      expect(compareCursors(3, 3n)).toBe(0);
      expect(compareCursors('9', '10')).toBeLessThan(0);
      expect(compareCursors('18446744073709551615', '18446744073709551614')).toBeGreaterThan(0);
      expect(compareCursors('42', '42')).toBe(0);
      expect(() => compareCursors('1', 1)).toThrow(TypeError);
      expect(() => compareCursors(Number.NaN, 1)).toThrow(RangeError);
    });

    it('should check contiguity for numbers, bigints and decimal strings', () => {
      expect(isNextInSequence(1, 2)).toBe(true);
      expect(isNextInSequence(1, 3)).toBe(false);
      expect(isNextInSequence(1n, 2n)).toBe(true);
      expect(isNextInSequence(1, 2n)).toBe(true);
      expect(isNextInSequence('18446744073709551615', '18446744073709551616')).toBe(true);
      expect(isNextInSequence('9', '11')).toBe(false);
      expect(isNextInSequence(1.5, 2.5)).toBe(true);
      expect(isNextInSequence(1.5, 3n)).toBe(false);
      expect(() => isNextInSequence('a', 'b')).toThrow(SyntaxError);
    });

    it('should error when cursors of different kinds meet', () => {
      const cursor = createResumeCursor({ cursorOf: (v: number | string) => v });
      createTestScheduler().run(({ cold, expectObservable }) => {
        const v = { a: 1, b: '2' };
        expectObservable(cold('ab', v).pipe(resumeFrom(cursor))).toBe(
          'a#',
          v,
          new TypeError('compareCursors: cannot order a string and a number cursor; pass compare'),
        );
      });
    });
  });

  describe('synchronous ordering', () => {
    it('should move the cursor before delivering, so a synchronous reader sees the value it reacts to', () => {
      const cursor = seqCursor();
      const wire = new Subject<Msg>();
      const seen: [number | undefined, number | undefined][] = [];
      wire.pipe(resumeFrom(cursor)).subscribe((m) => seen.push([m.seq, cursor.current]));
      wire.next({ seq: 1 });
      wire.next({ seq: 1 });
      wire.next({ type: 'keepalive' });
      wire.next({ seq: 2 });
      expect(seen).toEqual([
        [1, 1],
        [undefined, 1],
        [2, 2],
      ]);
    });

    it('should read the pre-drop cursor when the consumer reconnects synchronously from next', () => {
      const cursor = seqCursor();
      const requests: unknown[] = [];
      const wires: Subject<Msg>[] = [];
      const reconnect$ = defer(() => {
        requests.push(cursor.current);
        const wire = new Subject<Msg>();
        wires.push(wire);
        return wire;
      }).pipe(resumeFrom(cursor));
      const log: unknown[] = [];
      const first = reconnect$.subscribe((m) => {
        log.push(m.seq);
        if (m.seq === 2) {
          first.unsubscribe();
          reconnect$.subscribe((again) => log.push(`again ${again.seq}`));
        }
      });
      wires[0]?.next({ seq: 1 });
      wires[0]?.next({ seq: 2 });
      wires[1]?.next({ seq: 2 });
      wires[1]?.next({ seq: 3 });
      expect(requests).toEqual([undefined, 2]);
      expect(log).toEqual([1, 2, 'again 3']);
      expect(wires[0]?.observed).toBe(false);
    });

    it('should turn a throwing onGap into the stream error', () => {
      const cursor = createResumeCursor({ cursorOf: (m: Msg) => m.seq, isNext: isNextInSequence });
      const bug = new Error('listener bug');
      const wire = new Subject<Msg>();
      const errors: unknown[] = [];
      wire
        .pipe(
          resumeFrom(cursor, {
            onGap: () => {
              throw bug;
            },
          }),
        )
        .subscribe({ error: (e: unknown) => errors.push(e) });
      wire.next({ seq: 1 });
      wire.next({ seq: 3 });
      expect(errors).toEqual([bug]);
      expect(wire.observed).toBe(false);
      expect(cursor.current).toBe(1);
    });
  });

  describe('cursor state', () => {
    it('should see the cursor moved from outside between values (set, reset)', () => {
      const cursor = createResumeCursor({ cursorOf: (m: Msg) => m.seq, epochOf: (m) => m.session });
      const wire = new Subject<Msg>();
      const seen: unknown[] = [];
      wire.pipe(resumeFrom(cursor)).subscribe({ next: (m) => seen.push(m.seq), error: (e: unknown) => seen.push(e) });
      wire.next({ seq: 1 });
      cursor.set(5);
      wire.next({ seq: 4 }); // a replay now
      wire.next({ seq: 6 });
      cursor.reset();
      wire.next({ seq: 2 }); // a fresh start: nothing delivered
      cursor.set(2, 'A');
      wire.next({ seq: 3, session: 'B' }); // the epoch set from outside counts
      expect(seen).toEqual([1, 6, 2, new ResumeGapError('epoch', 2, 3)]);
      expect({ current: cursor.current, epoch: cursor.epoch }).toEqual({ current: undefined, epoch: 'B' });
    });

    it('should keep the epoch when a value names none, and adopt the first epoch without a signal', () => {
      const cursor = createResumeCursor({ cursorOf: (m: Msg) => m.seq, epochOf: (m) => m.session });
      const wire = new Subject<Msg>();
      const seen: unknown[] = [];
      wire.pipe(resumeFrom(cursor)).subscribe({ next: (m) => seen.push(m.seq), error: (e: unknown) => seen.push(e) });
      wire.next({ seq: 1 });
      expect(cursor.epoch).toBeUndefined();
      wire.next({ seq: 2, session: 'A' });
      wire.next({ seq: 3 });
      expect({ current: cursor.current, epoch: cursor.epoch }).toEqual({ current: 3, epoch: 'A' });
      wire.next({ seq: 4, session: 'A' });
      expect(seen).toEqual([1, 2, 3, 4]);
    });

    it('should let onGap move the cursor, then move it to the value that revealed the gap', () => {
      const cursor = createResumeCursor({ cursorOf: (m: Msg) => m.seq, isNext: isNextInSequence });
      const wire = new Subject<Msg>();
      const seen: unknown[] = [];
      wire
        .pipe(
          resumeFrom(cursor, {
            onGap: (gap) => {
              seen.push(`${gap.kind} ${String(gap.previous)}→${String(gap.received)}`);
              cursor.set(100);
            },
          }),
        )
        .subscribe((m) => seen.push([m.seq, cursor.current]));
      wire.next({ seq: 1 });
      wire.next({ seq: 3 });
      wire.next({ seq: 4 });
      expect(seen).toEqual([[1, 1], 'gap 1→3', [3, 3], [4, 4]]);
    });

    it('should work with a cursor of your own, through its public members only', () => {
      let current: number | undefined;
      let epoch: unknown;
      const calls: unknown[] = [];
      const cursor: ResumeCursor<Msg, number> = {
        get current() {
          return current;
        },
        get epoch() {
          return epoch;
        },
        cursorOf: (m) => m.seq,
        compare: (a, b) => a - b,
        isNext: isNextInSequence,
        epochOf: (m) => m.session,
        set(next, nextEpoch = epoch) {
          calls.push(['set', next, nextEpoch]);
          current = next;
          epoch = nextEpoch;
        },
        reset() {
          calls.push(['reset']);
          current = undefined;
          epoch = undefined;
        },
      };
      const wire = new Subject<Msg>();
      const seen: unknown[] = [];
      wire.pipe(resumeFrom(cursor)).subscribe({ next: (m) => seen.push(m.seq), error: (e: unknown) => seen.push(e) });
      wire.next({ seq: 1, session: 'A' });
      wire.next({ seq: 1, session: 'A' }); // a replay
      wire.next({ seq: 2 });
      wire.next({ seq: 1, session: 'B' }); // a new epoch: reset, keep the new epoch, error
      expect(seen).toEqual([1, 2, new ResumeGapError('epoch', 2, 1)]);
      expect(calls).toEqual([['set', 1, 'A'], ['set', 2, 'A'], ['reset'], ['set', undefined, 'B']]);
      expect(wire.observed).toBe(false);
    });
  });

  describe('a cursor of your own written as a class', () => {
    it('should call its members on the cursor, each value (they may use `this`)', () => {
      class StoredCursor implements ResumeCursor<Msg, number> {
        private value: number | undefined = undefined;
        private readonly field = 'seq' as const;
        get current(): number | undefined {
          return this.value;
        }
        get epoch(): unknown {
          return undefined;
        }
        cursorOf(m: Msg): number | undefined {
          return m[this.field];
        }
        compare(a: number, b: number): number {
          return this.sign(a - b);
        }
        private sign(n: number): number {
          return Math.sign(n);
        }
        readonly isNext = undefined;
        readonly epochOf = undefined;
        set(current: number | undefined): void {
          this.value = current;
        }
        reset(): void {
          this.value = undefined;
        }
      }
      createTestScheduler().run(({ cold, expectObservable }) => {
        const values = { a: { seq: 1 }, b: { seq: 2 }, c: { seq: 3 } };
        expectObservable(cold('a b b c a', values).pipe(resumeFrom(new StoredCursor()))).toBe('a b - c', values);
      });
    });
  });

  describe('cursor object and validation', () => {
    it('should set, keep the epoch when omitted, and reset', () => {
      const cursor = createResumeCursor({ cursorOf: (m: Msg) => m.seq, epochOf: (m) => m.session });
      cursor.set(7, 'A');
      cursor.set(8);
      expect({ current: cursor.current, epoch: cursor.epoch }).toEqual({ current: 8, epoch: 'A' });
      cursor.reset();
      expect({ current: cursor.current, epoch: cursor.epoch }).toEqual({ current: undefined, epoch: undefined });
    });

    it('should report through current and epoch what resumeFrom delivered, and start afresh after reset()', () => {
      const cursor = createResumeCursor({ cursorOf: (m: Msg) => m.seq, epochOf: (m) => m.session, isNext: isNextInSequence });
      const wire = new Subject<Msg>();
      const seen: unknown[] = [];
      wire.pipe(resumeFrom(cursor)).subscribe({ next: (m) => seen.push(m.seq), error: (e: unknown) => seen.push(e) });
      wire.next({ seq: 1, session: 'A' });
      wire.next({ seq: 2 });
      expect({ current: cursor.current, epoch: cursor.epoch }).toEqual({ current: 2, epoch: 'A' });
      cursor.reset();
      expect({ current: cursor.current, epoch: cursor.epoch }).toEqual({ current: undefined, epoch: undefined });
      wire.next({ seq: 1, session: 'B' }); // nothing to be a replay of, no epoch to differ from
      expect(seen).toEqual([1, 2, 1]);
      expect({ current: cursor.current, epoch: cursor.epoch }).toEqual({ current: 1, epoch: 'B' });
    });

    it('should give a cursor every ResumeCursor member, with current and epoch read-only', () => {
      const cursor = createResumeCursor({ cursorOf: (m: Msg) => m.seq, initial: 4, initialEpoch: 'A' });
      expect({ current: cursor.current, epoch: cursor.epoch }).toEqual({ current: 4, epoch: 'A' });
      expect(cursor.cursorOf({ seq: 9 })).toBe(9);
      expect(cursor.compare(9, 10)).toBeLessThan(0);
      expect(cursor.isNext).toBeUndefined();
      expect(cursor.epochOf).toBeUndefined();
      expect([typeof cursor.set, typeof cursor.reset]).toEqual(['function', 'function']);
      expect(() => {
        // @ts-expect-error current is read-only
        cursor.current = 5;
      }).toThrow(TypeError);
      expect(() => {
        // @ts-expect-error epoch is read-only
        cursor.epoch = 'B';
      }).toThrow(TypeError);
      expect(cursor.current).toBe(4);
    });

    it('should share one position between resumeFrom on the cursor and on a cursor of your own that delegates to it', () => {
      const inner = createResumeCursor({ cursorOf: (m: Msg) => m.seq, epochOf: (m) => m.session });
      const outer: ResumeCursor<Msg, number> = {
        get current() {
          return inner.current;
        },
        get epoch() {
          return inner.epoch;
        },
        cursorOf: inner.cursorOf,
        compare: inner.compare,
        isNext: inner.isNext,
        epochOf: inner.epochOf,
        set: (next, nextEpoch) => inner.set(next, nextEpoch), // an `undefined` epoch keeps it, as omitting it does
        reset: () => inner.reset(),
      };
      const direct = new Subject<Msg>();
      const delegated = new Subject<Msg>();
      const seen: unknown[] = [];
      direct.pipe(resumeFrom(inner)).subscribe((m) => seen.push(['direct', m.seq]));
      delegated.pipe(resumeFrom(outer)).subscribe((m) => seen.push(['delegated', m.seq]));
      direct.next({ seq: 1, session: 'A' });
      delegated.next({ seq: 1, session: 'A' }); // a replay of what `direct` delivered
      delegated.next({ seq: 2 });
      direct.next({ seq: 2, session: 'A' }); // a replay of what `delegated` delivered
      direct.next({ seq: 3 });
      expect(seen).toEqual([['direct', 1], ['delegated', 2], ['direct', 3]]);
      expect({ current: outer.current, epoch: outer.epoch }).toEqual({ current: 3, epoch: 'A' });
    });

    it('should reject invalid cursors and options at creation', () => {
      const create = createResumeCursor as (config: unknown) => unknown;
      expect(() => create({})).toThrow(/createResumeCursor: cursorOf must be a function/);
      expect(() => create(undefined)).toThrow(TypeError);
      expect(() => create({ cursorOf: (m: Msg) => m.seq, compare: 1 })).toThrow(/compare must be a function/);
      expect(() => create({ cursorOf: (m: Msg) => m.seq, isNext: 'yes' })).toThrow(/isNext must be a function/);
      expect(() => create({ cursorOf: (m: Msg) => m.seq, epochOf: {} })).toThrow(/epochOf must be a function/);
      const from = resumeFrom as (cursor: unknown, config?: unknown) => unknown;
      expect(() => from({})).toThrow(/resumeFrom: cursor must be a ResumeCursor/);
      expect(() => from(seqCursor(), { onGap: 'ignore' })).toThrow(/onGap must be 'error' or a function/);
    });
  });
});
