/**
 * The clients of one Mai: every editor, agent, CLI call or batch run a shared host serves is
 * attached here (the host attaches one per connection), and each of its turns is counted under it.
 * A client that detaches has its own turns cancelled — queued and in flight, nobody else's — and
 * leaves `status`. A turn that names no client counts under one implicit local client.
 */
import { ErrorCodes, MaiError } from './errors.ts';

/** The client of turns that name none (an in-process Mai, a single-client `mai serve`). */
export const LOCAL_CLIENT = 'local';

export interface ClientInfo {
  name?: string;
  version?: string;
  /** What sort of client: 'editor', 'mcp', 'cli', 'batch'… (free text, shown in status). */
  kind?: string;
}

export interface ClientHandle {
  readonly id: string;
  /** Names the client (an editor says who it is in `initialize`, after it connected). */
  describe(info: ClientInfo): void;
  /** The client is gone: cancels its queued and in-flight turns and removes it from status. */
  detach(): void;
}

export interface ClientStatus {
  id: string;
  name: string;
  version?: string;
  kind?: string;
  connectedAt: string;
  /** Turns being answered (selected, prompted or streaming), not waiting for their model. */
  inFlight: number;
  /** Turns waiting in a model's queue. */
  queued: number;
  /** Turns the client sent since it attached. */
  turns: number;
}

/** One turn of a client: the signal that aborts when the client detaches, and its end. */
export interface ClientTurn {
  readonly client: string;
  readonly signal: AbortSignal;
  end(): void;
}

interface ClientRecord {
  readonly id: string;
  info: ClientInfo;
  readonly connectedAt: string;
  turns: number;
  readonly active: Set<AbortController>;
}

export class ClientRegistry {
  private readonly clients = new Map<string, ClientRecord>();
  private attached = 0;

  constructor() {
    this.add(LOCAL_CLIENT, { name: LOCAL_CLIENT, kind: 'in-process' });
  }

  attach(info: ClientInfo = {}): ClientHandle {
    const id = `c${++this.attached}`;
    const record = this.add(id, { ...info });
    return {
      id,
      describe: (next) => {
        record.info = { ...record.info, ...definedOnly(next) };
      },
      detach: () => this.detach(id),
    };
  }

  /** Starts a turn of `client` (the local client when none); its signal also follows `signal`. */
  beginTurn(client: string | undefined, signal?: AbortSignal): ClientTurn {
    const record = this.clients.get(client ?? LOCAL_CLIENT);
    if (!record) {
      throw new MaiError(ErrorCodes.cancelled, `The client "${client}" has detached (or never attached): a turn of a client that is gone is not answered.`, {
        retryable: false,
        data: { client: client ?? null },
      });
    }
    record.turns++;
    const controller = new AbortController();
    record.active.add(controller);
    // The request's signal is followed by a listener removed at the end, not AbortSignal.any: on
    // Node 20 every signal that one makes is tracked by weak references and a finalization
    // registry, a cost to each turn and to the garbage collector that a batch pays 200 times a second.
    const follow = () => controller.abort(signal?.reason);
    if (signal?.aborted) follow();
    else signal?.addEventListener('abort', follow, { once: true });
    return {
      client: record.id,
      signal: controller.signal,
      end: () => {
        signal?.removeEventListener('abort', follow);
        record.active.delete(controller);
      },
    };
  }

  /** Every client (the local one once it sent a turn); `queued` says how many of a client's turns wait for a model. */
  list(queued: (client: string) => number): ClientStatus[] {
    return [...this.clients.values()]
      .filter((c) => c.id !== LOCAL_CLIENT || c.turns > 0)
      .map((c) => {
        const waiting = Math.min(queued(c.id), c.active.size);
        return {
          id: c.id,
          name: c.info.name ?? c.id,
          ...(c.info.version ? { version: c.info.version } : {}),
          ...(c.info.kind ? { kind: c.info.kind } : {}),
          connectedAt: c.connectedAt,
          inFlight: c.active.size - waiting,
          queued: waiting,
          turns: c.turns,
        };
      });
  }

  private add(id: string, info: ClientInfo): ClientRecord {
    const record: ClientRecord = { id, info: definedOnly(info), connectedAt: new Date().toISOString(), turns: 0, active: new Set() };
    this.clients.set(id, record);
    return record;
  }

  private detach(id: string): void {
    const record = this.clients.get(id);
    if (!record) return;
    this.clients.delete(id);
    const reason = new MaiError(ErrorCodes.cancelled, `${record.info.name ?? id} detached: its turns are cancelled.`, { retryable: false, data: { client: id } });
    for (const controller of record.active) controller.abort(reason);
    record.active.clear();
  }
}

function definedOnly(info: ClientInfo): ClientInfo {
  return Object.fromEntries(Object.entries(info).filter(([, v]) => typeof v === 'string' && v !== '')) as ClientInfo;
}
