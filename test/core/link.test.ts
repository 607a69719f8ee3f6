import { NEVER, Observable, type Subscriber, Subject, Subscription, UnsubscriptionError, concatMap, finalize, config as rxjsConfig, from, mergeMap, pipe, repeat, throwError } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createResumeCursor, heartbeatTimeout, resumeFrom, retryWithJitteredBackoff } from '../../src/index.js';
import { Link } from '../../src/link.js';
import { collectGarbage, reachable } from '../helpers/gc.js';

/** How many of `refs` are still reachable after a GC, with `subscription` still open; then ends it. */
async function reachableWhileSubscribed(refs: WeakRef<object>[], subscription: Subscription): Promise<number> {
  await collectGarbage();
  const alive = reachable(refs);
  subscription.unsubscribe();
  return alive;
}

/** An inner observable that records a WeakRef to the subscriber it is given, then completes. */
function tracked(refs: WeakRef<object>[]) {
  return (value: number) =>
    new Observable<number>((subscriber) => {
      refs.push(new WeakRef(subscriber));
      subscriber.next(value);
      subscriber.complete();
    });
}

// Link is how every rxtether stage subscribes to its source: it must keep the rules of the
// SafeSubscriber it replaces (see src/link.ts).

type Note = ['next', unknown] | ['error', unknown] | ['complete'];

function recorder(onNext?: (value: unknown) => void): { notes: Note[]; target: { next(v: unknown): void; error(e: unknown): void; complete(): void } } {
  const notes: Note[] = [];
  return {
    notes,
    target: {
      next: (value) => {
        notes.push(['next', value]);
        onNext?.(value);
      },
      error: (error) => notes.push(['error', error]),
      complete: () => notes.push(['complete']),
    },
  };
}

afterEach(() => {
  rxjsConfig.onUnhandledError = null;
  rxjsConfig.onStoppedNotification = null;
  rxjsConfig.useDeprecatedSynchronousErrorHandling = false;
  vi.useRealTimers();
});

describe('Link', () => {
  it('is the subscriber itself: rxjs wraps it in nothing', () => {
    const subject = new Subject<number>();
    const { notes, target } = recorder();
    const link = new Link(target);
    expect(subject.subscribe(link)).toBe(link);
    subject.next(1);
    expect(notes).toEqual([['next', 1]]);
    link.unsubscribe();
    expect(subject.observed).toBe(false);
    subject.next(2);
    expect(notes).toEqual([['next', 1]]);
  });

  it('after an error: nothing more reaches the target, and the source is torn down once', () => {
    let source: { next(v: number): void; error(e: unknown): void; complete(): void } | undefined;
    let teardowns = 0;
    const observable = new Observable<number>((subscriber) => {
      source = subscriber;
      return () => teardowns++;
    });
    const { notes, target } = recorder();
    const link = new Link(target);
    observable.subscribe(link);
    source!.next(1);
    source!.error('boom');
    source!.next(2);
    source!.complete();
    expect(notes).toEqual([['next', 1], ['error', 'boom']]);
    expect(teardowns).toBe(1);
    expect(link.closed).toBe(true);
    link.unsubscribe();
    expect(teardowns).toBe(1);
  });

  it('a source that completes while being subscribed still has its teardown run', () => {
    let teardowns = 0;
    const { notes, target } = recorder();
    new Observable<number>((subscriber) => {
      subscriber.next(1);
      subscriber.complete();
      return () => teardowns++;
    }).subscribe(new Link(target));
    expect(notes).toEqual([['next', 1], ['complete']]);
    expect(teardowns).toBe(1);
  });

  it('a synchronous source stops when the target unsubscribes from next', () => {
    let link: Link<number> | undefined;
    const { notes, target } = recorder((value) => {
      if (value === 2) link!.unsubscribe();
    });
    link = new Link(target);
    from([1, 2, 3, 4]).subscribe(link);
    expect(notes).toEqual([['next', 1], ['next', 2]]);
  });

  it('a throw from the target is reported a macrotask later, never thrown into the source', () => {
    vi.useFakeTimers();
    const reported: unknown[] = [];
    rxjsConfig.onUnhandledError = (error) => reported.push(error);
    const subject = new Subject<number>();
    const boom = new Error('boom');
    const { notes, target } = recorder(() => {
      throw boom;
    });
    subject.subscribe(new Link(target));
    expect(() => subject.next(1)).not.toThrow();
    subject.next(2); // still subscribed, as with a SafeSubscriber
    expect(notes).toEqual([['next', 1], ['next', 2]]);
    expect(reported).toEqual([]);
    vi.runAllTimers();
    expect(reported).toEqual([boom, boom]);
  });

  it('runs every finalizer even when one throws, then throws their errors together', () => {
    const link = new Link(recorder().target);
    const ran: string[] = [];
    link.add(() => ran.push('a'));
    link.add(() => {
      ran.push('b');
      throw new Error('b failed');
    });
    link.add({ unsubscribe: () => ran.push('c') });
    let thrown: unknown;
    try {
      link.unsubscribe();
    } catch (error) {
      thrown = error;
    }
    expect(ran).toEqual(['a', 'b', 'c']);
    expect(thrown).toBeInstanceOf(UnsubscriptionError);
    expect((thrown as UnsubscriptionError).errors).toEqual([new Error('b failed')]);
  });

  it('remove() takes a finalizer back; add() after unsubscribe runs it at once', () => {
    const link = new Link(recorder().target);
    const ran: string[] = [];
    const a = (): void => void ran.push('a');
    const b = (): void => void ran.push('b');
    link.add(a);
    link.add(b);
    link.remove(a);
    link.unsubscribe();
    expect(ran).toEqual(['b']);
    link.add(a);
    expect(ran).toEqual(['b', 'a']);
  });
});

