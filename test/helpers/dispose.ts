import { afterEach } from 'vitest';

type Disposer = () => unknown;

/**
 * Returns a `defer(fn)` that registers cleanups run (in reverse order) after each test of the
 * calling file, whether it passed or not.
 */
export function useDisposer(): (dispose: Disposer) => void {
  const disposers: Disposer[] = [];
  afterEach(async () => {
    const errors: unknown[] = [];
    while (disposers.length > 0) {
      try {
        await disposers.pop()!();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length > 0) throw errors[0];
  });
  return (dispose) => {
    disposers.push(dispose);
  };
}
