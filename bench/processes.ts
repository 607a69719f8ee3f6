// Child processes of the benchmark runner: the server (bench/server.ts) and the client workers
// (bench/client.ts), each forked with an IPC channel and driven by request/response messages.
// Every child is registered, and killed when the runner exits, fails or is interrupted, so that
// no server or client outlives a run.
import { type ChildProcess, fork } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));
const live = new Set<ChildProcess>();

let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      for (const child of live) child.kill('SIGKILL');
      process.exit(130);
    });
  }
}

/** A forked child answering `{ rid, … }` requests with `{ rid, … }` replies. */
export class Child {
  private nextRid = 1;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  private readonly exited: Promise<void>;
  private readonly ready: Promise<void>;
  private exitedAlready = false;

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
  ) {
    let readyResolve!: () => void;
    let readyReject!: (error: Error) => void;
    this.ready = new Promise((res, rej) => ((readyResolve = res), (readyReject = rej)));
    this.ready.catch(() => {});
    child.on('message', (message: { rid?: number; ready?: boolean; error?: string }) => {
      if (message.ready) readyResolve();
      if (message.rid === undefined) return;
      const waiter = this.pending.get(message.rid);
      if (!waiter) return;
      this.pending.delete(message.rid);
      if (message.error !== undefined) waiter.reject(new Error(`${name}: ${message.error}`));
      else waiter.resolve(message);
    });
    this.exited = new Promise((res) => {
      child.once('exit', (code, signal) => {
        this.exitedAlready = true;
        live.delete(child);
        const error = new Error(`${name} exited (${signal ?? `code ${String(code)}`})`);
        readyReject(error);
        for (const waiter of this.pending.values()) waiter.reject(error);
        this.pending.clear();
        res();
      });
    });
  }

  /**
   * Forks `bench/<module>` with the runner's loader flags (tsx) and waits for it to say ready.
   * `gc` adds `--expose-gc`; `execArgv` adds more Node flags (`--cpu-prof`, …).
   */
  static async start(
    name: string,
    module: string,
    args: readonly string[] = [],
    options: { gc?: boolean; execArgv?: readonly string[] } = {},
  ): Promise<Child> {
    hookExit();
    const execArgv = process.execArgv.filter((a) => a !== '--expose-gc');
    if (options.gc) execArgv.push('--expose-gc');
    execArgv.push(...(options.execArgv ?? []));
    const child = fork(resolve(HERE, module), [...args], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    live.add(child);
    const handle = new Child(name, child);
    await withTimeout(handle.ready, 60_000, `${name} did not start within 60 s`);
    return handle;
  }

  /** Sends a request and resolves with the reply; rejects on an error reply, exit or timeout. */
  request<T>(body: object, timeoutMs: number): Promise<T> {
    if (this.exitedAlready) return Promise.reject(new Error(`${this.name} has exited`));
    const rid = this.nextRid++;
    const reply = new Promise<T>((res, rej) => {
      this.pending.set(rid, { resolve: res as (value: unknown) => void, reject: rej });
    });
    this.child.send({ ...body, rid });
    return withTimeout(reply, timeoutMs, `${this.name}: no reply to ${JSON.stringify(body).slice(0, 60)} within ${timeoutMs} ms`).finally(() =>
      this.pending.delete(rid),
    );
  }

  /**
   * Asks the child to exit by closing its IPC channel (it exits on `disconnect`, so that
   * `--cpu-prof` can write its profile), and kills it if it has not within 10 s.
   */
  async stop(): Promise<void> {
    if (this.exitedAlready) return;
    this.child.disconnect();
    await withTimeout(this.exited, 10_000, '').catch(() => this.kill());
  }

  /** Kills the child (SIGKILL unless told otherwise) and resolves once it has exited. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.exitedAlready) this.child.kill(signal);
    await this.exited;
  }
}

export function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A benchmark server process. `listen(0)` picks a port; restarts reuse it with `listen(port)`. */
export class ServerProcess {
  private constructor(private readonly child: Child) {}

  static async start(name = 'server'): Promise<ServerProcess> {
    return new ServerProcess(await Child.start(name, 'server.ts'));
  }

  /** Starts listening on 127.0.0.1; resolves with the port. */
  async listen(port = 0): Promise<number> {
    const reply = await this.child.request<{ port: number }>({ cmd: 'listen', port }, 10_000);
    return reply.port;
  }

  /** Builds the N messages of the push scenario, so that building them is never timed. */
  async prepare(n: number): Promise<void> {
    await this.child.request({ cmd: 'prepare', n }, 120_000);
  }

  /** Waits until `count` connections are subscribed, or `timeout` ms (then reports what there is). */
  waitSubscribed(count: number, timeout: number): Promise<SubscribedReport> {
    return this.child.request<SubscribedReport>({ cmd: 'wait-subscribed', count, timeout }, timeout + 10_000);
  }

  kill(): Promise<void> {
    return this.child.kill('SIGKILL');
  }
}

/** What a server reports, in ms since it started listening. */
export interface SubscribedReport {
  /** Connections subscribed so far. */
  readonly subscribed: number;
  /** When the count-th connection was subscribed; `undefined` if fewer were within the timeout. */
  readonly lastMs: number | undefined;
  /** When each handshake was accepted. */
  readonly handshakesMs: readonly number[];
}
