/**
 * An unbounded async queue: events pushed before anyone waits are kept, so a test can never
 * miss one by awaiting too late.
 */
export class AsyncQueue<T> {
  private readonly items: T[] = [];
  private readonly waiters: Array<(value: T) => void> = [];

  push(item: T): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter(item);
    else this.items.push(item);
  }

  /** The next item, waiting for it if none is queued. */
  next(): Promise<T> {
    if (this.items.length > 0) return Promise.resolve(this.items.shift() as T);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Items queued and not yet taken. */
  get size(): number {
    return this.items.length;
  }
}
