// rxtether: the public entry. Re-exports only.
export { connect } from './connect.js';
export type {
  CloseRequest,
  ConnectConfig,
  ConnectionCloseInfo,
  ConnectionOpenInfo,
  PingConfig,
  Resolvable,
} from './connect.js';
export type {
  CloseEventLike,
  MessageEventLike,
  WebSocketConstructorLike,
  WebSocketData,
  WebSocketLike,
} from './webSocketLike.js';
export * from './errors.js';
export * from './closeCodes.js';
export * from '../operators/index.js';
export { createSocket } from './client.js';
export type {
  AckConfig,
  ChannelSpec,
  ClientHeartbeatConfig,
  ClientResumeConfig,
  FailureAction,
  OutboxConfig,
  RxSocket,
  SessionConfig,
  SocketConfig,
  SocketCounters,
  SocketEvent,
  SocketStatus,
} from './client.js';
