// rxtether/testing: marble-test code that uses rxtether, with no real socket and no real time. Re-exports only.
export { createFakeServer, rawFrame } from './fakeServer.js';
export type {
  ConnectionScript,
  ExpectSentOptions,
  FakeConnection,
  FakeServer,
  FakeServerOptions,
  FakeWebSocket,
  FakeWebSocketConstructor,
  RawFrame,
  RequestedClose,
  ScriptedClose,
  SentFrame,
} from './fakeServer.js';
export { createTestSocket } from './createTestSocket.js';
export type { TestSocketConfig } from './createTestSocket.js';
