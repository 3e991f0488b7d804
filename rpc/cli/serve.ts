/** `mai serve`: JSON-RPC 2.0 on stdin/stdout until stdin ends or `exit` arrives. */
import type { Mai } from '../../core/mai.ts';
import { serveStreams } from '../serve.ts';
import { configOption, logger, openMai, parseCommandArgs, type Command } from './common.ts';

/** Without any input, Mai is built this long after the server listens. */
const BUILD_DELAY_MS = 20;

export const serveCommand: Command = {
  name: 'serve',
  summary: 'answer JSON-RPC 2.0 on stdin/stdout (for editors, agents and pipes)',
  help: `Usage: mai serve [--mcp] [--config FILE]

Answers JSON-RPC 2.0 on stdin/stdout. The framing is detected from the first byte: LSP-style
"Content-Length: N\\r\\n\\r\\n{json}" or one JSON message a line; replies use the same framing.
stdout carries the protocol only; logs go to stderr (MAI_LOG=debug for more).
At the end of stdin every request already received is answered before Mai exits, so
  cat requests.ndjson | mai serve
prints every reply. Methods: initialize, shutdown, exit, chat/send, models/list, models/switch,
status, conversations/list|get|delete, config/reload, $/cancelRequest.

With --mcp Mai is a Model Context Protocol server instead (newline-delimited JSON-RPC, as MCP
clients such as agents speak it): initialize, ping, tools/list, tools/call with the tools chat,
models and status, notifications/progress for a progressToken, notifications/cancelled.

Options:
  --mcp           answer MCP (Model Context Protocol) instead of Mai's own methods
  --config FILE   the config to use (default: $MAI_CONFIG, ./mai.config.yaml, the built-in)
  -h, --help      this help`,
  async run(args) {
    const { values } = parseCommandArgs('serve', args, { ...configOption, mcp: { type: 'boolean' } });
    if (values.help) {
      process.stdout.write(`${this.help}\n`);
      return 0;
    }
    const log = logger();
    // Listen first, build Mai behind: `initialize` (and shutdown/exit) need no Mai nor zod (their
    // routes are rpc/lifecycle.ts), every other request waits for Mai and its routes (rpc/handlers.ts,
    // imported once Mai is built). The build starts once the first input has been handled (so the
    // first `initialize` is not slowed by loading Mai's modules) or after BUILD_DELAY_MS without input.
    let start: () => void = () => {};
    const mai = new Promise<Mai>((resolve) => {
      start = () => {
        start = () => {};
        resolve(openMai(values.config, log));
      };
    });
    const face = values.mcp ? (await import('../mcp/server.ts')).mcpFace : undefined;
    // Nothing a client sends may take the server down; a bug in a handler is logged, not fatal.
    process.on('uncaughtException', (error) => log.error('uncaught exception (the server keeps running)', error.stack ?? error));
    process.on('unhandledRejection', (reason) => log.error('unhandled rejection (the server keeps running)', reason));
    const served = serveStreams({ input: process.stdin, output: process.stdout, mai, log, ...(face ? { face } : {}) });
    // After serveStreams' own listener, so the build starts once the first chunk has been handled
    // and the replies it needs no Mai for are written: vscode-jsonrpc dispatches it on one
    // setImmediate, serveStreams writes the replies on the next, then (a turn later) Mai's modules load.
    process.stdin.once('data', () => setImmediate(() => setImmediate(() => start())));
    const idle = setTimeout(() => start(), BUILD_DELAY_MS);
    const outcome = await served;
    clearTimeout(idle);
    log.debug(`serve finished: ${outcome.reason}`);
    // A config that fails is its message on stderr and exit code 2 (main's reportFailure) once the
    // client has ended the session; until then every request that needed Mai was answered with it.
    // Mai is built (if the input ended before it was) so a bad config is reported however short the input.
    start();
    const built = await mai;
    await Promise.race([built.close(), new Promise((resolve) => setTimeout(resolve, 3_000).unref())]).catch((error: unknown) =>
      log.debug('closing Mai failed', error),
    );
    return outcome.code;
  },
};
