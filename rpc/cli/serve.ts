/** `mai serve`: JSON-RPC 2.0 on stdin/stdout until stdin ends or `exit` arrives. */
import type { ClientWatch } from '../client-gone.ts';
import type { ClientBytes } from '../host/client-bytes.ts';
import { clientOptions, parseCommandArgs, type Command } from './args.ts';

export const serveCommand: Command = {
  name: 'serve',
  summary: 'answer JSON-RPC 2.0 on stdin/stdout (for editors, agents and pipes)',
  help: `Usage: mai serve [--mcp] [--standalone] [--config FILE]

Answers JSON-RPC 2.0 on stdin/stdout. The framing is detected from the first byte: LSP-style
"Content-Length: N\\r\\n\\r\\n{json}" or one JSON message a line; replies use the same framing.
stdout carries the protocol only; logs go to stderr (MAI_LOG=debug for more).
At the end of stdin every request already received is answered before Mai exits, so
  cat requests.ndjson | mai serve
prints every reply. Methods: initialize, shutdown, exit, chat/send, models/list, models/switch,
status, stats, metrics, conversations/list|get|delete, config/reload, $/cancelRequest.

With --mcp Mai is a Model Context Protocol server instead (newline-delimited JSON-RPC, as MCP
clients such as agents speak it): initialize, ping, tools/list, tools/call with the tools chat,
models and status, notifications/progress for a progressToken, notifications/cancelled.

By default it forwards stdin/stdout to the shared host for the config (\`mai host --help\`),
starting it when none runs; with --standalone (or MAI_STANDALONE=1), or when no host can
start (the reason goes to stderr), Mai runs in this process.

Options:
  --mcp           answer MCP (Model Context Protocol) instead of Mai's own methods
  --config FILE   the config to use (default: $MAI_CONFIG, ./mai.config.yaml, the built-in)
  --standalone    Mai in this process, not the shared host (mai host --help)
  -h, --help      this help`,
  async run(args, io) {
    const { values } = parseCommandArgs('serve', args, { ...clientOptions, mcp: { type: 'boolean' } });
    if (values.help) {
      io.stdout.write(`${this.help}\n`);
      return 0;
    }
    // By default a thin forwarder: stdio to the shared host's socket, byte for byte (rpc/host/).
    const { standaloneWanted, useHost } = await import('../host/use-host.ts');
    const find = { flag: values.config, env: io.env, cwd: io.cwd };
    const reached = standaloneWanted(values.standalone, io.env) ? null : await useHost(find, values.mcp ? 'mcp' : 'mai', values.mcp ? 'mai serve --mcp' : 'mai serve', io);
    if (reached) {
      const [{ forward }, { stdinBytes, streamBytes }, { watchClient }] = await Promise.all([import('../host/forward.ts'), import('../host/client-bytes.ts'), import('../client-gone.ts')]);
      // An editor that quits closes stdout and stderr with stdin: the forwarder then ends its connection
      // (the host cancels this client's turns) though no byte was due to go out (a held turn, a model load).
      let watch: ClientWatch | undefined;
      const gone = new Promise<string>((resolve) => (io.ownsProcess ? (watch = watchClient(resolve)) : undefined));
      // The process's own stdin is read with `onread` where it can be (a socket or a pipe, on Node): ~20 µs less per message.
      const bytes = (io.ownsProcess ? stdinBytes() : null) ?? streamBytes(io.stdin);
      // What the client sends, and the end of it, set the watch's fast pace (after the bytes went on).
      const input: ClientBytes = {
        receive: (chunk, end) =>
          bytes.receive(
            (view) => {
              chunk(view);
              watch?.active();
            },
            () => {
              end();
              watch?.active();
            },
          ),
      };
      const outcome = await forward({ input, output: io.stdout, ...reached, face: values.mcp ? 'mcp' : 'mai', name: 'mai serve', gone, env: io.env, warn: (text) => io.stderr.write(text) });
      return outcome.code;
    }
    // Imported here: the forwarder above needs none of the server (vscode-jsonrpc, zod, the schemas, Mai's core).
    const [{ logger, openMai }, { onStderrGone, stderrGone }, { installLastResortHandlers }, { watchClient }, { serveStreams }, face] = await Promise.all([
      import('./common.ts'),
      import('../../core/log.ts'),
      import('./last-resort.ts'),
      import('../client-gone.ts'),
      import('../serve-streams.ts'),
      values.mcp ? import('../mcp/server.ts').then((m) => m.mcpFace) : undefined,
    ]);
    const log = logger(io);
    if (io.ownsProcess) installLastResortHandlers(log);
    // Serving starts at once and Mai is built behind it: the methods that need no Mai (initialize,
    // shutdown, exit) are answered while Mai's modules load; every other request awaits it.
    // The long-lived server exports the metrics (metrics.textfile, metrics.listen); one-shot commands do not.
    const mai = openMai(values.config, log, { exporters: true, io });
    mai.catch(() => {}); // reported below, once the client has ended the session
    // An editor that quits closes stdout and stderr too: that ends serving though no reply was due.
    // (Watched to the end: a client that leaves while Mai is still being built is not waited for.)
    // (Only the real process has file descriptors 1 and 2 to watch; a test's streams end by closing.)
    let watch: ClientWatch | undefined;
    const gone = new Promise<string>((resolve) => (io.ownsProcess ? (watch = watchClient(resolve, { onStderrGone, stderrGone })) : undefined));
    const served = serveStreams({ input: io.stdin, output: io.stdout, mai, log, gone, ...(face ? { face } : {}) });
    // What the client sends, and the end of it, set the watch's fast pace.
    if (watch) {
      const active = () => watch?.active();
      io.stdin.on('data', active);
      io.stdin.once('end', active);
    }
    const outcome = await served;
    log.debug(`serve finished: ${outcome.reason}`);
    const clientGone = outcome.reason === 'client-gone' || outcome.reason === 'output-closed';
    // A config that fails is its message on stderr and exit code 2 (main's reportFailure) once the
    // client has ended the session; until then every request that needed Mai was answered with it.
    // A client that left while Mai is still being built has nobody to report a bad config to.
    const built = await Promise.race([mai, gone.then(() => null)]);
    if (!built) return outcome.code;
    await Promise.race([built.close(), new Promise((resolve) => setTimeout(resolve, clientGone ? 1_000 : 3_000).unref())]).catch((error: unknown) =>
      log.debug('closing Mai failed', error),
    );
    return outcome.code;
  },
};
