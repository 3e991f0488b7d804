#!/usr/bin/env node
/**
 * Mai's main job on a fresh machine, shown end to end: writes the two demo models when no model is
 * in ./models, starts the real `mai serve` and talks to it over JSON-RPC on stdio as an editor
 * would — the catalogue, a streamed turn, a fallback (a model whose server always fails: Mai answers
 * with the next one), a switch to another model in the same conversation, the status that records
 * the fallback and the switch, and the conversation read back from disk.
 *
 *   npm run demo            (after `npm install`, which compiles dist/)
 *
 * The demo models have RANDOM weights: their answers are noise. Real models (./models/*.gguf,
 * Ollama, LM Studio, an OpenAI-compatible server) are found and preferred as soon as they exist.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node';
import { parse, stringify } from 'yaml';
import { DEMO_MODELS, ensureDemoModels } from './gguf/index.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The `mai` bin npm installs (package.json's bin: the bundle scripts/build.js writes), as an editor runs it. */
const bin = join(root, JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).bin.mai);
const out = (text = '') => process.stdout.write(`${text}\n`);
// Bold headings on a terminal only, and never with NO_COLOR set (https://no-color.org).
const bold = process.stdout.isTTY && !process.env.NO_COLOR;
const step = (/** @type {string} */ title) => out(bold ? `\n\x1b[1m== ${title}\x1b[0m` : `\n== ${title}`);
const FLAKY = 'mai-demo-flaky';

/**
 * A model server on 127.0.0.1 that lists one model and fails every answer with a 503, the way an
 * overloaded server does: what the demo's fallback step asks for.
 * @returns {Promise<{ baseURL: string, close(): Promise<void> }>}
 */
async function startFlakyServer() {
  const server = createServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.method === 'GET' && req.url === '/v1/models') {
      res.end(JSON.stringify({ object: 'list', data: [{ id: FLAKY, object: 'model', owned_by: 'mai-demo' }] }));
      return;
    }
    // Answer once the request is read: replying mid-upload would look like a broken connection.
    req.resume();
    req.on('end', () => {
      res.statusCode = 503;
      res.end(JSON.stringify({ error: { message: 'the demo server is overloaded (it always is)', type: 'server_error' } }));
    });
  });
  await new Promise((ready) => server.listen(0, '127.0.0.1', () => ready(undefined)));
  const address = /** @type {import('node:net').AddressInfo} */ (server.address());
  return { baseURL: `http://127.0.0.1:${address.port}/v1`, close: () => new Promise((done) => server.close(() => done(undefined))) };
}

/**
 * The config Mai would use from the checkout (MAI_CONFIG, else ./mai.config.yaml), plus the flaky
 * server as one more backend; the demo models are named so they stay listed beside it.
 * @param {string} baseURL @param {string} dir
 */
async function demoConfig(baseURL, dir) {
  const source = process.env.MAI_CONFIG ? resolve(process.env.MAI_CONFIG) : join(root, 'mai.config.yaml');
  const config = parse(readFileSync(source, 'utf8')) ?? {};
  const base = dirname(source);
  // Paths in the config are relative to its own folder; this copy lives elsewhere.
  if (config.context?.stateDir) config.context.stateDir = resolve(base, config.context.stateDir);
  for (const backend of config.backends ?? []) {
    if (backend.use === 'gguf') backend.options = { ...backend.options, folders: (backend.options?.folders ?? ['./models']).map((/** @type {string} */ f) => resolve(base, f)) };
  }
  config.backends = [...(config.backends ?? []), { use: 'openai', name: 'flaky', options: { baseURL } }];
  config.models = [...(config.models ?? []), ...DEMO_MODELS.map((/** @type {{ id: string }} */ m) => ({ id: m.id })), { id: FLAKY, tier: 'small' }];
  const file = join(dir, 'mai.config.yaml');
  await writeFile(file, stringify(config));
  return file;
}

