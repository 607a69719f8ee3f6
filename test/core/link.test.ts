import { Observable, Subject, UnsubscriptionError, config as rxjsConfig, from } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { Link } from '../../src/link.js';

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

  it('a throw from the target is reported, never thrown into the source', async () => {
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
    await new Promise((resolve) => setTimeout(resolve, 0));
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
