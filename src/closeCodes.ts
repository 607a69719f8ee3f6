import { utf8Length } from './utf8.js';

/**
 * WebSocket close codes (RFC 6455 §7.4 and the IANA registry), as a `const` object so that
 * unused names tree-shake away.
 *
 * @example
 * ```ts
 * import { CloseCode } from 'rxtether';
 *
 * if (error.code === CloseCode.PolicyViolation) showLogin();
 * ```
 */
export const CloseCode = {
  /** 1000: the purpose of the connection was fulfilled. */
  Normal: 1000,
  /** 1001: an endpoint is going away (server shutdown, page navigation). */
  GoingAway: 1001,
  /** 1002: protocol error. */
  ProtocolError: 1002,
  /** 1003: the endpoint received a data type it cannot accept. */
  UnsupportedData: 1003,
  /** 1005: no status code was present in the close frame (never sent on the wire). */
  NoStatus: 1005,
  /** 1006: the connection was lost without a close frame (never sent on the wire). */
  Abnormal: 1006,
  /** 1007: a message's data was inconsistent with its type (e.g. invalid UTF-8). */
  InvalidPayload: 1007,
  /** 1008: a message violated the endpoint's policy (often: bad credentials). */
  PolicyViolation: 1008,
  /** 1009: a message was too big to process. */
  MessageTooBig: 1009,
  /** 1010: the client expected the server to negotiate an extension. */
  MandatoryExtension: 1010,
  /** 1011: the server hit an unexpected condition. */
  InternalError: 1011,
  /** 1012: the service is restarting. */
  ServiceRestart: 1012,
  /** 1013: try again later (temporary overload). */
  TryAgainLater: 1013,
  /** 1014: a gateway or proxy received an invalid response from upstream. */
  BadGateway: 1014,
  /** 1015: the TLS handshake failed (never sent on the wire). */
  TlsHandshake: 1015,
} as const;

/** One of the named {@link CloseCode} values. */
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** Codes that say retrying cannot help: reconnecting would fail the same way. */
const TERMINAL_CODES: ReadonlySet<number> = new Set([1002, 1003, 1007, 1008, 1009, 1010, 1015]);

/** Overrides for {@link isRetryableClose}, typically for application codes 4000–4999. */
export interface CloseClassifierConfig {
  /**
   * Codes that must never be retried, on top of the built-in terminal list
   * (e.g. your server's `4401 Unauthorized`, `4403 Forbidden`).
   * @defaultValue `[]`
   */
  readonly terminalCodes?: Iterable<number>;
  /**
   * Codes that must always be retried, even when built in as terminal. Wins over
   * `terminalCodes` when a code is in both.
   * @defaultValue `[]`
   */
  readonly retryableCodes?: Iterable<number>;
}

/**
 * Says whether a connection that closed with `code` is worth reconnecting.
 *
 * | code | class | why |
 * |---|---|---|
 * | 1000 Normal | transient | the *server* ended the session; a long-lived stream reconnects (a close the user asked for never reaches this classifier) |
 * | 1001 GoingAway, 1005 NoStatus, 1006 Abnormal | transient | restart, lost TCP, RST |
 * | 1011 InternalError, 1012 ServiceRestart, 1013 TryAgainLater, 1014 BadGateway | transient | server-side trouble that passes |
 * | 1002 ProtocolError, 1003 UnsupportedData, 1007 InvalidPayload, 1010 MandatoryExtension | terminal | the same client would fail the same way |
 * | 1008 PolicyViolation | terminal | usually bad credentials |
 * | 1009 MessageTooBig | terminal | reconnecting would replay the same poison message |
 * | 1015 TlsHandshake | terminal | a certificate problem does not fix itself |
 * | other 1000–2999, 3000–4999 | transient | unknown or application codes keep the retry chain alive; list yours in `terminalCodes` |
 *
 * A code that is not an integer in 1000–4999 is treated like 1006 (transient).
 *
 * @param code - The close code, as received in the close event.
 * @param config - Application-specific overrides.
 * @returns `true` when a reconnect may succeed.
 *
 * @example
 * ```ts
 * import { isRetryableClose } from 'rxtether';
 *
 * isRetryableClose(1006); // true
 * isRetryableClose(1008); // false
 * isRetryableClose(4401, { terminalCodes: [4401, 4403] }); // false
 * ```
 */
export function isRetryableClose(code: number, config?: CloseClassifierConfig): boolean {
  if (config?.retryableCodes && includes(config.retryableCodes, code)) return true;
  if (config?.terminalCodes && includes(config.terminalCodes, code)) return false;
  return !TERMINAL_CODES.has(code);
}

function includes(codes: Iterable<number>, code: number): boolean {
  if (codes instanceof Set) return codes.has(code);
  if (Array.isArray(codes)) return codes.includes(code);
  for (const c of codes) if (c === code) return true;
  return false;
}

/** The longest close reason a browser accepts, in UTF-8 bytes. */
export const MAX_CLOSE_REASON_BYTES = 123;

/**
 * Validates a close code and reason by the browsers' rules, so that a call that works in Node
 * also works in Chrome, Firefox and Safari (`ws` alone accepts e.g. `1001` and `1000.5`).
 *
 * The code must be the integer 1000 or an integer in 3000–4999; the reason must be a string
 * of at most 123 bytes in UTF-8. Non-integer codes are rejected outright, which is stricter
 * than a browser: Chromium truncates `1000.5` to 1000 (and rejects `2999.5`), a silent
 * conversion rxtether does not copy. The real-browser suite (`test/browser`) checks that
 * every integer code and reason it accepts, Chromium accepts too, and the other way round.
 *
 * @param code - The close code to send.
 * @param reason - The close reason to send.
 * @throws RangeError when the code is outside the accepted range.
 * @throws TypeError when the reason is not a string.
 * @throws RangeError when the reason is longer than 123 UTF-8 bytes.
 *
 * @example
 * ```ts
 * import { assertValidClose } from 'rxtether';
 *
 * assertValidClose(4000, 'logout'); // ok
 * assertValidClose(1001, '');       // RangeError: browsers only let clients send 1000 or 3000-4999
 * ```
 */
export function assertValidClose(code: number, reason = ''): void {
  if (typeof code !== 'number' || !Number.isInteger(code) || (code !== 1000 && (code < 3000 || code > 4999))) {
    throw new RangeError(`close code must be the integer 1000 or an integer in 3000-4999, got ${String(code)}`);
  }
  if (typeof reason !== 'string') {
    throw new TypeError(`close reason must be a string, got ${typeof reason}`);
  }
  const bytes = utf8Length(reason);
  if (bytes > MAX_CLOSE_REASON_BYTES) {
    throw new RangeError(`close reason must be at most ${MAX_CLOSE_REASON_BYTES} UTF-8 bytes, got ${bytes}`);
  }
}
