/**
 * Summaries already written, by span key, so the same span is never summarised twice: in memory
 * (bounded), and on disk beside the conversation (one JSON line per summary, so they outlive a
 * restart). The file is a cache: a bad line is ignored, and it goes with the conversation on delete.
 */
import { appendFile, readFile } from 'node:fs/promises';
import { makeDir } from './make-dir.ts';
import { dirname } from 'node:path';
import type { Logger } from '../log.ts';

export interface CachedSummary {
  key: string;
  text: string;
  /** Its size by the estimate (the same scale for every model). */
  tokens: number;
  /** The model that wrote it. */
  by: string;
}

export interface SummaryCacheOptions {
  /** Where a conversation's summaries are kept on disk; none keeps them in memory only. */
  fileOf?: (conversationId: string) => string;
  /** True for a conversation with no file yet (just created): it has no summaries to read. */
  isNew?: (conversationId: string) => boolean;
  maxEntries?: number;
  log?: Logger;
}

export class SummaryCache {
  private readonly entries = new Map<string, CachedSummary[]>();
  private readonly loaded = new Map<string, Promise<void>>();
  private readonly maxEntries: number;

  constructor(private readonly options: SummaryCacheOptions = {}) {
    this.maxEntries = options.maxEntries ?? 2_000;
  }

  /** Reads a conversation's saved summaries once. */
  load(conversationId: string): Promise<void> {
    const fileOf = this.options.fileOf;
    if (!fileOf) return Promise.resolve();
    let loading = this.loaded.get(conversationId);
    if (!loading && this.options.isNew?.(conversationId)) {
      // Nothing on disk yet: whatever this process summarises from now on is remembered in memory.
      loading = Promise.resolve();
      this.loaded.set(conversationId, loading);
    }
    if (!loading) {
      loading = readFile(fileOf(conversationId), 'utf8').then(
        (text) => {
          for (const line of text.split('\n')) {
            try {
              const s = JSON.parse(line) as CachedSummary;
              if (typeof s.key === 'string' && typeof s.text === 'string' && typeof s.tokens === 'number') this.remember(s);
            } catch {
              // a torn or foreign line: the cache just misses it
            }
          }
        },
        () => undefined,
      );
      this.loaded.set(conversationId, loading);
    }
    return loading;
  }

  /** The longest summary of span `key` that takes at most `maxTokens`. */
  get(key: string, maxTokens: number): CachedSummary | undefined {
    const fitting = (this.entries.get(key) ?? []).filter((s) => s.tokens <= maxTokens);
    return fitting.sort((a, b) => b.tokens - a.tokens)[0];
  }

  async put(conversationId: string, summary: CachedSummary): Promise<void> {
    this.remember(summary);
    const fileOf = this.options.fileOf;
    if (!fileOf) return;
    const file = fileOf(conversationId);
    try {
      await makeDir(dirname(file));
      await appendFile(file, `${JSON.stringify(summary)}\n`);
    } catch (error) {
      this.options.log?.warn(`could not save a summary to ${file}; it is kept in memory`, error);
    }
  }

  private remember(summary: CachedSummary): void {
    const list = this.entries.get(summary.key) ?? [];
    if (list.some((s) => s.text === summary.text)) return;
    this.entries.delete(summary.key);
    this.entries.set(summary.key, [...list, summary]);
    if (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }
}
