/**
 * One Mai, many clients: interactive turns before batch ones, clients served in turn, a client
 * that detaches takes only its own turns with it, and status shows who is waiting for what. Mai
 * runs in process against a real OpenAI-compatible server on 127.0.0.1 that holds the first
 * request until the test has seen the queue it wants; what is asserted is the order in which
 * turns reached the server, never how long anything took.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ClientHandle } from '../core/clients.ts';
import { isMaiError } from '../core/errors.ts';
import { createLogger } from '../core/log.ts';
import type { Mai } from '../core/mai.ts';
import { runBatch } from '../rpc/cli/batch.ts';
import { formatStatus } from '../rpc/cli/status.ts';
import { linkInProcess } from '../rpc/in-process.ts';
import { ChatSendRequest, StatusRequest, type RpcErrorData } from '../rpc/index.ts';
import { createTestMai, tempDir, type TempDir } from './support/harness.ts';
import { startOpenAIServer, type ChatLogEntry, type FakeOpenAIServer } from './support/openai-server.ts';

const config = (baseURL: string) => `
backends: [{ use: openai, name: loop, options: { baseURL: "${baseURL}", llamaCppExtras: false } }]
scorers: [{ use: context-fit }]
models: [{ id: m }]
fallback: { retries: 0, backoffMs: 0, queueLimit: 64 }
monitor: { enabled: false }
context: { stateDir: ./state, summary: digest }
`;

/** Holds every request at the server until `open()`; afterwards requests pass at once. */
function gate() {
  const held: Array<() => void> = [];
  let opened = false;
  return {
    hold: () => (opened ? Promise.resolve() : new Promise<void>((resolve) => held.push(resolve))),
    open() {
      opened = true;
      for (const release of held.splice(0)) release();
    },
  };
}

/** Waits for what the test expects to be true (not a timing: the bound only keeps a broken run from hanging). */
const until = (check: () => void) => vi.waitFor(check, { timeout: 30_000, interval: 10 });
const lastMessage = (entry: ChatLogEntry) => entry.messages.at(-1)?.content ?? '';
const settle = <T>(promise: Promise<T>) =>
  promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );

