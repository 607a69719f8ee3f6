import { describe, expect, it } from 'vitest';
import { runDemo } from '../../examples/demo/main.js';

describe('examples/demo (npm run demo)', () => {
  it('should deliver every message exactly once through several kinds of faults, counted on both sides', async () => {
    let output = '';
    const tally = await runDemo({ seconds: 4, seed: 2, out: { write: (chunk) => (output += chunk), isTTY: false }, env: {} });

    expect(tally.published).toBeGreaterThan(0);
    expect(tally).toMatchObject({ lost: 0, duplicated: 0, outOfOrder: 0, delivered: tally.published, ok: true });
    expect(tally.sends.queued).toBeGreaterThan(0);
    expect(tally.sends.unaccounted).toBe(0);
    const kinds = Object.entries(tally.faults).filter(([, n]) => n > 0);
    expect(kinds.length).toBeGreaterThanOrEqual(3);
    expect(tally.reconnects).toBeGreaterThan(0);
    expect(Object.values(tally.reconnectCauses).reduce((a, b) => a + b, 0)).toBe(tally.reconnects);

    // Plain lines only (no live line, no colours), ending with the tally.
    expect(output).not.toMatch(/\x1b\[|\r/);
    expect(output).toMatch(/ status {3}/);
    expect(output).toContain(`published ${tally.published.toLocaleString('en-US')} (server) | delivered ${tally.delivered.toLocaleString('en-US')} (client`);
    expect(output).toContain('lost 0 | duplicated 0 | out of order 0');
    expect(output).toMatch(/sends {6}queued \d+ \(client\) \| delivered \d+ \(server, distinct ids\)/);
    expect(output).toMatch(new RegExp(`reconnects ${tally.reconnects}: `));
    expect(output).toMatch(/faults {5}\d+: /);
    expect(output).toContain('✔ nothing lost, nothing duplicated');
  }, 15_000);
});
