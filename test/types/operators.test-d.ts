import { type MonoTypeOperatorFunction, type Observable, of, share } from 'rxjs';
import { describe, expectTypeOf, it } from 'vitest';
import * as root from '../../src/index.js';
import {
  type BackoffStrategy,
  type ResumeCursor,
  type ResumeGapError,
  type RetryAttemptInfo,
  type RetryGiveUpInfo,
  backoffStrategies,
  createResumeCursor,
  decorrelatedJitterDelay,
  equalJitterDelay,
  exponentialDelay,
  fullJitterDelay,
  heartbeatTimeout,
  isNextInSequence,
  resumeFrom,
  retryAttemptsOf,
  retryWithJitteredBackoff,
} from '../../operators/index.js';

interface Msg {
  readonly type: 'data' | 'pong';
  readonly seq: number;
  readonly session: string;
}
declare const messages$: Observable<Msg>;

describe('operator types', () => {
  it('should keep the element type through a full pipe', () => {
    const cursor = createResumeCursor({ cursorOf: (m: Msg) => m.seq, epochOf: (m) => m.session, isNext: isNextInSequence });
    const result$ = messages$.pipe(
      heartbeatTimeout({ timeout: 30_000, interval: 10_000, ping: () => undefined, isAlive: (m) => m.type === 'pong' }),
      resumeFrom(cursor),
      retryWithJitteredBackoff({ maxRetries: 10 }),
      share(),
    );
    expectTypeOf(result$).toEqualTypeOf<Observable<Msg>>();
    expectTypeOf(of(1).pipe(retryWithJitteredBackoff(), heartbeatTimeout(5))).toEqualTypeOf<Observable<number>>();
    expectTypeOf(of('a').pipe(retryWithJitteredBackoff(3))).toEqualTypeOf<Observable<string>>();
  });

  it('should infer callback parameters from the piped source', () => {
    messages$.pipe(
      heartbeatTimeout({
        timeout: 1,
        isAlive: (m) => {
          expectTypeOf(m).toEqualTypeOf<Msg>();
          return true;
        },
      }),
    );
    retryWithJitteredBackoff({
      shouldRetry: (error, info) => {
        expectTypeOf(error).toBeUnknown();
        expectTypeOf(info.attempt).toBeNumber();
        return true;
      },
      onRetry: (info) => expectTypeOf(info).toEqualTypeOf<RetryAttemptInfo>(),
      onGiveUp: (info) => expectTypeOf(info.reason).toEqualTypeOf<'notRetryable' | 'maxRetries' | 'error'>(),
    });
    expectTypeOf<RetryGiveUpInfo['retries']>().toBeNumber();
  });

  it('should type the cursor from cursorOf and the gap from the cursor', () => {
    const cursor = createResumeCursor({ cursorOf: (m: Msg) => m.seq });
    expectTypeOf(cursor).toEqualTypeOf<ResumeCursor<Msg, number>>();
    expectTypeOf(cursor.current).toEqualTypeOf<number | undefined>();
    resumeFrom(cursor, { onGap: (gap) => expectTypeOf(gap).toEqualTypeOf<ResumeGapError<number>>() });
    expectTypeOf(resumeFrom(cursor)).toEqualTypeOf<MonoTypeOperatorFunction<Msg>>();

    const offsets = createResumeCursor({ cursorOf: (m: { offset: string }) => m.offset });
    expectTypeOf(offsets.current).toEqualTypeOf<string | undefined>();
    const dates = createResumeCursor({ cursorOf: (d: Date) => d, compare: (a, b) => a.getTime() - b.getTime() });
    expectTypeOf(dates).toEqualTypeOf<ResumeCursor<Date, Date>>();
  });

  it('should reject what cannot work', () => {
    // @ts-expect-error: a cursor that is not a number, bigint or string needs a compare
    createResumeCursor({ cursorOf: (d: Date) => d });
    // @ts-expect-error: timeout is required
    heartbeatTimeout({ interval: 5 });
    // @ts-expect-error: not a jitter mode
    retryWithJitteredBackoff({ jitter: 'half' });
    // @ts-expect-error: a cursor for another message type
    messages$.pipe(resumeFrom(createResumeCursor({ cursorOf: (n: number) => n })));
    // @ts-expect-error: onGap takes 'error' or a function
    resumeFrom(createResumeCursor({ cursorOf: (m: Msg) => m.seq }), { onGap: 'ignore' });
  });

  it('should expose the strategies as BackoffStrategy and the helpers with precise types', () => {
    expectTypeOf(exponentialDelay).toExtend<BackoffStrategy>();
    expectTypeOf(fullJitterDelay).toExtend<BackoffStrategy>();
    expectTypeOf(equalJitterDelay).toExtend<BackoffStrategy>();
    expectTypeOf(decorrelatedJitterDelay).toExtend<BackoffStrategy>();
    expectTypeOf(backoffStrategies.full).toEqualTypeOf<BackoffStrategy>();
    expectTypeOf(retryAttemptsOf).returns.toEqualTypeOf<number | undefined>();
  });

  it('should export the same operators from rxtether and rxtether/operators', () => {
    expectTypeOf(root.retryWithJitteredBackoff).toEqualTypeOf(retryWithJitteredBackoff);
    expectTypeOf(root.heartbeatTimeout).toEqualTypeOf(heartbeatTimeout);
    expectTypeOf(root.resumeFrom).toEqualTypeOf(resumeFrom);
    expectTypeOf(root.createResumeCursor).toEqualTypeOf(createResumeCursor);
    expectTypeOf(root.fullJitterDelay).toEqualTypeOf(fullJitterDelay);
  });
});
