/**
 * A separate process that appends turns to one conversation, for the concurrency test:
 *   deno run -A test/support/append-worker.ts DIR CONVERSATION WRITER TURNS [fresh]
 * (started by append-workers.ts). It says "ready" on stdout, then waits for a line on stdin, so
 * that every writer starts at once.
 * Each turn is a user message and a large assistant message (tens of KB, so an unlocked,
 * unatomic writer would be caught interleaving), tagged with the writer and its sequence number.
 * With a fifth argument `fresh`, it instead writes one turn to each of TURNS conversations named
 * CONVERSATION-0… that do not exist yet (it loads each first, so the store knows they are new), in
 * the same order as every other writer: they all race to create each file.
 */
import process from 'node:process';
import { ConversationStore } from '../../core/context/conversation-store.ts';

const [dir, id, writer, turns, mode] = process.argv.slice(2);
if (!dir || !id || !writer || !turns) throw new Error('usage: append-worker DIR CONVERSATION WRITER TURNS [fresh]');
const store = new ConversationStore(dir);
const fresh = mode === 'fresh' ? Array.from({ length: Number(turns) }, (_, i) => `${id}-${i}`) : [];
for (const name of fresh) if ((await store.load(name)) !== null) throw new Error(`${name} already exists`);
const go = new Promise((resolve) => process.stdin.once('data', resolve));
process.stdout.write('ready\n');
await go;
process.stdin.pause();
for (const [i, name] of fresh.entries()) {
  const at = new Date().toISOString();
  await store.append(name, [
    { role: 'user', text: `${writer}:${i} question`, at },
    { role: 'assistant', text: `${writer}:${i} `.repeat(2_000 + ((i * 7919) % 6_000)), at, model: writer },
  ]);
}
for (let i = 0; i < (fresh.length > 0 ? 0 : Number(turns)); i++) {
  const at = new Date().toISOString();
  const body = `${writer}:${i} `.repeat(2_000 + ((i * 7919) % 6_000));
  await store.append(id, [
    { role: 'user', text: `${writer}:${i} question`, at },
    { role: 'assistant', text: body, at, model: writer },
  ]);
}
process.stdout.write(`${writer} done\n`);
