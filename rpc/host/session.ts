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

/** Mai's client registry (core/clients.ts): one handle per connection. */
interface ClientHandle {
  readonly id: string;
  describe(info: { name?: string; version?: string; kind?: string }): void;
  detach(): void;
}
type Registry = { attachClient?(info: { name?: string; version?: string; kind?: string }): ClientHandle };

export interface SessionOptions {
  /** How this client's config/reload is done (the host's: its own file only, rekeying its socket). */
  reload?: Mai['reload'];
}

export function openClientSession(mai: Mai, name: string, options: SessionOptions = {}): ClientSession {
  let named = name;
  const kind = name.includes('--mcp') ? 'mcp' : name.startsWith('mai serve') ? 'editor' : 'cli';
  const registry = mai as Mai & Registry;
  const handle: ClientHandle = registry.attachClient?.({ name, kind }) ?? { id: `client-${process.pid}-${++sessions}`, describe() {}, detach() {} };
  const view = clientView(mai, (request, chatOptions) => mai.chat({ ...request, client: handle.id }, chatOptions), options.reload);
  return {
    id: handle.id,
    get name() {
      return named;
    },
    mai: view,
    describe(params) {
      const info = clientInfoOf(params);
      if (!info) return;
      named = `${info.name}${info.version ? ` ${info.version}` : ''} via ${name}`;
      handle.describe({ ...info, kind });
    },
    detach: () => handle.detach(),
  };
}

/**
 * This client's view of the shared Mai, built once: its turns carry its id (whose turn it is comes
 * from the connection, never from params) and its config/reload is the host's. Every other method
 * of Mai is bound to it once; getters (config, stateDir…) read it live, and anything else falls
 * through to it (the view's prototype). A Proxy that bound a fresh function on each property read
 * cost the host ~20 µs of CPU a turn.
 */
function clientView(mai: Mai, chat: Mai['chat'], reload: Mai['reload'] | undefined): Mai {
  const view = Object.create(mai) as Mai;
  Object.defineProperty(view, 'chat', { value: chat });
  if (reload) Object.defineProperty(view, 'reload', { value: reload });
  const bound = new Set<string>(['constructor', 'chat', ...(reload ? ['reload'] : [])]);
  for (let proto = Object.getPrototypeOf(mai) as object | null; proto && proto !== Object.prototype; proto = Object.getPrototypeOf(proto) as object | null) {
    for (const [key, described] of Object.entries(Object.getOwnPropertyDescriptors(proto))) {
      if (bound.has(key)) continue; // this view's own, or a subclass's, comes first
      bound.add(key);
      const { value, get } = described as { value?: unknown; get?: () => unknown };
      if (typeof value === 'function') Object.defineProperty(view, key, { value: (value as (...args: unknown[]) => unknown).bind(mai) });
      else if (get) Object.defineProperty(view, key, { get: () => get.call(mai) });
    }
  }
  return view;
}

/** `{name, version}` from `initialize`'s (or a hello's) clientInfo, when it has a name. */
export function clientInfoOf(params: Record<string, unknown>): { name: string; version?: string } | undefined {
  const info = params.clientInfo;
  if (typeof info !== 'object' || info === null) return undefined;
  const { name, version } = info as { name?: unknown; version?: unknown };
  if (typeof name !== 'string') return undefined;
  return typeof version === 'string' ? { name, version } : { name };
}
