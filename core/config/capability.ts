/**
 * What a model can do, as configs and turns name it: its own module so that a turn's schema
 * (core/turn-request.ts, which the protocol's chat/send params extend) does not build the whole
 * config schema — `mai serve --standalone` loads the protocol before it answers `initialize`.
 */
import { z } from '../zod.ts';

export const capabilities = ['chat', 'code', 'reasoning', 'vision', 'tools'] as const;
export const Capability = z.enum(capabilities);
export type Capability = z.infer<typeof Capability>;
