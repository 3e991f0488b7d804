/**
 * `mai batch`: many prompts, N at a time, through the same JSON-RPC server; one JSON result a line
 * on stdout in input order (each written as soon as every earlier one is), a failed prompt is a
 * result with `error`. A progress bar goes to stderr when stderr is a terminal.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { MaiClient } from '../client.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCodes, MaiError } from '../../core/errors.ts';
import { rpcCodeFor } from '../error-codes.ts';
import { toResponseError } from '../errors.ts';
import { clientOptions, ExitCodes, parseCommandArgs, UsageError, type Command } from './args.ts';
import { errorJson, readAll, withClient, writeOut } from './common.ts';
import { parseBatch, type BatchItem } from './batch-input.ts';
import { ProgressBar } from './progress-bar.ts';
import { processIo, type CliIo } from './io.ts';

const QUEUE_FULL_RETRIES = 100;

const DEFAULT_CONCURRENCY = 4;

/**
 * Prompts sent beyond the N answered at once (`concurrency` tells Mai to answer at most N of them
 * together; the others wait ready in its queue). Without them, each answer's slot at the model
 * server stood idle for the round trip to the next prompt: the reply to this process, the next
 * request back, and Mai's work before the backend call.
 */
export const readAhead = (concurrency: number): number => Math.max(1, Math.ceil(concurrency / 4));

/** --json is accepted like every command's: the output is JSON lines already. */
const options = { ...clientOptions, concurrency: { type: 'string', short: 'j' }, model: { type: 'string', short: 'm' }, json: { type: 'boolean' } } as const;

/**
 * The note on stderr when `--concurrency N` asks for more turns at once than one model answers:
 * only when the user chose N and more prompts than that would really be in flight — the default
 * run (4 in flight, a model answering 1) needs no warning, its help says how it works.
 */
export function concurrencyNote(input: { concurrency: number; chosen: boolean; prompts: number; perModel: number; configFile: string }): string {
  const inFlight = Math.min(input.concurrency, input.prompts);
  if (!input.chosen || inFlight <= input.perModel) return '';
  const turns = `${input.perModel} turn${input.perModel === 1 ? '' : 's'}`;
  return `mai batch: ${inFlight} prompts at once, but a model answers ${turns} at a time (fallback.parallelPerModel in ${input.configFile}) unless its server reports its slots (llama.cpp does); the others wait their turn unless they go to different models. Raise it to what your model server serves at once.\n`;
}

async function answer(client: MaiClient, item: BatchItem, model: string | undefined, concurrency: number): Promise<{ line: string; ok: boolean }> {
  if (!item.ok) return { line: JSON.stringify({ id: item.id, error: errorJson(new MaiError(ErrorCodes.invalidParams, item.message)) }), ok: false };
  const { line } = item;
  const params = {
    message: line.prompt,
    // Editors and `mai chat` sharing the host go first; the batch takes the turns between theirs.
    priority: 'batch' as const,
    concurrency,
    ...(line.conversationId ? { conversationId: line.conversationId } : {}),
    ...(line.model ?? model ? { model: line.model ?? model } : {}),
  };
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await client.chat(params);
      return { line: JSON.stringify({ id: item.id, ...result }), ok: true };
    } catch (error) {
      const reply = toResponseError(error);
      // The batch's own concurrency can fill a model's queue: wait for room rather than fail the prompt.
      if (reply.code === rpcCodeFor(ErrorCodes.queueFull) && attempt < QUEUE_FULL_RETRIES) {
        await sleep(Math.min(2_000, 50 * attempt));
        continue;
      }
      return { line: JSON.stringify({ id: item.id, error: errorJson(reply) }), ok: false };
    }
  }
}

