import { describe, expect, it } from 'vitest';
import { runFeed } from '../../examples/resilient-feed/main.js';

describe('examples/resilient-feed', () => {
  it('should deliver every tick once and in order through a reset, a freeze and a restart', async () => {
    const lines: string[] = [];
    const report = await runFeed({ seconds: 2, log: (line) => lines.push(line) });
    expect(report.published).toBeGreaterThan(50);
    expect(report).toMatchObject({ delivered: report.published, lost: 0, duplicated: 0, outOfOrder: 0 });
    // Each fault caused its own reconnect: the reset and the restart close the socket, the
    // freeze only shows as silence.
    expect(report.reconnectCauses.ConnectionClosedError).toBeGreaterThanOrEqual(2);
    expect(report.reconnectCauses.HeartbeatTimeoutError).toBeGreaterThanOrEqual(1);
    expect(report.connectionsAccepted).toBeGreaterThanOrEqual(4);
    expect(lines.some((line) => line.startsWith('stream ended'))).toBe(false);
  }, 30_000);
});
