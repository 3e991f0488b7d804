/**
 * Issue 16, defects 2, 3 and the empty config of 5: a config error names the file, the key path and
 * the line, but never quotes content Mai did not understand as its config (an environment, a key,
 * a .env); a client cannot make Mai read another file, run its plugin code or move its storage; an
 * empty config is refused. Unit checks on the loader, then the real `mai serve` over real pipes.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../core/config/load.ts';
import { MaiError } from '../core/errors.ts';
import { startOpenAIServer, type FakeOpenAIServer } from './support/openai-server.ts';
import { tempDir, writeConfig, type TempDir } from './support/harness.ts';
import { loopbackConfig } from './support/rpc-client.ts';
import { linkServe, type LinkedServe } from './support/rpc-link.ts';

const secret = 'sk-live-9f8e7d6c5b4a3210';

function refusal(text: string): MaiError {
  try {
    parseConfig(text, '/somewhere/mai.config.yaml');
  } catch (error) {
    return error as MaiError;
  }
  throw new Error('the config was accepted');
}

/** Everything the client would see of the error. */
const shown = (error: MaiError) => `${error.message}\n${JSON.stringify(error.data)}`;

describe('config errors never quote what is not config', () => {
  const files: Record<string, string> = {
    environ: `PATH=/usr/bin\0OPENAI_API_KEY=${secret}\0HOME=/root\0`,
    passwd: `root:x:0:0:root:/root:/bin/bash\nsvc:x:1000:1000:${secret}:/home/svc:/bin/sh\n`,
    privateKey: `-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU${secret}\n-----END OPENSSH PRIVATE KEY-----\n`,
    dotenv: `DATABASE_URL=postgres://u:p@db/x\nAPI_KEY=${secret}\n`,
    yamlSecrets: `api_key: ${secret}\nbackends: "${secret} and more, more than sixty-four characters long, surely"\n`,
    badTag: `backends: !${secret} x\n`,
    badEscape: `backends: "\\q${secret}"\n`,
    blockHeader: `backends: |${secret}\n  x\n`,
    longKey: `"${secret} is a long key with spaces": 1\n`,
  };
  for (const [name, text] of Object.entries(files)) {
    it(`a ${name} file: the error names the file, quotes none of it`, () => {
      const error = refusal(text);
      expect(error.code).toBe('config-invalid');
      expect(error.message).toContain('/somewhere/mai.config.yaml');
      expect(shown(error)).not.toContain(secret);
      expect(shown(error)).not.toContain('sk-live');
    });
  }

  it('still quotes a short value under a known key, with its path, line and what is allowed', () => {
    const error = refusal('backends: []\nfallback:\n  retries: lots\n  firstTokenTimeoutMs: 10\ncontext: { summary: sometimes }\nmodles: []\n');
    expect(error.message).toContain('fallback.retries: expected a number, got "lots" (mai.config.yaml:3)');
    expect(error.message).toContain('context.summary: expected one of "auto", "model", "digest", got "sometimes"');
    expect(error.message).toMatch(/unknown key "modles"; allowed keys: backends, scorers, models/);
  });

  it('names the line and the kind of a YAML syntax error', () => {
    const error = refusal('backends:\n  - use: openai\n    options: { baseURL: "http://x\n');
    expect(error.message).toMatch(/mai\.config\.yaml:\d+:\d+: /);
  });

  it('refuses an empty or comment-only config, saying why and what to write', () => {
    for (const text of ['', '\n\n', '# nothing but a comment\n# and another\n']) {
      const error = refusal(text);
      expect(error.code).toBe('config-invalid');
      expect(error.message).toMatch(/is empty \(or holds only comments\)/);
      expect(error.message).toMatch(/backends:/);
    }
  });
});

// `mai serve`'s server stack linked in this process over an in-memory pair: the same requests and replies as over its pipes.
describe('config/reload over mai serve', () => {
  let server: FakeOpenAIServer;
  let dir: TempDir;
  let config: string;
  let mai: LinkedServe;
  beforeEach(async () => {
    server = await startOpenAIServer([{ id: 'alpha', reply: 'Alpha answers.' }]);
    dir = await tempDir('mai-reload-');
    config = await writeConfig(dir.path, loopbackConfig(server.baseURL, 'reload: { allow: [./allowed.yaml, ./secrets.env] }\n'));
    mai = linkServe({ config, framing: 'ndjson' });
  });
  afterEach(async () => {
    await mai.stop();
    await server.close();
    await dir.cleanup();
  });

  it('a client-named config runs none of its plugin code and moves no storage: refused with -32014 naming the fix', async () => {
    const marker = join(dir.path, 'evil-ran');
    await writeFile(join(dir.path, 'evil.js'), `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(marker)}, 'ran');\nexport default {};\n`);
    const evil = join(dir.path, 'evil.yaml');
    await writeFile(evil, `backends: [{ use: ./evil.js }]\ncontext: { stateDir: ./elsewhere }\n`);
    const reply = await mai.request('config/reload', { config: evil });
    expect(reply.error).toMatchObject({ code: -32014, data: { code: 'config-not-allowed', file: evil, config } });
    expect(reply.error?.message).toMatch(/reload\.allow/);
    expect(existsSync(marker)).toBe(false);
    const status = (await mai.request('status')).result as { config: { file: string } };
    expect(status.config.file).toBe(config);
    const chat = await mai.request('chat/send', { message: 'still here?' });
    expect((chat.result as { text: string }).text).toBe('Alpha answers.');
    expect(existsSync(join(dir.path, 'elsewhere'))).toBe(false);
    expect(existsSync(join(dir.path, 'state', 'conversations'))).toBe(true);
  });

  it('/proc/self/environ is refused without being read: no byte of it in the reply', async () => {
    const reply = await mai.request('config/reload', { config: '/proc/self/environ' });
    expect(reply.error).toMatchObject({ code: -32014 });
    expect(JSON.stringify(reply.error)).not.toMatch(/PATH=|HOME=/);
  });

  it('a file the owner allowed is read, and its errors quote none of it; the own config re-reads', async () => {
    await writeFile(join(dir.path, 'secrets.env'), `API_KEY=${secret}\n`);
    const leaky = await mai.request('config/reload', { config: join(dir.path, 'secrets.env') });
    expect(leaky.error).toMatchObject({ code: -32011 });
    expect(JSON.stringify(leaky.error)).not.toContain(secret);

    const allowed = await writeConfig(dir.path, loopbackConfig(server.baseURL, 'models:\n  - id: alpha\n    priority: 5\n'), 'allowed.yaml');
    expect((await mai.request('config/reload', { config: './allowed.yaml' })).result).toEqual({ file: allowed });
    // The owner's own file stays reloadable, by name or without one.
    expect((await mai.request('config/reload', { config })).result).toEqual({ file: config });
    expect((await mai.request('config/reload')).result).toEqual({ file: config });

    await writeFile(config, '# emptied by mistake\n');
    const empty = await mai.request('config/reload');
    expect(empty.error).toMatchObject({ code: -32011, data: { code: 'config-invalid' } });
    expect(empty.error?.message).toMatch(/empty/);
    expect(((await mai.request('chat/send', { message: 'and now?' })).result as { text: string }).text).toBe('Alpha answers.');
    expect(await readFile(config, 'utf8')).toContain('emptied');
  });
});
