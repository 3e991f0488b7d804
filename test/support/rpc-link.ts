/**
 * `mai serve`'s server stack (rpc/serve-streams.ts: framing, conformance, vscode-jsonrpc, Mai's routes) linked
 * to the test in this process over an in-memory stream pair, as the CLI links to it. The protocol
 * suites use it: the same bytes in and out as over a pipe, without starting a process per test. A few
 * spawned smoke tests (rpc-client.ts) keep the real process, its stdio and exit codes covered.
 */
import { PassThrough } from 'node:stream';
import type { Logger } from '../../core/log.ts';
import type { Mai } from '../../core/mai.ts';
import { openMai } from '../../rpc/cli/common.ts';
import { mcpFace } from '../../rpc/mcp/server.ts';
import { serveStreams } from '../../rpc/serve-streams.ts';
import type { ServeEnd, ServeProcess } from './rpc-client.ts';
import { wireSession, type WireFraming } from './wire-session.ts';

/** A logger that keeps what `mai serve` would write to stderr, for the test to read. */
function capturingLogger(lines: string[], scope = 'mai'): Logger {
  const write = (level: string) => (message: string, extra?: unknown) =>
    void lines.push(`[${scope}] ${level}: ${message}${extra === undefined ? '' : ` ${extra instanceof Error ? extra.message : String(extra)}`}`);
  return { error: write('error'), warn: write('warn'), info: () => {}, debug: () => {}, child: (name) => capturingLogger(lines, `${scope}:${name}`) };
}

export interface LinkedServe extends ServeEnd {
  /** Ends the session as a test's afterEach must: `exit` (in-flight turns are cancelled), then end of input; Mai is closed. */
  stop(): Promise<void>;
}

/** `mcp`: the server `mai serve --mcp` runs (the MCP face on the same stack). */
export function linkServe(options: { config: string; framing: WireFraming; mcp?: boolean }): LinkedServe {
  const lines: string[] = [];
  const log = capturingLogger(lines);
  const toServer = new PassThrough();
  const toClient = new PassThrough();
  const mai: Promise<Mai> = openMai(options.config, log);
  mai.catch(() => {}); // a config that fails: every request is answered with it, and the exit code is 2 (below)
  const served = serveStreams({ input: toServer, output: toClient, mai, log, ...(options.mcp ? { face: mcpFace } : {}) });
  const session = wireSession(options.framing, toClient, toServer, () => `stderr: ${lines.join('\n')}`);
  const exited = served.then(async (outcome) => {
    toClient.end();
    toClient.destroy();
    // `mai serve` exits with the outcome's code, or 2 when its config could not be loaded.
    return mai.then(
      async (m) => {
        await m.close();
        return outcome.code;
      },
      () => 2,
    );
  });
  return {
    ...session,
    stderr: () => lines.join('\n'),
    end: () => toServer.end(),
    exited,
    async stop() {
      if (!toServer.writableEnded) {
        session.send({ jsonrpc: '2.0', method: 'exit' });
        toServer.end();
      }
      await exited;
    },
  };
}

/** What a pipe hands `mai serve` at most in one read (its buffer's size on Linux). */
export const PIPE_READ_BYTES = 65_536;

/**
 * Writes `text` to a linked server in PIPE_READ_BYTES pieces, as a pipe hands a long write to the
 * process: a message larger than that reaches the decoder over several chunks, as it would there.
 */
export function writeAsPipe(to: Pick<ServeEnd, 'writeRaw'>, text: string): void {
  for (let at = 0; at < text.length; at += PIPE_READ_BYTES) to.writeRaw(text.slice(at, at + PIPE_READ_BYTES));
}

/** Ends a test's `mai serve` of either kind and waits for it: a spawned one is killed, a linked one stopped. */
export async function endServe(mai: ServeProcess | LinkedServe | undefined): Promise<void> {
  if (!mai) return;
  if ('child' in mai) mai.child.kill();
  else await mai.stop();
  await mai.exited;
}
