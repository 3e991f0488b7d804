/**
 * A typed client of Mai's protocol over any vscode-jsonrpc MessageConnection (a spawned
 * `mai serve`, or the CLI's in-process link): `request(StatusRequest, {})` is typed by the
 * definition, and `chat` streams `$/progress` to a callback.
 */
import { CancellationTokenSource, ProgressType, type CancellationToken, type MessageConnection, type RequestParam } from 'vscode-jsonrpc/node';
import type { z } from 'zod';
import type { ChatProgress, ChatSendParams, ChatSendRequest, ChatSendResult, RequestDefinition } from './mai-protocol.ts';

/** The progress of a chat turn (mai-protocol.ts's ChatProgressType; made here so `mai chat` loads no schema). */
const chatProgress = new ProgressType<ChatProgress>();
/** ChatSendRequest's method (typed by it: a name that drifted would not compile), without loading the schemas. */
const chatSend: (typeof ChatSendRequest)['method'] = 'chat/send';

export interface ChatCallOptions {
  onProgress?: (event: ChatProgress) => void;
  token?: CancellationToken;
}

export class MaiClient {
  private progressTokens = 0;

  constructor(readonly connection: MessageConnection) {}

  request<M extends string, S extends z.ZodType, R>(definition: RequestDefinition<M, S, R>, params: z.infer<S>, token?: CancellationToken): Promise<R> {
    // vscode-jsonrpc's RequestParam<P> is a conditional type that stays unresolved for a generic P.
    const sent = params as RequestParam<z.infer<S>>;
    return token ? this.connection.sendRequest(definition.type, sent, token) : this.connection.sendRequest(definition.type, sent);
  }

  /** chat/send by its method name: the one request the CLI's hottest path (`mai chat`) makes, without loading the schemas. */
  private send(params: ChatSendParams, token?: CancellationToken): Promise<ChatSendResult> {
    return token ? this.connection.sendRequest<ChatSendResult>(chatSend, params, token) : this.connection.sendRequest<ChatSendResult>(chatSend, params);
  }

  /** Sends one chat turn; with `onProgress`, the answer streams to it as it comes. */
  async chat(params: Omit<ChatSendParams, 'progressToken'>, options: ChatCallOptions = {}): Promise<ChatSendResult> {
    const { onProgress, token } = options;
    if (!onProgress) return this.send(params, token);
    const progressToken = `mai-chat-${process.pid}-${++this.progressTokens}`;
    const subscription = this.connection.onProgress(chatProgress, progressToken, onProgress);
    try {
      return await this.send({ ...params, progressToken }, token);
    } finally {
      subscription.dispose();
    }
  }
}

/** A cancellation source and a way to fire it from a signal (Ctrl-C in the CLI). */
export function cancellationFrom(signal: AbortSignal): CancellationTokenSource {
  const source = new CancellationTokenSource();
  if (signal.aborted) source.cancel();
  else signal.addEventListener('abort', () => source.cancel(), { once: true });
  return source;
}
