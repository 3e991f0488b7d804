/**
 * What a client asks of one turn: the one schema for it. `Mai.chat` takes it; the protocol's
 * `chat/send` params are this schema plus what only the wire needs (rpc/mai-protocol.ts: progressToken),
 * and the MCP chat tool's arguments are picked from it. Built on its first use (`lazySchema`), as
 * the protocol's params are.
 */
import { lazySchema, z } from './zod.ts';
import { Capability } from './config/capability.ts';

/** How urgent a turn is: someone waits for it (an editor, `mai chat`, MCP), or it is one of many (`mai batch`). */
export const Priority = z.enum(['interactive', 'batch']);
export type Priority = z.infer<typeof Priority>;

export const TurnRequest = lazySchema(() =>
  z.strictObject({
    message: z.string().min(1, 'the message is empty: send the text to answer in "message"'),
    conversationId: z.string().min(1).optional(),
    system: z.string().optional(),
    /** Answer this turn with this model (like a pin, for one turn); `id@backend` names one of its servers. */
    model: z.string().min(1).optional(),
    maxTokens: z.number().int().positive().optional(),
    temperature: z.number().min(0).max(2).optional(),
    /** What the answering model must be able to do (default: chat). */
    capabilities: z.array(Capability).min(1).optional(),
    /** Interactive (the default) turns go before batch ones in each model's queue. */
    priority: Priority.optional(),
    /**
     * At most this many of the client's turns are answered at once; its others wait ready in Mai's
     * queue (`mai batch -j N` keeps a few more than N there, so a freed slot never waits for a round trip).
     */
    concurrency: z.number().int().positive().optional(),
    /** The client that sent the turn (a `ClientHandle`'s id; the implicit local client when none). Set by the host per connection, never taken from the wire. */
    client: z.string().min(1).optional(),
  }),
);
export type TurnRequest = z.infer<typeof TurnRequest>;
