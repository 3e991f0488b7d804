/**
 * The one error type of Mai. Every expected failure is a MaiError with a stable string code,
 * a `retryable` flag the fallback stage acts on, an optional cause, and JSON-safe `data` that
 * says why (it travels as the `data` of the JSON-RPC error; see rpc/error-codes.ts for the codes).
 */

export const ErrorCodes = {
  // configuration and plugins
  configNotFound: 'config-not-found',
  configInvalid: 'config-invalid',
  pluginUnknown: 'plugin-unknown',
  pluginLoad: 'plugin-load',
  configNotAllowed: 'config-not-allowed',
  // storage
  stateDirUnusable: 'state-dir-unusable',
  // what a backend can do wrong (the fallback stage acts on these kinds)
  unreachable: 'unreachable',
  timeout: 'timeout',
  rateLimited: 'rate-limited',
  contextOverflow: 'context-overflow',
  modelNotFound: 'model-not-found',
  serverError: 'server-error',
  streamCut: 'stream-cut',
  emptyReply: 'empty-reply',
  badRequest: 'bad-request',
  // selection and turns
  noModelFits: 'no-model-fits',
  pinnedModelUnfit: 'pinned-model-unfit',
  allAttemptsFailed: 'all-attempts-failed',
  queueFull: 'queue-full',
  cancelled: 'cancelled',
  unknownModel: 'unknown-model',
  // conversations
  conversationNotFound: 'conversation-not-found',
  conversationCorrupt: 'conversation-corrupt',
  // the shared host (rpc/host/)
  hostLost: 'host-lost',
  hostUnsafe: 'host-unsafe',
  // anything else
  invalidParams: 'invalid-params',
  internal: 'internal',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** JSON-safe details attached to an error. */
export type ErrorData = { readonly [key: string]: unknown };

export interface MaiErrorOptions {
  retryable?: boolean;
  cause?: unknown;
  data?: ErrorData;
}

/** Error kinds that are worth another try (same model after a backoff, or the next model). */
const retryableByDefault: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  ErrorCodes.unreachable,
  ErrorCodes.timeout,
  ErrorCodes.rateLimited,
  ErrorCodes.contextOverflow,
  ErrorCodes.modelNotFound,
  ErrorCodes.serverError,
  ErrorCodes.streamCut,
  ErrorCodes.emptyReply,
  ErrorCodes.hostLost,
]);

export class MaiError extends Error {
  override readonly name = 'MaiError';
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly data: ErrorData | undefined;

  constructor(code: ErrorCode, message: string, options: MaiErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? retryableByDefault.has(code);
    this.data = options.data;
  }

  /** A plain object for logs and protocol payloads (no stack, no cause chain). */
  toJSON(): { code: ErrorCode; message: string; retryable: boolean; data?: ErrorData } {
    return this.data === undefined
      ? { code: this.code, message: this.message, retryable: this.retryable }
      : { code: this.code, message: this.message, retryable: this.retryable, data: this.data };
  }

  /** Wraps anything thrown into a MaiError, keeping MaiErrors as they are. */
  static from(error: unknown, fallbackCode: ErrorCode = ErrorCodes.internal): MaiError {
    if (error instanceof MaiError) return error;
    if (isAbortError(error)) return new MaiError(ErrorCodes.cancelled, 'The request was cancelled.', { cause: error });
    const message = error instanceof Error ? error.message : String(error);
    return new MaiError(fallbackCode, message, { cause: error });
  }
}

export function isMaiError(error: unknown, code?: ErrorCode): error is MaiError {
  return error instanceof MaiError && (code === undefined || error.code === code);
}

/** The errno code of a system error (ENOENT, EEXIST, ESRCH…), if it has one. */
export const errno = (error: unknown): string | undefined => (error as NodeJS.ErrnoException | null | undefined)?.code;

export function isAbortError(error: unknown): boolean {
  return error instanceof Error && (error.name === 'AbortError' || error.name === 'APIUserAbortError');
}
