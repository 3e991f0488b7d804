/**
 * Error replies never echo large input back: a message (or a string in `data`) that quotes what a
 * client sent — a 10 MB method name, JSON.parse's excerpt of a 10 MB line — is cut to a few
 * hundred characters, saying how much was cut. A reply once repeated a 10 MB input twice.
 */
const MAX_MESSAGE = 500;
const MAX_DATA_STRING = 200;

export function clip(text: string, max = MAX_MESSAGE): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more characters not repeated)`;
}

interface ErrorLike {
  code?: unknown;
  message?: unknown;
  data?: unknown;
}

function boundError(error: ErrorLike): ErrorLike {
  const message = typeof error.message === 'string' ? clip(error.message) : error.message;
  if (!error.data || typeof error.data !== 'object' || Array.isArray(error.data)) return { ...error, message };
  const data: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(error.data as Record<string, unknown>)) {
    data[key] = typeof value === 'string' ? clip(value, MAX_DATA_STRING) : value;
  }
  return { ...error, message, data };
}

/** The reply (or batch of replies) with every error's text bounded; anything else unchanged. */
export function boundReplies(message: unknown): unknown {
  if (Array.isArray(message)) return message.map(boundReplies);
  if (!message || typeof message !== 'object') return message;
  const reply = message as { error?: unknown };
  if (!reply.error || typeof reply.error !== 'object') return message;
  return { ...reply, error: boundError(reply.error as ErrorLike) };
}
