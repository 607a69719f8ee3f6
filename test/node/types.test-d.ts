import type { Readable } from 'node:stream';
import { type Observable, of } from 'rxjs';
import { describe, expectTypeOf, it } from 'vitest';
import { connect, createSocket } from 'rxtether';
import { type Backpressure, type BackpressureConfig, createBackpressure } from 'rxtether/node';

interface Tick {
  readonly seq: number;
}

describe('rxtether/node types', () => {
  it('should keep the message type through iterate', () => {
    const flow = createBackpressure();
    expectTypeOf(flow).toEqualTypeOf<Backpressure>();
    expectTypeOf(flow.paused$).toEqualTypeOf<Observable<boolean>>();
    const ticks$ = connect<Tick>({ url: 'wss://example.com', paused: flow.paused$ });
    expectTypeOf(flow.iterate(ticks$)).toEqualTypeOf<AsyncIterableIterator<Tick>>();
    expectTypeOf(flow.readable(ticks$)).toEqualTypeOf<Readable>();
  });

  it('should take paused in createSocket, and only an Observable<boolean>', () => {
    const flow = createBackpressure({ highWaterMark: 10, lowWaterMark: 2, overflow: 'drop-oldest', onDrop: () => {} });
    createSocket<Tick>({ url: 'wss://example.com', paused: flow.paused$ });
    // @ts-expect-error paused is an Observable<boolean>
    createSocket<Tick>({ url: 'wss://example.com', paused: of(1) });
    // @ts-expect-error overflow is one of three policies
    const bad: BackpressureConfig = { overflow: 'drop' };
    expectTypeOf(bad).toEqualTypeOf<BackpressureConfig>();
  });
});
