/**
 * `npm run soak`: the soak run with its defaults, printed as one table.
 *
 *   npm run soak                                   # 1,000,000 messages, 200 faults, seed 1
 *   npm run soak -- --seed 7 --messages 50000 --faults 30 [--channels 4] [--max-seconds 900] [--verbose]
 *
 * Exits with status 1 if a message was lost, duplicated or out of order, or a handle leaked
 * (and with 2 on a usage error or a run that could not complete).
 */
import { FAULT_KINDS, type SoakReport, runSoak } from './soak.js';

function usage(message: string): never {
  console.error(`soak: ${message}
usage: tsx test/soak/run.ts [--messages N] [--faults N] [--seed N] [--channels N] [--max-seconds N] [--verbose]`);
  process.exit(2);
}

function parseArgs(argv: string[]) {
  const options = { messages: 1_000_000, faults: 200, seed: 1, channels: 4, maxSeconds: 900, verbose: false };
  const numeric: Record<string, keyof typeof options> = {
    '--messages': 'messages',
    '--faults': 'faults',
    '--seed': 'seed',
    '--channels': 'channels',
    '--max-seconds': 'maxSeconds',
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--verbose') {
      options.verbose = true;
      continue;
    }
    const [flag, inline] = arg.includes('=') ? arg.split('=', 2) : [arg, undefined];
    const key = numeric[flag!];
    if (key === undefined) usage(`unknown argument ${arg}`);
    const text = inline ?? argv[++i];
    const value = Number(text);
    if (text === undefined || !Number.isInteger(value) || value < 0) usage(`${flag} needs a non-negative integer`);
    (options as Record<string, number | boolean>)[key] = value;
  }
  return options;
}

const fmt = (n: number) => n.toLocaleString('en-US');

function formatTable(report: SoakReport): string {
  const rows: Array<[string, string]> = [
    ['messages published', fmt(report.published)],
    ['messages delivered', fmt(report.delivered)],
    ['lost', fmt(report.lost)],
    ['duplicated', fmt(report.duplicated)],
    ['out of order', fmt(report.outOfOrder)],
    ['client sends queued', fmt(report.sends.queued)],
    ['client sends delivered', fmt(report.sends.delivered)],
    ['client sends dropped by policy', fmt(report.sends.droppedByPolicy)],
    ['client sends re-delivered (at-least-once)', fmt(report.sends.duplicatedAtServer)],
    ['reconnects', fmt(report.reconnects)],
    ...FAULT_KINDS.map((kind): [string, string] => [`faults injected: ${kind}`, fmt(report.faults[kind])]),
    ['faults injected: total', fmt(report.faultsInjected)],
    ['leaked handles after close', fmt(report.leakedHandles)],
    ['wall time', `${report.wallSeconds.toFixed(1)} s`],
  ];
  const left = Math.max(...rows.map(([k]) => k.length));
  const right = Math.max(...rows.map(([, v]) => v.length));
  const line = `+${'-'.repeat(left + 2)}+${'-'.repeat(right + 2)}+`;
  return [line, ...rows.map(([k, v]) => `| ${k.padEnd(left)} | ${v.padStart(right)} |`), line].join('\n');
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const every = Math.max(1, Math.floor(options.faults / 10));
  let faultLines = 0;
  console.error(
    `soak: ${fmt(options.messages)} messages on ${options.channels} channels, ${options.faults} faults, seed ${options.seed}` +
      ` (bounded by ${options.maxSeconds} s)`,
  );
  let report: SoakReport;
  try {
    report = await runSoak({
      messages: options.messages,
      faults: options.faults,
      seed: options.seed,
      channels: options.channels,
      maxSeconds: options.maxSeconds,
      log: (line) => {
        const isFault = line.startsWith('fault ');
        if (isFault) faultLines++;
        if (options.verbose || !isFault || faultLines % every === 0) console.error(line);
      },
    });
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    process.exit(2);
  }
  console.log(formatTable(report));
  if (report.leakedHandles > 0) console.log('leaked:', report.leakedDetail);
  console.error(
    `detail: reconnect causes ${JSON.stringify(report.reconnectCauses)}, ${report.unprovokedReconnects} unprovoked; ` +
      `slowest detection ${report.maxDetectionMs} ms, slowest recovery ${report.maxRecoveryMs} ms; ` +
      `${report.connectionsAccepted} connections accepted`,
  );
  if (report.gapEvents > 0 || report.serverEpoch !== 1 || report.sends.unaccounted !== 0) {
    console.log(
      `note: ${report.gapEvents} gap events, server epoch ${report.serverEpoch}, ${report.sends.unaccounted} client sends unaccounted for`,
    );
  }
  const failed = report.lost + report.duplicated + report.outOfOrder + report.leakedHandles !== 0;
  process.exitCode = failed ? 1 : 0;
}

await main();
