/** Finds the line of a value in a parsed YAML document, so that config errors can name it. */
import { isMap, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { yamlErrorSentence } from './yaml-errors.ts';

export type ConfigPath = ReadonlyArray<PropertyKey>;

export interface ParsedYaml {
  readonly data: unknown;
  /** 1-based line of the value at `path` (or of its nearest ancestor that exists). */
  lineOf(path: ConfigPath): number | undefined;
  /** 1-based line of the key `key` inside the map at `path`. */
  lineOfKey(path: ConfigPath, key: string): number | undefined;
  readonly errors: ReadonlyArray<{ message: string; line: number | undefined; column: number | undefined }>;
}

export function parseYaml(text: string): ParsedYaml {
  const lineCounter = new LineCounter();
  const doc: Document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const lineAt = (offset: number | undefined): number | undefined =>
    offset === undefined ? undefined : lineCounter.linePos(offset).line;

  const nodeAt = (path: ConfigPath): unknown => {
    for (let depth = path.length; depth >= 0; depth--) {
      const node = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth) as unknown[], true);
      if (node && typeof node === 'object' && 'range' in node) return node;
    }
    return undefined;
  };

  return {
    data: doc.errors.length > 0 ? undefined : doc.toJS(),
    errors: doc.errors.map((error) => {
      const at = lineCounter.linePos(error.pos[0]);
      // Never error.message: it can quote the file (see yaml-errors.ts).
      return { message: yamlErrorSentence(error.code), line: at.line, column: at.col };
    }),
    lineOf(path) {
      const node = nodeAt(path) as { range?: [number, number, number] } | undefined;
      return lineAt(node?.range?.[0]);
    },
    lineOfKey(path, key) {
      const node = path.length === 0 ? doc.contents : doc.getIn(path as unknown[], true);
      if (isMap(node)) {
        for (const pair of node.items) {
          const k = pair.key as { value?: unknown; range?: [number, number, number] } | null;
          if (k && k.value === key) return lineAt(k.range?.[0]);
        }
      }
      if (isSeq(node)) return lineAt(node.range?.[0]);
      return this.lineOf(path);
    },
  };
}

/** `scorers[1].weight` from `['scorers', 1, 'weight']`. */
export function formatPath(path: ConfigPath): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out === '' ? '(top level)' : out;
}
