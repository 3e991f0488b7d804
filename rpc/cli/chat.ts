/** `mai chat`: one turn (a message, or piped stdin), or a REPL on a terminal; tokens stream as they come. */
import { createInterface } from 'node:readline';
import { ResponseError } from 'vscode-jsonrpc/node';
import { cancellationFrom, type MaiClient } from '../client.ts';
import { RpcCodes } from '../errors.ts';
import type { ChatSendParams, ChatSendResult } from '../protocol.ts';
import { AnswerPrinter } from './answer-printer.ts';
import { clientOptions, ExitCodes, parseCommandArgs, readAll, reportFailure, UsageError, withClient, writeOut, type Command } from './common.ts';

const options = {
  ...clientOptions,
  conversation: { type: 'string', short: 'c' },
  model: { type: 'string', short: 'm' },
  system: { type: 'string', short: 's' },
  json: { type: 'boolean' },
} as const;

type TurnParams = Omit<ChatSendParams, 'progressToken'>;

/** One turn; Ctrl-C cancels it (the server aborts the backend and stores nothing). */
async function turn(client: MaiClient, params: TurnParams, json: boolean): Promise<ChatSendResult> {
  const interrupt = new AbortController();
  const onSigint = () => interrupt.abort();
  process.once('SIGINT', onSigint);
  const source = cancellationFrom(interrupt.signal);
  const printer = new AnswerPrinter();
  try {
    return await client.chat(params, { token: source.token, ...(json ? {} : { onProgress: printer.onProgress }) });
  } finally {
    process.off('SIGINT', onSigint);
    printer.finish();
    source.dispose();
  }
}

function isCancelled(error: unknown): boolean {
  return error instanceof ResponseError && error.code === RpcCodes.requestCancelled;
}

async function oneShot(client: MaiClient, params: TurnParams, json: boolean): Promise<number> {
  try {
    const result = await turn(client, params, json);
    if (json) await writeOut(`${JSON.stringify(result)}\n`);
    else if (process.stderr.isTTY) process.stderr.write(`(${result.model} · continue with: mai chat -c ${result.conversationId})\n`);
    return ExitCodes.ok;
  } catch (error) {
    if (isCancelled(error)) {
      process.stderr.write('mai: cancelled; nothing of the turn was stored\n');
      return ExitCodes.interrupted;
    }
    return reportFailure(error);
  }
}

async function repl(client: MaiClient, base: TurnParams, json: boolean): Promise<number> {
  const rl = createInterface({ input: process.stdin, output: process.stdout, prompt: 'you> ' });
  process.stderr.write('mai chat: the conversation continues across turns; /new starts a new one, Ctrl-C cancels an answer, Ctrl-D quits.\n');
  let conversationId = base.conversationId;
  rl.prompt();
  for await (const line of rl) {
    const message = line.trim();
    if (message === '/exit' || message === '/quit') break;
    if (message === '/new') {
      conversationId = undefined;
      process.stderr.write('(a new conversation)\n');
    } else if (message !== '') {
      rl.pause();
      try {
        const result = await turn(client, { ...base, message, ...(conversationId ? { conversationId } : {}) }, json);
        conversationId = result.conversationId;
        if (json) await writeOut(`${JSON.stringify(result)}\n`);
      } catch (error) {
        if (isCancelled(error)) process.stderr.write('(cancelled)\n');
        else reportFailure(error);
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
With neither, on a terminal, it opens a REPL that keeps the conversation across turns.

Options:
  -c, --conversation ID  continue this conversation (its id is shown after each answer)
  -m, --model MODEL      answer with this model for this turn (like a pin, for one turn)
  -s, --system TEXT      a system prompt
      --json             print the whole result as one JSON object instead of streaming text
      --config FILE      the config to use
      --standalone       Mai in this process, not the shared host (mai host --help)
  -h, --help             this help`,
  async run(args) {
    const { values, positionals } = parseCommandArgs('chat', args, options);
    if (values.help) {
      process.stdout.write(`${this.help}\n`);
      return 0;
    }
    const base: TurnParams = {
      message: positionals.join(' '),
      ...(values.conversation ? { conversationId: values.conversation } : {}),
      ...(values.model ? { model: values.model } : {}),
      ...(values.system ? { system: values.system } : {}),
    };
    const json = values.json ?? false;
    if (base.message === '' && !process.stdin.isTTY) {
      base.message = (await readAll(process.stdin)).trim();
      if (base.message === '') throw new UsageError('no message: pass it as an argument (mai chat "hello") or pipe it on stdin.');
    }
    return withClient({ config: values.config, standalone: values.standalone, name: 'mai chat' }, (client) => (base.message === '' ? repl(client, base, json) : oneShot(client, base, json)));
  },
};