describe('shared scheduling', () => {
  let server: FakeOpenAIServer;
  let dir: TempDir;
  let mai: Mai;
  let doors: ReturnType<typeof gate>;

  async function start() {
    doors = gate();
    server = await startOpenAIServer([{ id: 'm', reply: (messages) => `answer to ${messages.at(-1)?.content}`, chunks: 2, hold: () => doors.hold() }]);
    dir = await tempDir('mai-sched-');
    ({ mai } = await createTestMai(dir.path, config(server.baseURL)));
  }
  afterEach(async () => {
    doors.open();
    await mai.close();
    await server.close();
    await dir.cleanup();
  });

  const clientOf = (id: string) => mai.status().clients.find((c) => c.id === id);
  const send = (client: ClientHandle, message: string, priority?: 'batch') => mai.chat({ message, client: client.id, ...(priority ? { priority } : {}) });

  it('a batch client with 50 queued prompts delays an interactive turn by the one batch turn in progress, no more', async () => {
    await start();
    const batch = mai.attachClient({ name: 'mai batch', kind: 'batch' });
    const editor = mai.attachClient({ name: 'editor', version: '1.2', kind: 'editor' });
    const batchTurns = Array.from({ length: 50 }, (_, i) => settle(send(batch, `batch ${i + 1}`, 'batch')));
    await until(() => {
      expect(clientOf(batch.id)).toMatchObject({ inFlight: 1, queued: 49 });
      expect(server.requests).toHaveLength(1);
    });
    const interactive = send(editor, 'interactive');
    await until(() => expect(clientOf(editor.id)?.queued).toBe(1));

    // While the first batch turn is held at the server: the whole picture.
    const status = mai.status();
    expect(status.queues).toEqual([{ model: 'm', running: 1, waiting: 50 }]);
    expect(status.clients).toEqual([
      expect.objectContaining({ id: batch.id, name: 'mai batch', kind: 'batch', inFlight: 1, queued: 49, turns: 50 }),
      expect.objectContaining({ id: editor.id, name: 'editor', version: '1.2', kind: 'editor', inFlight: 0, queued: 1, turns: 1 }),
    ]);
    expect(Date.parse(status.clients[0]!.connectedAt)).not.toBeNaN();
    // `mai status` shows the same, as tables like `ollama ps`.
    const shown = formatStatus(status, false);
    expect(shown).toMatch(/^queues +MODEL +RUNNING +WAITING\n +m +1 +50$/m);
    expect(shown).toMatch(/^clients +ID +NAME +KIND +IN FLIGHT +QUEUED +TURNS +CONNECTED$/m);
    expect(shown).toMatch(new RegExp(`^ +${batch.id} +mai batch +batch +1 +49 +50 +\\d+s ago$`, 'm'));
    expect(shown).toMatch(new RegExp(`^ +${editor.id} +editor 1\\.2 +editor +0 +1 +1 +\\d+s ago$`, 'm'));

    doors.open();
    expect((await interactive).text).toBe('answer to interactive');
    const results = await Promise.all(batchTurns);
    expect(results.filter((r) => r.ok)).toHaveLength(50);
    const order = server.requests.map(lastMessage);
    expect(order[0]).toMatch(/^batch /);
    expect(order[1]).toBe('interactive');
    expect(order).toHaveLength(51);
    expect(mai.status().queues).toEqual([]);
    expect(mai.status().clients.map((c) => [c.inFlight, c.queued])).toEqual([
      [0, 0],
      [0, 0],
    ]);
   }, 90_000);

  it('two busy clients take turns at the model', async () => {
    await start();
    const a = mai.attachClient({ name: 'a' });
    const b = mai.attachClient({ name: 'b' });
    const turns = [...[1, 2, 3, 4, 5, 6].map((i) => settle(send(a, `a${i}`))), ...[1, 2, 3, 4, 5, 6].map((i) => settle(send(b, `b${i}`)))];
    await until(() => expect(mai.status().queues).toEqual([{ model: 'm', running: 1, waiting: 11 }]));
    doors.open();
    expect((await Promise.all(turns)).every((r) => r.ok)).toBe(true);
    const clients = server.requests.map((entry) => lastMessage(entry)[0]).join('');
    expect(clients).toHaveLength(12);
    expect(clients === 'abababababab' || clients === 'babababababa').toBe(true);
  });

  it('a client that detaches cancels its own turns (the running one aborted at the server), and only its own', async () => {
    await start();
    const leaving = mai.attachClient({ name: 'leaving' });
    const staying = mai.attachClient({ name: 'staying' });
    const left = [1, 2, 3].map((i) => settle(send(leaving, `leaving ${i}`)));
    await until(() => {
      expect(clientOf(leaving.id)).toMatchObject({ inFlight: 1, queued: 2 });
      expect(server.requests).toHaveLength(1);
    });
    const stayed = [1, 2].map((i) => settle(send(staying, `staying ${i}`)));
    await until(() => expect(clientOf(staying.id)).toMatchObject({ queued: 2 }));

    leaving.detach();
    for (const outcome of await Promise.all(left)) {
      expect(outcome.ok).toBe(false);
      expect(isMaiError(outcome.ok ? null : outcome.error, 'cancelled')).toBe(true);
    }
    await until(() => expect(server.requests[0]!.clientClosed).toBe(true));
    expect(mai.status().clients.map((c) => c.id)).toEqual([staying.id]);
    await expect(send(leaving, 'after leaving')).rejects.toMatchObject({ code: 'cancelled' });

    doors.open();
    const answers = await Promise.all(stayed);
    expect(answers.map((r) => (r.ok ? r.value.text : r.error)).sort()).toEqual(['answer to staying 1', 'answer to staying 2']);
    // The leaving client's queued turns never reached the server.
    expect(server.requests.map(lastMessage).filter((m) => m.startsWith('leaving'))).toHaveLength(1);
    expect(clientOf(staying.id)).toMatchObject({ inFlight: 0, queued: 0, turns: 2 });
  });

  it('over the protocol: chat/send takes a priority (one of two), mai batch sends "batch", status carries clients and queues', async () => {
    await start();
    const log = createLogger('test', 'silent');
    const link = linkInProcess(mai, log);
    try {
      const wrong = await link.client.request(ChatSendRequest, { message: 'hi', priority: 'urgent' as 'batch' }).catch((e: unknown) => e as { code: number; message: string; data?: RpcErrorData });
      expect(wrong).toMatchObject({ code: -32602 });
      expect((wrong as { message: string }).message).toMatch(/priority/);
      // Whose turn it is comes from the connection (the host's), never from the params.
      const spoofed = await link.client.request(ChatSendRequest, { message: 'hi', client: 'c1' } as { message: string }).catch((e: unknown) => e);
      expect(spoofed).toMatchObject({ code: -32602 });

      // Three batch prompts over the link, the first held at the server; then a local interactive turn.
      const written: string[] = [];
      const write = process.stdout.write.bind(process.stdout);
      process.stdout.write = ((chunk: string | Uint8Array) => {
        written.push(String(chunk));
        return true;
      }) as typeof process.stdout.write;
      let batch: Promise<number>;
      try {
        batch = runBatch(
          link.client,
          [1, 2, 3].map((i) => ({ ok: true as const, id: i, line: { prompt: `batch ${i}` } })),
          3,
        );
        await until(() => expect(mai.status().queues).toEqual([{ model: 'm', running: 1, waiting: 2 }]));
        const interactive = mai.chat({ message: 'interactive' });
        await until(() => expect(mai.status().queues).toEqual([{ model: 'm', running: 1, waiting: 3 }]));
        const status = await link.client.request(StatusRequest, {});
        expect(status.clients).toEqual([expect.objectContaining({ id: 'local', inFlight: 1, queued: 3, turns: 4 })]);
        expect(status.queues).toEqual([{ model: 'm', running: 1, waiting: 3 }]);
        doors.open();
        await interactive;
        expect(await batch).toBe(0);
      } finally {
        process.stdout.write = write;
      }
      expect(server.requests.map(lastMessage).slice(0, 2)).toEqual([expect.stringMatching(/^batch /), 'interactive']);
      expect(written.join('').trim().split('\n')).toHaveLength(3);
    } finally {
      await link.close();
    }
  });
});
