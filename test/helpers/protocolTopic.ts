// Browser-safe (no Node imports): bundled into the real-browser suite's page too.
import type { ChannelSpec } from '../../src/index.js';
import type { ClientFrame, MsgFrame, ServerFrame } from './protocolServer.js';

/** A channel of the protocol server, resumed from its own `seq`, projected to `data`. */
export function topic(name: string): ChannelSpec<ServerFrame, ClientFrame, unknown> {
  return {
    key: name,
    subscribe: (cursor) => ({ type: 'subscribe', channel: name, ...(cursor !== undefined ? { after: Number(cursor) } : {}) }),
    unsubscribe: () => ({ type: 'unsubscribe', channel: name }),
    matches: (m) => m.type === 'msg' && m.channel === name,
    cursorOf: (m) => (m.type === 'msg' ? m.seq : undefined),
    isRejection: (m) => m.type === 'rejected' && m.channel === name,
    project: (m) => (m as MsgFrame).data,
  };
}
