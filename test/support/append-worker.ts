/**
 * A separate process that appends turns to one conversation, for the concurrency test:
 *   deno run -A test/support/append-worker.ts DIR CONVERSATION WRITER TURNS GO_FILE
 * It says "ready" on stdout, then waits for GO_FILE to exist so that every writer starts at once.
 * Each turn is a user message and a large assistant message (tens of KB, so an unlocked,
 * unatomic writer would be caught interleaving), tagged with the writer and its sequence number.
 */
import { existsSync } from 'node:fs';
import process from 'node:process';
import { ConversationStore } from '../../core/context/conversation-store.ts';

const [dir, id, writer, turns, go] = process.argv.slice(2);
if (!dir || !id || !writer || !turns || !go) throw new Error('usage: append-worker DIR CONVERSATION WRITER TURNS GO_FILE');
const store = new ConversationStore(dir);
process.stdout.write('ready\n');
while (!existsSync(go)) await new Promise((r) => setTimeout(r, 2));
for (let i = 0; i < Number(turns); i++) {
  const at = new Date().toISOString();
  const body = `${writer}:${i} `.repeat(2_000 + ((i * 7919) % 6_000));
  await store.append(id, [
    { role: 'user', text: `${writer}:${i} question`, at },
    { role: 'assistant', text: body, at, model: writer },
  ]);
}
process.stdout.write(`${writer} done\n`);
