/** `mai chat`: one turn (a message, or piped stdin), or a REPL on a terminal; tokens stream as they come. */
import { createInterface } from 'node:readline';
import { ResponseError } from 'vscode-jsonrpc/node';
import { cancellationFrom, type MaiClient } from '../client.ts';
import { RpcCodes } from '../error-codes.ts';
import type { ChatSendParams, ChatSendResult } from '../mai-protocol.ts';
import { AnswerPrinter } from './answer-printer.ts';
import { parseReplLine, REPL_HELP } from './repl-commands.ts';
import { clientOptions, ExitCodes, parseCommandArgs, UsageError, type Command } from './args.ts';
import { errorJson, readAll, reportFailure, withClient, writeOut } from './common.ts';
import type { CliIo } from './io.ts';

const options = {
  ...clientOptions,
  conversation: { type: 'string', short: 'c' },
  model: { type: 'string', short: 'm' },
  system: { type: 'string', short: 's' },
  json: { type: 'boolean' },
} as const;

type TurnParams = Omit<ChatSendParams, 'progressToken'>;

/** One turn; Ctrl-C cancels it (the server aborts the backend and stores nothing). */
async function turn(client: MaiClient, params: TurnParams, json: boolean, io: CliIo): Promise<ChatSendResult> {
  const interrupt = new AbortController();
  const stopListening = io.onInterrupt(() => interrupt.abort());
  const source = cancellationFrom(interrupt.signal);
  const printer = new AnswerPrinter(io);
  try {
    return await client.chat(params, { token: source.token, ...(json ? {} : { onProgress: printer.onProgress }) });
  } finally {
    stopListening();
    printer.finish();
    source.dispose();
  }
}

function isCancelled(error: unknown): boolean {
  return error instanceof ResponseError && error.code === RpcCodes.requestCancelled;
}

/**
 * Who answered, when the turn named a model that failed: `-m` falls back like a pin does, but
 * never silently. Empty when the named model answered (or none was named).
 */
export function fallbackNote(result: ChatSendResult, requested: string | undefined): string {
  if (requested === undefined || result.model === requested) return '';
  const failed = result.attempts.find((a) => a.error && a.model !== result.model);
  if (!failed?.error) return '';
  return `mai: answered by ${result.model} (${failed.model} failed: ${failed.error.message.replace(/\.$/, '')})\n`;
}

/** The id that continues the conversation, on stderr after every answer: a script gets it without --json. */
export function continueHint(result: ChatSendResult): string {
  return `(${result.model} · continue with: mai chat -c ${result.conversationId})\n`;
}

/** `--json` failure: one JSON object on stdout, like a failed `mai batch` line. */
function jsonError(error: unknown): string {
  return `${JSON.stringify({ error: errorJson(error) })}\n`;
}

async function oneShot(client: MaiClient, params: TurnParams, json: boolean, io: CliIo): Promise<number> {
  try {
    const result = await turn(client, params, json, io);
    if (json) await writeOut(io, `${JSON.stringify(result)}\n`);
    io.stderr.write(fallbackNote(result, params.model) + (json ? '' : continueHint(result)));
    return ExitCodes.ok;
  } catch (error) {
    if (json) await writeOut(io, jsonError(error));
    if (isCancelled(error)) {
      io.stderr.write('mai: cancelled; nothing of the turn was stored\n');
      return ExitCodes.interrupted;
    }
    return reportFailure(error, io);
  }
}

async function repl(client: MaiClient, base: TurnParams, json: boolean, io: CliIo): Promise<number> {
  const rl = createInterface({ input: io.stdin, output: io.stdout, prompt: 'you> ' });
  io.stderr.write('mai chat: the conversation continues across turns; /help lists the commands, Ctrl-C cancels an answer, Ctrl-D quits.\n');
  let conversationId = base.conversationId;
  rl.prompt();
  for await (const raw of rl) {
    const line = parseReplLine(raw);
    if (line.kind === 'exit') break;
    if (line.kind === 'help') io.stderr.write(`${REPL_HELP}\n`);
    else if (line.kind === 'unknown') io.stderr.write(`mai: unknown command ${line.command}; /help lists them (//… sends a message that starts with /).\n`);
    else if (line.kind === 'id') io.stderr.write(conversationId ? `${conversationId}\n` : '(no conversation yet: it starts with your first message)\n');
    else if (line.kind === 'new') {
      conversationId = undefined;
      io.stderr.write('(a new conversation)\n');
    } else if (line.kind === 'message') {
      rl.pause();
      try {
        const result = await turn(client, { ...base, message: line.text, ...(conversationId ? { conversationId } : {}) }, json, io);
        conversationId = result.conversationId;
        if (json) await writeOut(io, `${JSON.stringify(result)}\n`);
        io.stderr.write(fallbackNote(result, base.model));
      } catch (error) {
        if (json) await writeOut(io, jsonError(error));
        if (isCancelled(error)) io.stderr.write('(cancelled)\n');
        else reportFailure(error, io);
      }
      rl.resume();
    }
    rl.prompt();
  }
  rl.close();
  return ExitCodes.ok;
}

export const chatCommand: Command = {
  name: 'chat',
  summary: 'chat with the best model that fits now (one turn, or a REPL on a terminal)',
  help: `Usage: mai chat [MESSAGE] [-c ID] [-m MODEL] [-s SYSTEM] [--json] [--standalone] [--config FILE]

With MESSAGE (or text piped on stdin) Mai answers one turn, streaming it to stdout as it comes.
With neither, on a terminal, it opens a REPL that keeps the conversation across turns
(/help lists its commands; they are never sent to the model).
After an answer stderr says which model answered and the id that continues the conversation:
  (MODEL · continue with: mai chat -c ID)

Options:
  -c, --conversation ID  continue this conversation (its id is shown after each answer)
  -m, --model MODEL      answer with this model for this turn (like a pin, for one turn); if it
                         fails, Mai falls back to the next model and stderr says so:
                         mai: answered by X (MODEL failed: …); --json has it in "attempts"
  -s, --system TEXT      a system prompt
      --json             print the whole result as one JSON object instead of streaming text;
                         a failed turn is {"error": {"code", "message", "data"}} (exit code 1)
      --config FILE      the config to use
      --standalone       Mai in this process, not the shared host (mai host --help)
  -h, --help             this help`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs('chat', args, options);
    if (values.help) {
      io.stdout.write(`${this.help}\n`);
      return 0;
    }
    const base: TurnParams = {
      message: positionals.join(' '),
      ...(values.conversation ? { conversationId: values.conversation } : {}),
      ...(values.model ? { model: values.model } : {}),
      ...(values.system ? { system: values.system } : {}),
    };
    const json = values.json ?? false;
    if (base.message === '' && !io.stdin.isTTY) {
      base.message = (await readAll(io.stdin)).trim();
      if (base.message === '') throw new UsageError('no message: pass it as an argument (mai chat "hello") or pipe it on stdin.');
    }
    return withClient({ config: values.config, standalone: values.standalone, name: 'mai chat' }, io, (client) => (base.message === '' ? repl(client, base, json, io) : oneShot(client, base, json, io)));
  },
};
