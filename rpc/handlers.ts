/**
 * What each method does: a thin layer over the Mai facade (core/mai.ts). Each route pairs a
 * protocol definition with its handler, so the params a handler gets are the schema's type and
 * what it returns is the declared result type. `initialize` and `shutdown` need no Mai (they are
 * answered while it is built); the others await it.
 */
import type { CancellationToken } from 'vscode-jsonrpc/node';
import { ErrorCodes, MaiError } from '../core/errors.ts';
import type { TurnEvent } from '../core/pipeline/turn.ts';
import {
  ChatSendRequest,
  ConfigReloadRequest,
  ConversationsDeleteRequest,
  ConversationsGetRequest,
  ConversationsListRequest,
  InitializeRequest,
  MetricsRequest,
  ModelsListRequest,
  ModelsSwitchRequest,
  ProgressNotification,
  requestMethods,
  ShutdownRequest,
  StatsRequest,
  StatusRequest,
  type InitializeResult,
} from './mai-protocol.ts';
import { route, type Route, type Session } from './route.ts';
import { maiVersion } from './version.ts';

/** An AbortSignal that follows a vscode-jsonrpc CancellationToken. */
export function signalOf(token: CancellationToken): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  if (token.isCancellationRequested) controller.abort();
  const subscription = token.onCancellationRequested(() => controller.abort());
  return { signal: controller.signal, dispose: () => subscription.dispose() };
}

/** Mai's methods. */
export function maiRoutes(session: Session): Route[] {
  const { mai: built, log } = session;
  return [
    route(InitializeRequest, (params): InitializeResult => {
      if (params.clientInfo) log.info(`client: ${params.clientInfo.name} ${params.clientInfo.version ?? ''}`.trim());
      return {
        serverInfo: { name: 'mai', version: maiVersion() },
        capabilities: { methods: [...requestMethods], progress: true, cancellation: true, batch: true, framings: ['content-length', 'ndjson'] },
      };
    }),
    route(ShutdownRequest, (): null => {
      session.shutdownRequested = true;
      return null;
    }),
    route(ChatSendRequest, async (params, { token, connection }) => {
      const mai = await built;
      const { progressToken, ...request } = params;
      const abort = signalOf(token);
      const onEvent =
        progressToken === undefined
          ? undefined
          : (event: TurnEvent) => {
              const failed = (error: unknown) => log.debug('could not send $/progress', error);
              try {
                connection.sendNotification(ProgressNotification.type, { token: progressToken, value: event }).catch(failed);
              } catch (error) {
                failed(error); // the connection is closed: the client left
              }
            };
      try {
        return await mai.chat(request, { signal: abort.signal, ...(onEvent ? { onEvent } : {}) });
      } catch (error) {
        if (abort.signal.aborted) throw new MaiError(ErrorCodes.cancelled, 'The turn was cancelled by $/cancelRequest; nothing of it was stored.', { cause: error, retryable: false });
        throw error;
      } finally {
        abort.dispose();
      }
    }),
    route(ModelsListRequest, async (params) => {
      const report = await (await built).models();
      return params.availableOnly ? { ...report, models: report.models.filter((m) => m.fits) } : report;
    }),
    route(ModelsSwitchRequest, async (params) => (await built).switch(params.model)),
    route(StatusRequest, async () => {
      const mai = await built;
      // The first status of a fresh server lists the backends once, so reachability is known (no
      // ranking: status is polled, and ranking every model per call was most of its cost).
      await mai.ensureCatalog();
      return mai.status();
    }),
    route(StatsRequest, async (params) => (await built).stats(params)),
    route(MetricsRequest, async () => (await built).metrics()),
    route(ConversationsListRequest, async (params) => (await built).listConversations({ cursor: params.cursor, limit: params.limit })),
    route(ConversationsGetRequest, async (params) => (await built).getConversation(params.id)),
    route(ConversationsDeleteRequest, async (params) => (await built).deleteConversation(params.id)),
    route(ConfigReloadRequest, async (params) => (await built).reload({ config: params.config })),
  ];
}