/** Answers `items`, `concurrency` at a time, writing the results to `io`'s stdout in input order. */
export async function runBatch(client: MaiClient, items: BatchItem[], concurrency: number, model?: string, io: CliIo = processIo()): Promise<number> {
  const results: Array<string | undefined> = new Array(items.length);
  const bar = io.stderr.isTTY ? new ProgressBar(items.length, io.stderr) : null;
  let next = 0;
  let written = 0;
  let failed = 0;
  let flushing = Promise.resolve();
  let scheduled = false;
  // Every line in order that is ready, in one write: a write per result (a system call each on a
  // pipe) cost about 2 % of a batch's CPU; the results that arrive within one turn of the event
  // loop go out together, and each still leaves as soon as every earlier one has.
  const write = () => {
    scheduled = false;
    let text = '';
    while (written < items.length && results[written] !== undefined) {
      text += `${results[written]}\n`;
      results[written] = ''; // written; keep the slot defined
      written++;
    }
    if (text !== '') flushing = flushing.then(() => writeOut(io, text));
  };
  const flush = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(write);
  };
  const worker = async () => {
    for (let index = next++; index < items.length; index = next++) {
      const { line, ok } = await answer(client, items[index]!, model, concurrency);
      results[index] = line;
      if (!ok) failed++;
      bar?.tick(ok);
      flush();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency + readAhead(concurrency), Math.max(1, items.length)) }, worker));
  write();
  await flushing;
  bar?.finish();
  if (failed > 0) io.stderr.write(`mai batch: ${failed} of ${items.length} prompt(s) failed (see their "error")\n`);
  return failed > 0 ? ExitCodes.failed : ExitCodes.ok;
}

export const batchCommand: Command = {
  name: 'batch',
  summary: 'answer many prompts (one a line), N at a time, as JSON lines in input order',
  help: `Usage: mai batch [FILE] [--concurrency N] [-m MODEL] [--json] [--standalone] [--config FILE]

Reads prompts from FILE (or stdin), one a line: plain text, or a JSON object
  {"id"?: string|number, "prompt": string, "conversationId"?: string, "model"?: string}
and writes one JSON result a line to stdout, in input order:
  {"id", "conversationId", "text", "model", "finishReason", "usage", "attempts", "latencyMs"}
or, for a prompt that failed, {"id", "error": {"code", "message", "data"}} — the batch goes on.
An id defaults to the line number. Blank lines are skipped. A progress bar goes to stderr when
stderr is a terminal. Exit code 0 when every prompt was answered, 1 when any failed.

Options:
  -j, --concurrency N  prompts answered at once (default 4; a few more wait ready in
                       Mai's queue, so a model server's freed slot never waits); one
                       model answers as many as its server has slots (llama.cpp says),
                       else fallback.parallelPerModel (default 1) (said on stderr)
  -m, --model MODEL    answer with this model unless a line names one
      --json           accepted for symmetry: the output is JSON lines already
      --config FILE    the config to use
      --standalone     Mai in this process, not the shared host (mai host --help)
  -h, --help           this help`,
  async run(args, io) {
    const { values, positionals } = parseCommandArgs('batch', args, options);
    if (values.help) {
      io.stdout.write(`${this.help}\n`);
      return 0;
    }
    const concurrency = Number(values.concurrency ?? DEFAULT_CONCURRENCY);
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError(`--concurrency must be a whole number of at least 1, got "${values.concurrency}".`);
    if (positionals.length > 1) throw new UsageError('name at most one input file (or pipe the prompts on stdin).');
    const file = positionals[0];
    if (file === undefined && io.stdin.isTTY) throw new UsageError('no prompts: name a file (mai batch prompts.txt) or pipe them (cat prompts.txt | mai batch).');
    let text: string;
    try {
      text = file === undefined || file === '-' ? await readAll(io.stdin) : await readFile(resolve(io.cwd, file), 'utf8');
    } catch (error) {
      throw new UsageError(`cannot read ${file}: ${(error as Error).message}.`);
    }
    const items = parseBatch(text);
    return withClient({ config: values.config, standalone: values.standalone, name: 'mai batch' }, io, async (client, config) => {
      // -j N beyond what one model answers at once only queues in Mai: say so, and where to change it.
      const loaded = await config();
      const perModel = loaded.config.fallback.parallelPerModel;
      io.stderr.write(concurrencyNote({ concurrency, chosen: values.concurrency !== undefined, prompts: items.length, perModel, configFile: loaded.file }));
      return runBatch(client, items, concurrency, values.model, io);
    });
  },
};
