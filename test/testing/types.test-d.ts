import { TestScheduler } from 'rxjs/testing';
import { describe, expectTypeOf, it } from 'vitest';
import type { RxSocket, SocketConfig } from 'rxtether';
import { type FakeServer, createFakeServer, createTestSocket } from 'rxtether/testing';

type PriceIn = { type: 'price'; seq: number };
type PriceOut = { type: 'subscribe' };
declare const productionConfig: SocketConfig<PriceIn, PriceOut>;
declare const scheduler: TestScheduler;

describe('rxtether/testing types', () => {
  it('should infer In and Out from a production SocketConfig (the README example relies on it)', () => {
    const server = createFakeServer(scheduler, ['-o']);
    expectTypeOf(createTestSocket(server, productionConfig)).toEqualTypeOf<RxSocket<PriceIn, PriceOut>>();
  });

  it('should infer Sent from decode, and accept that typed server in createTestSocket', () => {
    const server = createFakeServer(scheduler, ['-o'], { decode: (d) => (typeof d === 'string' ? d.split('\t') : []) });
    expectTypeOf(server).toEqualTypeOf<FakeServer<string[]>>();
    createTestSocket(server, {});
    server.expectSent({ filter: (m) => m.length > 0 });
  });
});
