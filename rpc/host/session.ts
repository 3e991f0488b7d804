/**
 * One client of the host as Mai sees it: the one place where a connection becomes a client session
 * on the shared Mai (named by the hello, then by `initialize`'s clientInfo), whose turns carry its
 * id and which is detached when the connection ends.
 */
import type { Mai } from '../../core/mai.ts';

export interface ClientSession {
  readonly id: string;
  /** Who the client is: the hello's name, then `initialize`'s clientInfo. */
  readonly name: string;
  /** The Mai this client's requests go to: its turns are marked as this client's. */
  readonly mai: Mai;
  /** `initialize`'s params (or a hello's clientInfo): names the client in `status`. */
  describe(params: Record<string, unknown>): void;
  /** The connection ended: what the client still has queued or in flight is cancelled. */
  detach(): void;
}

let sessions = 0;

export function openClientSession(mai: Mai, name: string): ClientSession {
  let named = name;
  return {
    id: `client-${process.pid}-${++sessions}`,
    get name() {
      return named;
    },
    mai,
    describe(params) {
      const info = clientInfoOf(params);
      if (info) named = `${info.name}${info.version ? ` ${info.version}` : ''} via ${name}`;
    },
    detach() {},
  };
}

/** `{name, version}` from `initialize`'s (or a hello's) clientInfo, when it has a name. */
export function clientInfoOf(params: Record<string, unknown>): { name: string; version?: string } | undefined {
  const info = params.clientInfo;
  if (typeof info !== 'object' || info === null) return undefined;
  const { name, version } = info as { name?: unknown; version?: unknown };
  if (typeof name !== 'string') return undefined;
  return typeof version === 'string' ? { name, version } : { name };
}
