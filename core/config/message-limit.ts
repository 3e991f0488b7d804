/**
 * The largest JSON-RPC message Mai reads (config key `server.maxMessageBytes`), kept apart from
 * the zod schema so that `mai serve` can frame its first input before zod is loaded.
 */
export const defaultMaxMessageBytes = 32 * 1024 * 1024;

/** Where a user raises the limit, as named in the error a client gets. */
export const maxMessageBytesKey = 'server.maxMessageBytes';
