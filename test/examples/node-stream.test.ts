import { describe, expect, it } from 'vitest';
import { runNodeStream } from '../../examples/node-stream/main.js';

describe('examples/node-stream', () => {
  it('should deliver every message in order through for-await and a piped Readable, pausing the socket', async () => {
    const lines: string[] = [];
    const reports = await runNodeStream({ messages: 5_000, payload: 1024, log: (line) => lines.push(line) });
    expect(reports.map((r) => r.mode)).toEqual(['for-await', 'pipe']);
    for (const report of reports) {
      expect(report).toMatchObject({ delivered: 5_000, inOrder: true });
      // The client held at most highWaterMark (1000) plus what a paused socket had already read.
      expect(report.peakBuffered).toBeLessThanOrEqual(1000 + 2 * (Math.ceil(65_536 / 1024) + 1));
    }
    expect(lines).toHaveLength(3);
  }, 60_000);
});
