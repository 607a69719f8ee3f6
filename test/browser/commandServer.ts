import type { RawData } from 'ws';
import { type TestServer, startServer } from '../helpers/server.js';

/** What the page asks the command server to do, one JSON text frame each. */
export type Command =
  | { readonly op: 'echo'; readonly payload: unknown }
  | { readonly op: 'close'; readonly code?: number; readonly reason?: string }
  | { readonly op: 'terminate' }
  | { readonly op: 'binary'; readonly bytes: readonly number[] }
  /** A text frame whose payload is not UTF-8: browsers must fail the connection. */
  | { readonly op: 'invalid-utf8' };

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

/**
 * A `ws` server on 127.0.0.1, port 0 (test/helpers/server.ts) that obeys the page: echo a JSON
 * value, close with a code, destroy the TCP connection, send binary bytes; binary frames are
 * echoed back as binary. Its `connections` queue still records everything.
 */
export async function startCommandServer(): Promise<TestServer> {
  const server = await startServer();
  server.wss.on('connection', (ws) => {
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (isBinary) {
        ws.send(toBuffer(data), { binary: true });
        return;
      }
      let command: Command;
      try {
        command = JSON.parse(data.toString()) as Command;
      } catch {
        return;
      }
      switch (command.op) {
        case 'echo':
          ws.send(JSON.stringify(command.payload));
          return;
        case 'close': // without a code: a close frame with no status (the page sees 1005)
          ws.close(command.code, command.reason);
          return;
        case 'terminate':
          ws.terminate();
          return;
        case 'binary':
          ws.send(Buffer.from(command.bytes), { binary: true });
          return;
        case 'invalid-utf8':
          ws.send(Buffer.from([0x22, 0xff, 0xfe, 0x22]), { binary: false });
          return;
      }
    });
  });
  return server;
}
