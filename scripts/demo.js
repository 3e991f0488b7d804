#!/usr/bin/env node
/**
 * Mai's main job on a fresh machine, shown end to end: writes the two demo models when no model is
 * in ./models, starts the real `mai serve` and talks to it over JSON-RPC on stdio as an editor
 * would — the catalogue, a streamed turn, a switch to another model in the same conversation, the
 * status that records the switch, and the conversation read back from disk.
 *
 *   npm run demo            (after `npm install`, which compiles dist/)
 *
 * The demo models have RANDOM weights: their answers are noise. Real models (./models/*.gguf,
 * Ollama, LM Studio, an OpenAI-compatible server) are found and preferred as soon as they exist.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';
import { ensureDemoModels } from './gguf/index.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const bin = join(root, 'dist', 'rpc', 'bin.js');
const out = (text = '') => process.stdout.write(`${text}\n`);
const step = (/** @type {string} */ title) => out(`\n\x1b[1m== ${title}\x1b[0m`);

async function main() {
  if (!existsSync(bin)) {
    process.stderr.write(`demo: ${bin} is missing. Run \`npm install\` (it compiles Mai) and try again.\n`);
    process.exit(2);
  }
  await ensureDemoModels(join(root, 'models'));

  const { MaiClient } = await import(join(root, 'dist', 'rpc', 'client.js'));
  const P = await import(join(root, 'dist', 'rpc', 'protocol.js'));

  // The real server, as an editor spawns it; its logs go to our stderr.
  const child = spawn(process.execPath, [bin, 'serve'], { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] });
  const connection = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  connection.listen();
  const mai = new MaiClient(connection);

  const init = await mai.request(P.InitializeRequest, { clientInfo: { name: 'mai-demo' } });
  out(`Connected to ${init.serverInfo.name} ${init.serverInfo.version} over stdio (JSON-RPC 2.0).`);

  step('models/list — what this machine can run, and what fits now');
  const models = await mai.request(P.ModelsListRequest, {});
  for (const m of models.models) {
    out(`  ${m.fits ? '✓' : '✗'} ${m.id.padEnd(20)} ${m.backend.padEnd(9)} ${m.tier.padEnd(6)} ctx ${String(m.contextLength).padEnd(6)} score ${m.score}${m.reason ? `  (${m.reason})` : ''}`);
  }
  const status0 = await mai.request(P.StatusRequest, {});
  for (const b of status0.backends.filter((/** @type {{ reachable: boolean }} */ b) => !b.reachable)) out(`  · backend ${b.name} not reachable (${b.error ?? 'unknown'}) — fine, Mai uses what it has`);

  /** @param {string} message @param {string} [conversationId] */
  const turn = async (message, conversationId) => {
    out(`\n  you > ${message}`);
    process.stdout.write('  mai > ');
    const result = await mai.chat(
      { message, ...(conversationId ? { conversationId } : {}), maxTokens: 48 },
      {
        onProgress: (/** @type {{ kind: 'delta', text: string } | { kind: 'restart', model: string }} */ event) => {
          if (event.kind === 'delta') process.stdout.write(event.text.replace(/\s+/g, ' '));
          else process.stdout.write(`\n  (restarting on ${event.model})\n  mai > `);
        },
      },
    );
    out(`\n  [answered by ${result.model}, ${result.usage.completionTokens} tokens streamed, ${result.latencyMs} ms]`);
    return result;
  };

  step('chat/send — Mai picks the best model that fits and streams the answer (demo weights: noise)');
  const first = await turn('Hello, Mai. Always answer briefly.');

  // Another model that fits (the small demo model on a fresh machine).
  const other = models.models.find((/** @type {{ id: string, fits: boolean }} */ m) => m.fits && m.id !== first.model) ?? models.models.find((/** @type {{ id: string }} */ m) => m.id !== first.model);
  if (other) {
    step(`models/switch — pin ${other.id}; the same conversation goes on with it`);
    await mai.request(P.ModelsSwitchRequest, { model: other.id });
    await turn('And now from another model?', first.conversationId);
  }
  await mai.request(P.ModelsSwitchRequest, { model: 'auto' });
  if (other) out(`  (models/switch "auto" unpins ${other.id} again, so your own chats choose the model by themselves)`);

  step('status — the switch is recorded, the answers never mention it');
  const status = await mai.request(P.StatusRequest, {});
  out(`  current model: ${status.model}   pinned: ${status.pinned ?? 'no (auto)'}`);
  out(`  counters: ${JSON.stringify(status.counters)}`);
  if (status.lastSwitch) out(`  last switch: ${status.lastSwitch.from} → ${status.lastSwitch.to} (${status.lastSwitch.reason}) at ${status.lastSwitch.at}`);

  step('conversations/get — persisted on disk, every turn');
  const conversation = await mai.request(P.ConversationsGetRequest, { id: first.conversationId });
  for (const m of conversation.messages) out(`  ${m.role.padEnd(9)} ${m.model ? `[${m.model}] ` : ''}${m.text.replace(/\s+/g, ' ').slice(0, 60)}`);
  out(`\n  Continue it with:  npx mai chat -c ${first.conversationId} "…"`);

  await mai.request(P.ShutdownRequest, {});
  await connection.sendNotification('exit');
  connection.dispose();
  await new Promise((resolveExit) => child.once('exit', resolveExit));
}

main().catch((error) => {
  process.stderr.write(`demo: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
