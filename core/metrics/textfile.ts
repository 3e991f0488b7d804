/**
 * The metrics as a `.prom` file for node_exporter's textfile collector: rewritten every interval
 * and once more when Mai closes, each time whole — written to a temporary file beside it, then
 * renamed over it, so the collector never reads half a file. A failure is one warning; the next
 * interval tries again.
 */
import { mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from '../log.ts';

export interface TextfileOptions {
  file: string;
  intervalMs: number;
  text: () => Promise<string>;
  log: Logger;
}

export class MetricsTextfile {
  private readonly timer: ReturnType<typeof setInterval>;
  private writing: Promise<void> | null = null;
  private warned = false;

  constructor(private readonly options: TextfileOptions) {
    this.timer = setInterval(() => void this.write(), options.intervalMs);
    this.timer.unref?.();
    void this.write();
  }

  get file(): string {
    return this.options.file;
  }

  /** Rewrites the file now (after any write in progress). */
  async write(): Promise<void> {
    while (this.writing) await this.writing;
    this.writing = this.rewrite().finally(() => (this.writing = null));
    return this.writing;
  }

  private async rewrite(): Promise<void> {
    const { file, log } = this.options;
    const tmp = `${file}.${process.pid}.tmp`;
    try {
      const text = await this.options.text();
      await mkdir(dirname(file), { recursive: true });
      await writeFile(tmp, text, { mode: 0o644 });
      await rename(tmp, file);
      this.warned = false;
    } catch (error) {
      await unlink(tmp).catch(() => undefined);
      if (!this.warned) log.warn(`could not write the metrics to ${file} (metrics.textfile); Mai tries again every ${this.options.intervalMs} ms`, error);
      this.warned = true;
    }
  }

  /** Stops the interval after a last rewrite, so the file holds the final counts. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.write();
  }
}
