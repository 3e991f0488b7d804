/**
 * The test files that run in the "shared" vitest project (vitest.config.ts): one after another in a
 * worker that keeps its module graph (`isolate: false`), so core/, plugins/, rpc/, zod, vscode-jsonrpc
 * and the fake servers are imported once per worker rather than once per file (issue 18: the import
 * phase was most of an in-process file's CPU time). Every other file, and every NEW file, runs in the
 * "isolated" project with a fresh module graph: a file joins this list only once it has been audited.
 *
 * A file may be listed when it leaves the process as it found it:
 * - no vi.mock / vi.doMock / vi.stubGlobal / vi.stubEnv, no fake timers left on, every vi.spyOn restored;
 * - process.env, process.cwd(), globalThis, process listeners and process.stdout/stderr changed only
 *   with a restore in a finally or an afterEach;
 * - every server, Mai, worker pool, child process and interval it starts is closed by its own hooks;
 * - it does not rely on a module-level singleton being fresh (a cache, a counter, a registry).
 * Files that spawn `mai` may be listed too (their cost is the child, but the harness and the in-process
 * halves still load once); a file whose point is process-wide (context-store-race.test.ts's vi.mock
 * of node:fs) stays isolated.
 */
export const sharedFiles: readonly string[] = [
  // in process: backends against real loopback servers, config, catalogue
  'test/backend-lmstudio.test.ts',
  'test/backend-mixed.test.ts',
  'test/backend-node-http.test.ts',
  'test/backend-ollama.test.ts',
  'test/backend-openai.test.ts', // restores OPENAI_API_KEY and its stderr/console spies in finally
  'test/backend-options.test.ts',
  'test/catalog.test.ts',
  'test/config-safety.test.ts',
  'test/config.test.ts', // removes the globalThis mark its test plugin sets
  // context, ledger, stats
  'test/context-budget.test.ts',
  'test/context-instructions.test.ts',
  'test/context-reserve.test.ts',
  'test/context-store-fsync.test.ts',
  'test/context-summary.test.ts',
  'test/context-switch.test.ts',
  'test/context-tokens.test.ts',
  'test/conversations-list.test.ts',
  'test/deadline.test.ts',
  'test/end-to-end.test.ts',
  'test/ledger-rotation.test.ts',
  'test/ledger.test.ts',
  'test/metrics-lazy.test.ts',
  'test/zod-config.test.ts',
  'test/stats-file.test.ts',
  // the pipeline: select, fallback, load, scheduling
  'test/fallback-http.test.ts',
  'test/fallback-minimal.test.ts',
  'test/fallback-parallel.test.ts',
  'test/fallback-plan.test.ts',
  'test/fallback-queue.test.ts',
  'test/fallback-stall.test.ts',
  'test/fallback-timeouts.test.ts',
  'test/load-bad-input.test.ts',
  'test/load-locality.test.ts',
  'test/load-ollama-replicas.test.ts',
  'test/load-replica-pin.test.ts',
  'test/load-routing.test.ts',
  'test/pipeline.test.ts',
  'test/scorer-swap.test.ts',
  'test/scorers-builtin.test.ts',
  'test/select-property.test.ts',
  'test/select-switching.test.ts',
  'test/select-triggers.test.ts',
  'test/shared-scheduling.test.ts', // restores process.stdout.write in finally
  'test/monitor-gpu-probe.test.ts',
  'test/monitor-sampling.test.ts',
  // GGUF files run in process (node-llama-cpp) and their metadata
  'test/gguf-backend.test.ts',
  'test/gguf-demo-models.test.ts',
  'test/gguf-discovery.test.ts',
  'test/gguf-mai.test.ts',
  'test/gguf-metadata.test.ts',
  // the protocol, linked in process (rpc-link.ts) or spawned
  'test/host-reply-ids.test.ts',
  'test/framing-read-buffer.test.ts',
  'test/host-reply-ids-leading.test.ts',
  'test/host-direct-write.test.ts',
  'test/mcp-sdk.test.ts',
  'test/mcp-wire.test.ts',
  'test/rpc-conformance.test.ts',
  'test/rpc-deep-nesting.test.ts',
  'test/rpc-eof.test.ts',
  'test/rpc-error-codes.test.ts',
  'test/rpc-framing-faults.test.ts',
  'test/rpc-in-process.test.ts',
  'test/rpc-lifecycle.test.ts',
  'test/rpc-methods.test.ts',
  'test/rpc-startup.test.ts',
  'test/rpc-streaming.test.ts',
  // the CLI, in process (cli-in-process.ts) or spawned
  'test/batch-read-ahead.test.ts',
  'test/cli-batch.test.ts',
  'test/cli-commands.test.ts', // main in process as cli-batch; its spawned commands awaited, their hosts killed in afterEach
  'test/cli-config-errors.test.ts',
  'test/package-root.test.ts',
  'test/import-graph.test.ts',
  // spawned `mai` with state in temp dirs
  'test/backend-deno.test.ts',
  'test/build-skip.test.ts', // builds a small tree in its temp folder, removed in afterAll
  'test/code-cache.test.ts', // every launch's cache under its own temp folder, removed in afterAll
  'test/context-crash.test.ts',
  'test/context-read-loss.test.ts',
  'test/context-store-new.test.ts',
  'test/context-store.test.ts',
  'test/deno-serve.test.ts',
  'test/host-bad-input.test.ts', // puts back each mode and owner it changes in finally; its hosts killed in afterAll
  'test/host-connect.test.ts',
  'test/host-forwarder-lean.test.ts',
  'test/host-reload.test.ts',
  'test/host.test.ts', // every client it starts killed after its case, every host in afterAll (by the pids their logs name)
  'test/ledger-unstarted.test.ts',
  'test/metrics.test.ts',
  'test/state-dir.test.ts',
  'test/stats.test.ts',
  'test/reliability/backend-faults.test.ts',
  'test/reliability/load.test.ts',
  'test/reliability/malformed-messages.test.ts',
  'test/reliability/sigkill.test.ts',
  'test/reliability/vanishing-clients.test.ts',
];
