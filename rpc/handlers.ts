/**
 * What each method does: a thin layer over the Mai facade (core/mai.ts). Each route pairs a
 * protocol definition with its handler, so the params a handler gets are the schema's type and
 * what it returns is the declared result type. These are the methods that need Mai; the
 * lifecycle's routes are rpc/lifecycle.ts, and this module (and zod with it) is loaded only once
 * Mai is built (rpc/server.ts).
 */
import type { CancellationToken } from 'vscode-jsonrpc/node';
import { ErrorCodes, MaiError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import type { Mai } from '../core/mai.ts';
import type { TurnEvent } from '../core/pipeline/turn.ts';
import {
  ChatSendRequest,
  ConfigReloadRequest,
  ConversationsDeleteRequest,
  ConversationsGetRequest,
  ConversationsListRequest,
  MetricsRequest,
  ModelsListRequest,
  ModelsSwitchRequest,
  ProgressNotification,
  StatsRequest,
  StatusRequest,
} from './protocol.ts';
import { route, type Lifecycle, type Route } from './route.ts';

/** An AbortSignal that follows a vscode-jsonrpc CancellationToken. */
export function signalOf(token: CancellationToken): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  if (token.isCancellationRequested) controller.abort();
  const subscription = token.onCancellationRequested(() => controller.abort());
  return { signal: controller.signal, dispose: () => subscription.dispose() };
}

/** Mai's methods besides the lifecycle's (the server answers those from rpc/lifecycle.ts). */
export function maiRoutes(mai: Mai, lifecycle: Lifecycle, log: Logger): Route[] {
  return [
    route(ChatSendRequest, async (params, { token, connection }) => {
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
      const report = await mai.models();
      return params.availableOnly ? { ...report, models: report.models.filter((m) => m.fits) } : report;
    }),
    route(ModelsSwitchRequest, (params) => mai.switch(params.model)),
    route(StatusRequest, async () => {
      // The first status of a fresh server lists the backends once, so reachability is known (no
      // ranking: status is polled, and ranking every model per call was most of its cost).
      await mai.ensureCatalog();
      return mai.status();
    }),
    route(StatsRequest, (params) => mai.stats(params)),
    route(MetricsRequest, () => mai.metrics()),
    route(ConversationsListRequest, (params) => mai.listConversations({ cursor: params.cursor, limit: params.limit })),
    route(ConversationsGetRequest, (params) => mai.getConversation(params.id)),
    route(ConversationsDeleteRequest, (params) => mai.deleteConversation(params.id)),
    route(ConfigReloadRequest, (params) => mai.reload({ config: params.config })),
  ];
}
