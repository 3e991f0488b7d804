/**
 * Where the metrics go besides the `metrics` JSON-RPC method, as metrics.* in the config says:
 * the `.prom` textfile and the loopback listener. Only the long-lived server starts them (a
 * one-shot `mai chat` would overwrite the server's file with its own few counts, and find the
 * port taken). Applied again on config/reload: what did not change keeps running.
 */
import { resolve } from 'node:path';
import type { MetricsConfig } from '../config/schema.ts';
import type { Logger } from '../log.ts';
import { startMetricsListener, type MetricsListener } from './listener.ts';
import { MetricsTextfile } from './textfile.ts';

export interface MetricsExportersOptions {
  metrics: () => Promise<{ contentType: string; text: string }>;
  log: Logger;
}

export class MetricsExporters {
  private textfile: MetricsTextfile | null = null;
  private textfileKey = '';
  private listener: MetricsListener | null = null;
  private listenerKey = '';

  constructor(private readonly options: MetricsExportersOptions) {}

  /** The listener's URL while one listens. */
  get url(): string | null {
    return this.listener?.url ?? null;
  }

  get textfilePath(): string | null {
    return this.textfile?.file ?? null;
  }

  /** Starts, keeps or stops each exporter as `config` says (relative paths from `baseDir`). */
  async apply(config: MetricsConfig, baseDir: string): Promise<void> {
    const { log } = this.options;
    const file = config.textfile ? resolve(baseDir, config.textfile) : null;
    const textfileKey = file ? `${file}@${config.textfileIntervalMs}` : '';
    if (textfileKey !== this.textfileKey) {
      await this.textfile?.close();
      this.textfile = file ? new MetricsTextfile({ file, intervalMs: config.textfileIntervalMs, text: async () => (await this.options.metrics()).text, log }) : null;
      this.textfileKey = textfileKey;
    }
    const listen = config.listen;
    const listenerKey = listen ? `${listen.host}:${listen.port}` : '';
    if (listenerKey !== this.listenerKey) {
      await this.listener?.close();
      this.listener = null;
      this.listenerKey = listenerKey;
      if (listen) {
        try {
          this.listener = await startMetricsListener({ host: listen.host, port: listen.port, metrics: this.options.metrics });
          log.info(`metrics at ${this.listener.url}`);
        } catch (error) {
          // A port taken by another program must not stop Mai: the metrics method and the textfile still work.
          log.warn(`the metrics listener could not listen on ${listen.host}:${listen.port} (metrics.listen); the metrics method and metrics.textfile still work`, error);
        }
      }
    }
  }

  async close(): Promise<void> {
    await this.textfile?.close();
    await this.listener?.close();
    this.textfile = null;
    this.listener = null;
    this.textfileKey = this.listenerKey = '';
  }
}
