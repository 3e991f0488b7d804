/**
 * Every method name of Mai's JSON-RPC protocol, declared once. Free of zod (and of everything
 * else) so that `mai serve` can answer `initialize` — whose reply lists the request methods —
 * before the params schemas (rpc/protocol.ts) are loaded. protocol.ts builds its definitions on these.
 */
export const Methods = {
  initialize: 'initialize',
  shutdown: 'shutdown',
  exit: 'exit',
  cancelRequest: '$/cancelRequest',
  progress: '$/progress',
  chatSend: 'chat/send',
  modelsList: 'models/list',
  modelsSwitch: 'models/switch',
  status: 'status',
  stats: 'stats',
  metrics: 'metrics',
  conversationsList: 'conversations/list',
  conversationsGet: 'conversations/get',
  conversationsDelete: 'conversations/delete',
  configReload: 'config/reload',
} as const;

/** Every request method, in the order `initialize` lists them. */
export const requestMethods = [
  Methods.initialize,
  Methods.shutdown,
  Methods.chatSend,
  Methods.modelsList,
  Methods.modelsSwitch,
  Methods.status,
  Methods.stats,
  Methods.metrics,
  Methods.conversationsList,
  Methods.conversationsGet,
  Methods.conversationsDelete,
  Methods.configReload,
] as const;
export type RequestMethod = (typeof requestMethods)[number];
