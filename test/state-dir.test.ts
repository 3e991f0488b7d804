/**
 * Issue 16, defect 5: a state dir that cannot be used answers its own error (-32015,
 * state-dir-unusable) naming the folder and the fix, not -32603; and one under /proc answers at all
 * (Node's recursive mkdir never returned there). The error and its mapping are Mai's and the server
 * stack's, linked in this process for the first case (test/support/rpc-link.ts); the /proc case runs the
 * real `mai serve` over real pipes, where a mkdir that never returns would hang the process.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startOpenAIServer, type FakeOpenAIServer } from './support/openai-server.ts';
import { tempDir, type TempDir } from './support/harness.ts';
import { spawnServe, type ServeEnd, type ServeProcess } from './support/rpc-client.ts';
import { endServe, linkServe, type LinkedServe } from './support/rpc-link.ts';

describe('a state dir Mai cannot use', () => {
  let server: FakeOpenAIServer;
  let dir: TempDir;
  let mai: ServeProcess | LinkedServe | undefined;
  beforeEach(async () => {
    server = await startOpenAIServer([{ id: 'alpha', reply: 'Alpha answers.' }]);
    dir = await tempDir('mai-statedir-');
  });
  afterEach(async () => {
    await endServe(mai);
    mai = undefined;
    await server.close();
    await dir.cleanup();
  });

  async function serveWith(stateDir: string, how: 'linked' | 'spawned'): Promise<ServeEnd> {
    const config = join(dir.path, 'mai.config.yaml');
    await writeFile(
      config,
      `backends: [{ use: openai, name: loop, options: { baseURL: "${server.baseURL}" } }]\nmonitor: { enabled: false }\ncontext: { stateDir: ${JSON.stringify(stateDir)}, summary: digest }\n`,
    );
    const m = how === 'linked' ? linkServe({ config, framing: 'ndjson' }) : spawnServe({ config, framing: 'ndjson', stateDir: join(dir.path, 'unused') });
    mai = m;
    return m;
  }

  it('a state dir under a regular file: -32015 naming the folder and the fix', async () => {
    await writeFile(join(dir.path, 'a-file'), 'not a folder');
    const stateDir = join(dir.path, 'a-file', 'state');
    const m = await serveWith(stateDir, 'linked');
    const reply = await m.request('chat/send', { message: 'hi' });
    expect(reply.error).toMatchObject({ code: -32015, data: { code: 'state-dir-unusable', stateDir, errno: 'ENOTDIR' } });
    expect(reply.error?.message).toContain(stateDir);
    expect(reply.error?.message).toMatch(/context\.stateDir/);
    expect((await m.request('status')).error).toBeUndefined();
  });

  it('a state dir on /proc answers (a clear error), and models/switch does not hang either', async () => {
    const stateDir = `/proc/mai-test-${process.pid}-${Date.now()}/state`;
    const m = await serveWith(stateDir, 'spawned');
    expect((await m.request('models/switch', { model: 'alpha' })).result).toEqual({ pinned: 'alpha' });
    const reply = await m.request('chat/send', { message: 'hi' });
    expect(reply.error).toMatchObject({ code: -32015, data: { code: 'state-dir-unusable', stateDir } });
  });
});