// A stage after an operator that adds a subscriber to its destination per value or per
// repetition (concatMap, mergeMap, repeat) must not keep the finished ones: a SafeSubscriber
// lets go of each as it closes.
describe('stage subscribers do not retain finished inner subscriptions of their source', () => {
  it.each([
    ['resumeFrom over a concatMap', (refs: WeakRef<object>[]) => pipe(concatMap(tracked(refs)), resumeFrom(createResumeCursor({ cursorOf: (n: number) => n })))],
    ['heartbeatTimeout over a mergeMap', (refs: WeakRef<object>[]) => pipe(mergeMap(tracked(refs)), heartbeatTimeout<number>(60_000))],
  ])('%s: the finished inners can be collected', async (_name, stages) => {
    const refs: WeakRef<object>[] = [];
    const subject = new Subject<number>();
    const values: number[] = [];
    const sub = subject.pipe(stages(refs)).subscribe((v) => values.push(v));
    for (let i = 1; i <= 500; i++) subject.next(i);
    expect(values.length).toBe(500);
    expect(await reachableWhileSubscribed(refs, sub)).toBe(0);
  });

  it('resumeFrom over repeat(): at most the last finished repetition stays reachable', async () => {
    const refs: WeakRef<object>[] = [];
    let n = 0;
    const source = new Observable<number>((subscriber) => {
      refs.push(new WeakRef(subscriber));
      subscriber.next(++n);
      subscriber.complete();
    });
    const again = new Subject<void>();
    const cursor = createResumeCursor({ cursorOf: (v: number) => v });
    const values: number[] = [];
    const sub = source.pipe(repeat({ delay: () => again }), resumeFrom(cursor)).subscribe((v) => values.push(v));
    for (let i = 1; i < 500; i++) again.next();
    expect(values.length).toBe(500);
    // The link holds its first finalizer in a field and replaces it when the next one arrives
    // after it closed: one finished repetition at most, never a growing list.
    expect(await reachableWhileSubscribed(refs, sub)).toBeLessThanOrEqual(1);
  });

  it('a closed stage no longer holds its state, even if the source keeps the subscriber', async () => {
    // A source that never lets go of its subscriber (a listener it never removes).
    const kept: Subscriber<number>[] = [];
    const source = new Observable<number>((subscriber) => {
      kept.push(subscriber);
    });
    let ref!: WeakRef<object>;
    (() => {
      const cursor = createResumeCursor({ cursorOf: (n: number) => n });
      ref = new WeakRef(cursor);
      source.pipe(resumeFrom(cursor)).subscribe().unsubscribe();
    })();
    expect(kept[0]!.closed).toBe(true);
    await collectGarbage();
    expect(ref.deref()).toBeUndefined();
  });
});

