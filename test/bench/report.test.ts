import { describe, expect, it } from 'vitest';
import { pairedDifferences, pairedRatio, pairedRatios, ratioSpread } from '../../bench/report.js';

describe('bench report helpers', () => {
  it('pairs ratios within a repetition and shows their median with the min–max', () => {
    const ratios = pairedRatios([2, 3, 8], [1, 2, 4]);
    expect(ratios).toEqual([2, 1.5, 2]);
    expect(pairedRatio([2, 3, 8], [1, 2, 4])).toBe(2);
    expect(ratioSpread(ratios)).toBe('2.00× (1.50–2.00×)');
    expect(ratioSpread([1.46])).toBe('1.46×');
    expect(ratioSpread([])).toBe('–');
    expect(pairedRatios([1, NaN], [1, 1])).toEqual([1]);
    expect(pairedRatios([1], undefined)).toEqual([]);
  });

  it('pairs differences within a round, skipping failed ones', () => {
    expect(pairedDifferences([10, NaN, 14, 20], [4, 5, 6, 9])).toEqual([6, 8, 11]);
  });
});