async function main() {
  if (!existsSync(bin)) {
    process.stderr.write(`demo: ${bin} is missing. Run \`npm install\` (it compiles Mai) and try again.\n`);
    process.exit(2);
  }
  await ensureDemoModels(join(root, 'models'));

  const { MaiClient } = await import(join(root, 'dist', 'rpc', 'client.js'));
  const P = await import(join(root, 'dist', 'rpc', 'mai-protocol.js'));
  const flaky = await startFlakyServer();
  const dir = await mkdtemp(join(tmpdir(), 'mai-demo-'));
  const config = await demoConfig(flaky.baseURL, dir);

  // The real server, as an editor spawns it; its logs go to our stderr. In process (--standalone):
  // the demo's config is temporary, so a shared host started for it would outlive it for nothing.
  const child = spawn(process.execPath, [bin, 'serve', '--standalone', '--config', config], { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] });
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
  for (const b of status0.backends.filter((/** @type {{ reachable: boolean }} */ b) => !b.reachable)) out(`  · backend ${b.name} not usable (${b.error ?? 'unknown'}) — fine, Mai uses what it has`);
  if (!models.models.some((/** @type {{ id: string, fits: boolean }} */ m) => m.fits && m.id !== FLAKY)) {
    // Nothing but the flaky server: the GGUF runtime is missing (a lean install) and no model server runs.
    const gguf = status0.backends.find((/** @type {{ name: string }} */ b) => b.name === 'gguf');
    process.stderr.write(`demo: no model can answer here.${gguf?.error ? ` ${gguf.error}` : ''}\nThe demo models run in-process through node-llama-cpp (left out by \`npm install --omit=optional\`); or start Ollama, LM Studio or an OpenAI-compatible server.\n`);
    await mai.request(P.ShutdownRequest, {});
    await connection.sendNotification('exit');
    connection.dispose();
    await flaky.close();
    await rm(dir, { recursive: true, force: true });
    process.exit(2);
  }

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
    // A model that failed before this one answered: Mai moved on silently; the demo says why.
    for (const a of result.attempts) if (a.error) out(`  (${a.model} failed first: ${a.error.code}: ${a.error.message})`);
    return result;
  };

  step('chat/send — Mai picks the best model that fits and streams the answer (demo weights: noise)');
  const first = await turn('Hello, Mai. Always answer briefly.');

  step(`fallback — ask for ${FLAKY}, whose server fails every answer: Mai retries, then answers with the next model`);
  const fellBack = await mai.chat({ message: 'Are you there?', conversationId: first.conversationId, model: FLAKY, maxTokens: 24 }, {});
  for (const a of fellBack.attempts) out(`  ${a.error ? '✗' : '✓'} ${a.model}${a.error ? `: ${a.error.code}: ${a.error.message}` : ' answered'}`);
  out(`  [answered by ${fellBack.model} (${FLAKY} failed) — the answer itself never mentions it]`);

  // Another model that fits (the small demo model on a fresh machine).
  const candidates = models.models.filter((/** @type {{ id: string }} */ m) => m.id !== first.model && m.id !== FLAKY);
  const other = candidates.find((/** @type {{ fits: boolean }} */ m) => m.fits) ?? candidates[0];
  if (other) {
    step(`models/switch — pin ${other.id}; the same conversation goes on with it`);
    await mai.request(P.ModelsSwitchRequest, { model: other.id });
    await turn('And now from another model?', first.conversationId);
  }
  await mai.request(P.ModelsSwitchRequest, { model: 'auto' });
  if (other) out(`  (models/switch "auto" unpins ${other.id} again, so your own chats choose the model by themselves)`);

  step('status — the fallback and the switch are counted, the answers never mention them');
  const status = await mai.request(P.StatusRequest, {});
  out(`  current model: ${status.model}   pinned: ${status.pinned ?? 'no (auto)'}`);
  out(`  counters: ${JSON.stringify(status.counters)}`);
  if (status.lastSwitch) out(`  last switch: ${status.lastSwitch.from} → ${status.lastSwitch.to} (${status.lastSwitch.reason}) at ${status.lastSwitch.at}`);

  step('conversations/get — persisted on disk, every turn');
  const conversation = await mai.request(P.ConversationsGetRequest, { id: first.conversationId });
  for (const m of conversation.messages) out(`  ${m.role.padEnd(9)} ${m.model ? `[${m.model}] ` : ''}${m.text.replace(/\s+/g, ' ').slice(0, 60)}`);
  out(`\n  Continue it with:  mai chat -c ${first.conversationId} "…"   (mai on your PATH: see the README's set-up)`);

  await mai.request(P.ShutdownRequest, {});
  await connection.sendNotification('exit');
  connection.dispose();
  await new Promise((resolveExit) => child.once('exit', resolveExit));
  await flaky.close();
  await rm(dir, { recursive: true, force: true });
}

main().catch((error) => {
  process.stderr.write(`demo: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