describe('errors and notifications rxjs reports for a stage', () => {
  const hookError = new Error('onGiveUp failed');
  /** A retry that gives up at once, with an onGiveUp that throws; its subscriber's errors go to `received`. */
  function giveUpThrowing(received: unknown[]): void {
    throwError(() => new Error('refused'))
      .pipe(
        retryWithJitteredBackoff({
          maxRetries: 0,
          onGiveUp: () => {
            throw hookError;
          },
        }),
      )
      .subscribe({ error: (error) => received.push(error) });
  }

  it('onGiveUp throwing under TestScheduler.run is reported in virtual time (thrown from run)', () => {
    const received: unknown[] = [];
    const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
    // rxjs reports an error thrown by a subscriber through timeoutProvider, which run() drives.
    expect(() => scheduler.run(() => giveUpThrowing(received))).toThrow(hookError);
    expect(received).toHaveLength(1);
  });

  it('onGiveUp throwing with useDeprecatedSynchronousErrorHandling is thrown from subscribe', () => {
    rxjsConfig.useDeprecatedSynchronousErrorHandling = true;
    const received: unknown[] = [];
    expect(() => giveUpThrowing(received)).toThrow(hookError);
    expect(received).toHaveLength(1);
  });

  it('what a source sends after completing reaches config.onStoppedNotification, with the subscriber it was given', () => {
    vi.useFakeTimers();
    const stopped: [unknown, unknown][] = [];
    rxjsConfig.onStoppedNotification = (notification, subscriber) => stopped.push([notification, subscriber]);
    const values: number[] = [];
    const cursor = createResumeCursor({ cursorOf: (n: number) => n });
    let given: unknown;
    new Observable<number>((subscriber) => {
      given = subscriber;
      subscriber.next(1);
      subscriber.complete();
      // A misbehaving source: rxjs tells onStoppedNotification.
      subscriber.next(2);
      subscriber.error('late');
      subscriber.complete();
    })
      .pipe(resumeFrom(cursor))
      .subscribe((v) => values.push(v));
    expect(stopped).toEqual([]); // a macrotask later, as rxjs does
    vi.runAllTimers();
    expect(values).toEqual([1]);
    expect(stopped).toEqual([
      [{ kind: 'N', value: 2, error: undefined }, given],
      [{ kind: 'E', value: undefined, error: 'late' }, given],
      [{ kind: 'C', value: undefined, error: undefined }, given],
    ]);
    expect(stopped[0]![1]).toBe(given);
  });
});

// What a source adds to its subscriber runs as a Subscription runs it: in the order added, each
// once, and a `closed` flag is trusted only from a Subscription.
describe('finalizers, as a SafeSubscriber keeps them', () => {
  const cursorOf = (n: number): number => n;

  it('run in the order they were added (mergeMap with a concurrency limit)', () => {
    const log: string[] = [];
    const b = new Subject<never>();
    const inners = [NEVER.pipe(finalize(() => log.push('A'))), b.pipe(finalize(() => log.push('B'))), NEVER.pipe(finalize(() => log.push('C')))];
    const outer = new Subject<Observable<never>>();
    const sub = outer.pipe(mergeMap((inner) => inner, 2), resumeFrom(createResumeCursor<never, number>({ cursorOf }))).subscribe();
    for (const inner of inners) outer.next(inner);
    outer.complete();
    b.complete(); // C is subscribed now, after A
    expect(log).toEqual(['B']);
    sub.unsubscribe();
    expect(log).toEqual(['B', 'A', 'C']);
  });

  it('run in the order they were added (a closed first one, then more)', () => {
    const log: string[] = [];
    const sub = new Observable<number>((subscriber) => {
      const a = new Subscription(() => log.push('a'));
      subscriber.add(a);
      subscriber.add(() => log.push('b'));
      a.unsubscribe();
      subscriber.add(() => log.push('c'));
      return () => log.push('teardown');
    })
      .pipe(resumeFrom(createResumeCursor({ cursorOf })))
      .subscribe();
    sub.unsubscribe();
    expect(log).toEqual(['a', 'b', 'c', 'teardown']);
  });

  it('a teardown that is no Subscription runs even if it has closed: true', () => {
    const unsubscribe = vi.fn();
    const teardown = Object.assign(vi.fn(), { closed: true });
    const later = { closed: false, unsubscribe: vi.fn() };
    let source!: Subscriber<number>;
    const sub = new Observable<number>((subscriber) => {
      source = subscriber;
      subscriber.add(later as unknown as () => void);
      subscriber.add({ closed: true, unsubscribe } as unknown as () => void);
      return teardown;
    })
      .pipe(resumeFrom(createResumeCursor({ cursorOf })))
      .subscribe();
    later.closed = true; // e.g. "the resource has closed": its listeners still need removing
    source.add(() => {});
    sub.unsubscribe();
    expect(unsubscribe).toHaveBeenCalledTimes(1);
    expect(teardown).toHaveBeenCalledTimes(1);
    expect(later.unsubscribe).toHaveBeenCalledTimes(1);
  });

  it('remove(): a Subscription added twice is held once; what is added after a removal still runs last', () => {
    const observer = { next() {}, error() {}, complete() {} };
    const run = (sub: Subscription, log: string[]): void => {
      const s = new Subscription(() => log.push('s'));
      sub.add(s);
      sub.add(s);
      sub.remove(s);
      const a = (): void => void log.push('a');
      sub.add(a);
      sub.add(() => log.push('b'));
      sub.remove(a);
      sub.add(() => log.push('c'));
      sub.unsubscribe();
    };
    const safe: string[] = [];
    run(new Observable<number>(() => {}).subscribe(observer), safe);
    expect(safe).toEqual(['b', 'c']); // what rxjs does
    const linked: string[] = [];
    run(new Observable<number>(() => {}).subscribe(new Link(observer)) as Subscription, linked);
    expect(linked).toEqual(safe);
  });
});
