/**
 * What a suite sets up for each test and must take down after it, in one place: model servers on
 * 127.0.0.1, temporary folders, a Mai over them. `useScene()` registers the afterEach that closes
 * everything the test opened, newest first (Mai before the servers it talks to, folders last), so
 * a suite no longer repeats the same `let server; let dir; let mai; afterEach(…)` block. Also the
 * two-backend config the fallback, ledger and metrics suites share: a primary and a backup model,
 * each on its own OpenAI-compatible server.
 */
import { afterEach } from 'vitest';
import type { Mai } from '../../core/mai.ts';
import type { ResourceSnapshot } from '../../core/types.ts';
import { createTestMai, snapshot, tempDir, type TempDir } from './harness.ts';
import { startOllamaServer, type FakeOllamaModel, type FakeOllamaServer, type OllamaServerOptions } from './ollama-server.ts';
import { startOpenAIServer, type FakeModel, type FakeOpenAIServer, type OpenAIServerOptions } from './openai-server.ts';

export class Scene {
  private closers: Array<() => Promise<void>> = [];

  /** Closes `close` after the test, before whatever was opened earlier. */
  own(close: () => Promise<void>): void {
    this.closers.push(close);
  }

  async dir(prefix?: string): Promise<TempDir> {
    const dir = await tempDir(prefix);
    this.own(() => dir.cleanup());
    return dir;
  }

  async openai(models: FakeModel[], options?: OpenAIServerOptions): Promise<FakeOpenAIServer> {
    const server = await startOpenAIServer(models, options);
    this.own(() => server.close());
    return server;
  }

  async ollama(models: FakeOllamaModel[], options?: OllamaServerOptions): Promise<FakeOllamaServer> {
    const server = await startOllamaServer(models, options);
    this.own(() => server.close());
    return server;
  }

  /** A Mai over `yaml` in a fresh temporary folder (state in it), on a machine that reads `resources`. */
  async mai(yaml: string, resources: ResourceSnapshot = snapshot(), prefix?: string): Promise<Mai> {
    const dir = await this.dir(prefix);
    const { mai } = await createTestMai(dir.path, yaml, resources);
    this.own(() => mai.close());
    return mai;
  }

  /** Closes everything, newest first; every closer runs even if one fails, and the first failure is thrown. */
  async close(): Promise<void> {
    const closers = this.closers.reverse();
    this.closers = [];
    const outcomes = [];
    for (const close of closers) outcomes.push(await close().then(() => undefined, (error: unknown) => ({ error })));
    const failed = outcomes.find((o) => o !== undefined);
    if (failed) throw failed.error;
  }
}

/** A Scene whose contents are closed after each test of the calling suite. */
export function useScene(): Scene {
  const scene = new Scene();
  afterEach(() => scene.close());
  return scene;
}

/**
 * The `backends:` of the two-model suites: backend `a` serves the primary model, backend `b` the
 * backup, each an OpenAI-compatible server (not llama.cpp, so no /props probing).
 */
export function primaryBackupBackends(primaryURL: string, backupURL: string): string {
  return `backends:
  - use: openai
    name: a
    options: { baseURL: ${primaryURL}, llamaCppExtras: false }
  - use: openai
    name: b
    options: { baseURL: ${backupURL}, llamaCppExtras: false }
`;
}
