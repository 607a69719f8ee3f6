import { config as rxjsConfig } from 'rxjs';

/**
 * Reports an error thrown by a user hook where nobody can catch it, without letting it escape
 * into a socket's event dispatch: rxjs's `config.onUnhandledError` when set, `console.error`
 * otherwise.
 * @internal
 */
export function reportHookError(error: unknown): void {
  if (rxjsConfig.onUnhandledError) rxjsConfig.onUnhandledError(error);
  else console.error(error);
}
