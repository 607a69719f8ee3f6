import { describe, expect, it } from 'vitest';
import { CloseCode, assertValidClose, isRetryableClose } from '../../src/index.js';

describe('isRetryableClose', () => {
  it.each([
    [1000, true],
    [1001, true],
    [1005, true],
    [1006, true],
    [1011, true],
    [1012, true],
    [1013, true],
    [1014, true],
    [1002, false],
    [1003, false],
    [1007, false],
    [1008, false],
    [1009, false],
    [1010, false],
    [1015, false],
    [1004, true], // reserved, unknown: keep the retry chain alive
    [2999, true],
    [3000, true],
    [4000, true],
    [4999, true],
    [0, true], // not a close code at all: treated like 1006
    [Number.NaN, true],
  ])('should classify %d as retryable=%s', (code, retryable) => {
    expect(isRetryableClose(code)).toBe(retryable);
  });

  it('should let the caller mark application codes terminal or retryable', () => {
    expect(isRetryableClose(4401, { terminalCodes: [4401, 4403] })).toBe(false);
    expect(isRetryableClose(4403, { terminalCodes: new Set([4403]) })).toBe(false);
    expect(isRetryableClose(4404, { terminalCodes: [4401] })).toBe(true);
    expect(isRetryableClose(1008, { retryableCodes: [1008] })).toBe(true);
    // retryableCodes wins when a code is in both lists
    expect(isRetryableClose(4000, { terminalCodes: [4000], retryableCodes: [4000] })).toBe(true);
    // any iterable works
    function* codes() {
      yield 4100;
    }
    expect(isRetryableClose(4100, { terminalCodes: codes() })).toBe(false);
  });

  it('should expose the standard codes by name', () => {
    expect(CloseCode.Normal).toBe(1000);
    expect(CloseCode.Abnormal).toBe(1006);
    expect(CloseCode.PolicyViolation).toBe(1008);
    expect(CloseCode.ServiceRestart).toBe(1012);
  });
});

describe('assertValidClose', () => {
  it.each([[1000], [3000], [4000], [4999]])('should accept %d', (code) => {
    expect(() => assertValidClose(code, 'ok')).not.toThrow();
  });

  it.each([[1001], [1005], [1006], [999], [2999], [5000], [1000.5], [Number.NaN], [Number.POSITIVE_INFINITY]])(
    'should reject %d like browsers do, with a RangeError',
    (code) => {
      expect(() => assertValidClose(code)).toThrow(RangeError);
      expect(() => assertValidClose(code)).toThrow('close code must be the integer 1000 or an integer in 3000-4999');
    },
  );

  it('should reject a non-number code with a RangeError naming it', () => {
    expect(() => assertValidClose('1000' as unknown as number)).toThrow(/close code/);
  });

  it('should measure the reason in UTF-8 bytes, up to 123', () => {
    expect(() => assertValidClose(1000, 'a'.repeat(123))).not.toThrow();
    expect(() => assertValidClose(1000, 'a'.repeat(124))).toThrow(RangeError);
    expect(() => assertValidClose(1000, 'é'.repeat(61))).not.toThrow(); // 122 bytes
    expect(() => assertValidClose(1000, 'é'.repeat(62))).toThrow(/at most 123 UTF-8 bytes, got 124/);
    expect(() => assertValidClose(1000, '😀'.repeat(30))).not.toThrow(); // 120 bytes
    expect(() => assertValidClose(1000, '😀'.repeat(31))).toThrow(/got 124/);
    expect(() => assertValidClose(1000, '€'.repeat(41))).not.toThrow(); // 123 bytes
    expect(() => assertValidClose(1000, '€'.repeat(42))).toThrow(/got 126/);
    // a lone surrogate counts as the 3-byte replacement character, as TextEncoder does
    expect(new TextEncoder().encode('\ud800').length).toBe(3);
    expect(() => assertValidClose(1000, `${'a'.repeat(120)}\ud800`)).not.toThrow();
    expect(() => assertValidClose(1000, `${'a'.repeat(121)}\ud800`)).toThrow(/got 124/);
  });

  it('should reject a non-string reason with a TypeError', () => {
    expect(() => assertValidClose(1000, 42 as unknown as string)).toThrow(TypeError);
  });
});
