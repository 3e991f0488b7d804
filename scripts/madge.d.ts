/** Types for the part of madge 8.0.0's API that scripts/import-graph.js uses (the package ships none). */
declare module 'madge' {
  export interface MadgeConfig {
    baseDir?: string;
    fileExtensions?: string[];
    tsConfig?: string;
    /** Per detective (es6, ts, tsx…): `skipTypeImports: false` counts `import type` as an arrow. */
    detectiveOptions?: Record<string, Record<string, unknown>>;
  }
  export interface MadgeResult {
    /** Each file (relative to the base dir) and the files it imports. */
    obj(): Record<string, string[]>;
    /** Each circle as the files in it. */
    circular(): string[][];
    /** Imports madge could not resolve to a file. */
    warnings(): { skipped: string[] };
  }
  export default function madge(path: string | string[], config?: MadgeConfig): Promise<MadgeResult>;
}
