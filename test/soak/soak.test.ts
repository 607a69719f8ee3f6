import { describe, expect, it } from 'vitest';
import { FAULT_KINDS, runSoak } from './soak.js';

// The short version of `npm run soak` (test/soak/run.ts): same rig, same client, same zero
// promises (P1 inbound exactly once and in order across every transport fault, P3 outbound at
// least once, P7 nothing left behind), 20,000 messages and 20 faults.
describe('soak (short)', () => {
  it('should deliver 20,000 messages exactly once and in order through 20 faults of every kind, and leak nothing', async () => {
    const lines: string[] = [];
    const report = await runSoak({ messages: 20_000, faults: 20, seed: 20_240_601, maxSeconds: 90, log: (line) => lines.push(line) });
    const context = JSON.stringify({ ...report, log: lines.slice(-30) }, null, 2);

    expect(report.published, context).toBe(20_000);
    expect(report.delivered, context).toBe(report.published);
    expect(report.lost, context).toBe(0);
    expect(report.duplicated, context).toBe(0);
    expect(report.outOfOrder, context).toBe(0);
    for (const channel of report.perChannel) expect(channel.delivered, context).toBe(channel.published);

    expect(report.faultsInjected, context).toBe(20);
    for (const kind of FAULT_KINDS) expect(report.faults[kind], `${kind}\n${context}`).toBeGreaterThanOrEqual(1);
    expect(report.reconnects, context).toBeGreaterThanOrEqual(20);

    // No resume was ever refused: the server kept its epoch, the client saw no gap.
    expect(report.serverEpoch, context).toBe(1);
    expect(report.gapEvents, context).toBe(0);

    // Client sends: all delivered (re-deliveries are at-least-once, counted apart), none lost.
    expect(report.sends.queued, context).toBeGreaterThan(0);
    expect(report.sends.delivered + report.sends.droppedByPolicy, context).toBe(report.sends.queued);
    expect(report.sends.unaccounted, context).toBe(0);

    expect(report.leakedHandles, context).toBe(0);
  }, 120_000);
});
