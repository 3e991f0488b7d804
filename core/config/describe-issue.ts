/** Turns schema validation issues into sentences that say what is wrong and what is allowed. */
import { z } from '../zod.ts';

type Issue = z.core.$ZodIssue;

export function valueAt(data: unknown, path: ReadonlyArray<PropertyKey>): unknown {
  let value: unknown = data;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/** A string value is quoted only when it is short, on one line, and not the whole file. */
const quotableLength = 64;

/**
 * What a value is, for an error message. A config error goes back to the client that asked for the
 * reload, so content is quoted only where Mai understood the YAML: a short one-line value under a
 * key the schema knows. A whole file that parsed as one string (/proc/self/environ, a .env, a key)
 * is described by its kind and length, never quoted.
 */
export function describeValue(value: unknown, path: ReadonlyArray<PropertyKey> = []): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') {
    const quotable = path.length > 0 && value.length <= quotableLength && ![...value].some((c) => c < ' ' || c === '\u007f');
    return quotable ? JSON.stringify(value) : `a string of ${value.length} character(s)`;
  }
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  return String(value);
}

const article = (type: string): string =>
  ({ object: 'a map', array: 'a list', number: 'a number', string: 'a string', boolean: 'true or false', int: 'a whole number' })[
    type
  ] ?? type;

/** Unwraps defaults, optionals, lazies (a schema built on first use) and the like to the schema that has the shape. */
function core(schema: z.ZodType): z.ZodType {
  let current: z.ZodType = schema;
  for (let i = 0; i < 10; i++) {
    if (current instanceof z.ZodDefault || current instanceof z.ZodOptional || current instanceof z.ZodNullable) {
      current = current.unwrap() as z.ZodType;
    } else if (current instanceof z.ZodPipe) {
      current = current.in as z.ZodType;
    } else if (current instanceof z.ZodLazy) {
      current = current.unwrap() as z.ZodType;
    } else break;
  }
  return current;
}

/** The keys a map at `path` of `schema` may have. */
export function allowedKeysAt(schema: z.ZodType, path: ReadonlyArray<PropertyKey>): string[] {
  let current = core(schema);
  for (const key of path) {
    if (current instanceof z.ZodObject) {
      const next = (current.shape as Record<string, z.ZodType>)[String(key)];
      if (!next) return [];
      current = core(next);
    } else if (current instanceof z.ZodArray) {
      current = core(current.element as z.ZodType);
    } else if (current instanceof z.ZodRecord) {
      current = core(current.valueType as z.ZodType);
    } else return [];
  }
  return current instanceof z.ZodObject ? Object.keys(current.shape) : [];
}

/** An unknown key is named when it looks like a key (a typo of a real one); anything else is not quoted. */
function describeKey(key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_-]{0,39}$/.test(key) ? `"${key}"` : `(a key of ${key.length} character(s) that is not a name)`;
}

/** One sentence: what was expected and what was found. */
export function describeIssue(issue: Issue, data: unknown, schema: z.ZodType): string {
  const got = describeValue(valueAt(data, issue.path), issue.path);
  switch (issue.code) {
    case 'invalid_type':
      return `expected ${article(issue.expected)}, got ${got}`;
    case 'too_small': {
      const min = String(issue.minimum);
      if (issue.origin === 'number') return `expected a number ${issue.inclusive ? '≥' : '>'} ${min}, got ${got}`;
      if (issue.origin === 'array') return `expected at least ${min} item(s)`;
      return `expected at least ${min} character(s), got ${got}`;
    }
    case 'too_big': {
      const max = String(issue.maximum);
      if (issue.origin === 'number') return `expected a number ${issue.inclusive ? '≤' : '<'} ${max}, got ${got}`;
      return `expected at most ${max} item(s)`;
    }
    case 'invalid_value':
      return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${got}`;
    case 'unrecognized_keys': {
      const allowed = allowedKeysAt(schema, issue.path);
      const keys = issue.keys.map(describeKey).join(', ');
      return `unknown key ${keys}; allowed keys: ${allowed.join(', ') || '(none)'}`;
    }
    case 'not_multiple_of':
      return `expected a multiple of ${String(issue.divisor)}, got ${got}`;
    default:
      return `${issue.message}, got ${got}`;
  }
}
