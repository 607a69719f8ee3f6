// The README's "Testing your pipelines with rxtether/testing" example, verbatim between the
// markers: keep the two in sync.
// ---- README example start
// price.service.ts
import { type RxSocket, type SocketConfig, type SocketStatus, createSocket } from 'rxtether';
import { type Observable, map } from 'rxjs';

export type PriceIn = { type: 'price'; symbol: string; seq: number; price: number };
export type PriceOut = { type: 'subscribe'; symbol: string; after?: number } | { type: 'unsubscribe'; symbol: string };

export const priceSocketConfig: SocketConfig<PriceIn, PriceOut> = {
  url: 'wss://prices.example.com/v1',
  backoff: { initialDelay: 1000, maxDelay: 30_000 }, // full jitter
};

export class PriceService {
  readonly state$: Observable<SocketStatus['state']>;
  private readonly socket: RxSocket<PriceIn, PriceOut>;

  constructor(socket = createSocket(priceSocketConfig)) {
    this.socket = socket;
    this.state$ = socket.status$.pipe(map((s) => s.state));
  }

  price$(symbol: string): Observable<number> {
    return this.socket.channel({
      key: symbol,
      subscribe: (after) => ({ type: 'subscribe', symbol, ...(after === undefined ? {} : { after: Number(after) }) }),
      unsubscribe: () => ({ type: 'unsubscribe', symbol }),
      matches: (m) => m.symbol === symbol,
      cursorOf: (m) => m.seq, // resume from the last price delivered
      project: (m) => m.price,
    });
  }
}

// price.service.spec.ts
import { createFakeServer, createTestSocket } from 'rxtether/testing';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
// import { PriceService, priceSocketConfig } from './price.service';

describe('PriceService', () => {
  it('should resume prices after an outage, without duplicates', () => {
    const testScheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
    testScheduler.run(({ expectObservable }) => {
      const price = (seq: number, value: number) => ({ type: 'price', symbol: 'ACME', seq, price: value });
      const server = createFakeServer(
        testScheduler,
        [
          '-o-a-b---#', // connection 1: opens, sends prices 1 and 2, then drops (1006) at 9
          '-o-b-c', //     connection 2: sends 2 again (a duplicate), then 3
        ],
        { values: { a: price(1, 100), b: price(2, 101), c: price(3, 102) } },
      );
      // The production config, on the fake server's sockets and virtual time, with random 0.5:
      // the first retry waits 500 ms (full jitter: half of initialDelay).
      const service = new PriceService(createTestSocket(server, priceSocketConfig));

      expectObservable(service.price$('ACME')).toBe('---a-b 508ms c', { a: 100, b: 101, c: 102 });
      expectObservable(service.state$).toBe('co-------r 499ms co', { c: 'connecting', o: 'open', r: 'reconnecting' });
      server.expectConnections().toBe(['^--------!', '509ms ^']); // dropped at 9, back at 509
      server.expectSent().toBe('-s 508ms t', {
        s: { type: 'subscribe', symbol: 'ACME' }, //           on open at 1
        t: { type: 'subscribe', symbol: 'ACME', after: 2 }, // replayed on open at 510, from the last price seen
      });
    });
  });
});
// ---- README example end
