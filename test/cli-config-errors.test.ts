/**
 * A bad config at startup: the CLI prints the MaiError's message to stderr and exits with code 2;
 * `mai serve` writes nothing to stdout but the replies to the requests it received, which carry the
 * same message (an editor shows the reply; it rarely shows the stderr of the process it started).
 * The commands run `main(argv, io)` in this process (test/support/cli-in-process.ts), with the
 * request on a pipe-like stdin that then ends; the real binary runs the first case of each.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir, type TempDir } from './support/harness.ts';
import { runCliInProcess } from './support/cli-in-process.ts';
import { runCli } from './support/rpc-client.ts';

describe('bad config at startup', () => {
  let dir: TempDir;
  const file = (name: string) => join(dir.path, name);
  beforeAll(async () => {
    dir = await tempDir('mai-badcfg-');
    await writeFile(file('yaml-error.yaml'), 'backends:\n  - use: openai\n   options: [\n');
    await writeFile(file('wrong-types.yaml'), 'scorers:\n  - use: context-fit\n    weight: high\nmonitor:\n  intervall: 5\n');
    await writeFile(file('unknown-plugin.yaml'), 'scorers:\n  - use: vibes\n');
    await writeFile(file('not-a-plugin.js'), 'export const hello = 1;\n');
    await writeFile(file('not-a-plugin.yaml'), 'scorers:\n  - use: ./not-a-plugin.js\n');
  });
  afterAll(() => dir.cleanup());

  const cases: Array<[string, string, RegExp]> = [
    ['a missing --config file', 'missing.yaml', /missing\.yaml \(named by --config\) does not exist\. Fix the path/],
    ['a YAML syntax error', 'yaml-error.yaml', /is not valid YAML:\n\s+yaml-error\.yaml:\d+:\d+/],
    ['wrong types and unknown keys', 'wrong-types.yaml', /2 problem\(s\); nothing of it was applied[\s\S]*scorers\[0\]\.weight[\s\S]*intervall/],
    ['an unknown plugin', 'unknown-plugin.yaml', /unknown scorer plugin "vibes" \(unknown-plugin\.yaml:2\)\. Known scorer plugins: /],
    ['a module that exports no plugin', 'not-a-plugin.yaml', /does not export a scorer plugin \(not-a-plugin\.yaml:2\)/],
  ];

  // The real binary for the first case (a missing file), main() in this process for every case.
  const runs = [...cases.slice(0, 1).map((c) => [...c, 'spawned'] as const), ...cases.map((c) => [...c, 'in process'] as const)];

  it.each(runs)('%s: mai serve exits 2 with the message on stderr and as the reply to the request it received (%s)', async (_what, name, message, how) => {
    const run = await (how === 'spawned' ? runCli : runCliInProcess)(['serve', '--config', file(name)], {
      stateDir: join(dir.path, 'state'),
      input: '{"jsonrpc":"2.0","id":1,"method":"status"}\n',
    });
    expect(run.code).toBe(2);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(1); // the one reply, nothing else
    const reply = JSON.parse(lines[0]!) as { id: number; error: { code: number; message: string; data: { code: string } } };
    expect(reply.id).toBe(1);
    expect(reply.error.data.code).toMatch(/^(config-not-found|config-invalid|plugin-unknown|plugin-load)$/);
    expect(reply.error.message).toMatch(message);
    expect(run.stderr).toMatch(message);
    expect(run.stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
  });

  it.each(runs)('%s: mai status exits 2 the same way (%s)', async (_what, name, message, how) => {
    const run = await (how === 'spawned' ? runCli : runCliInProcess)(['status', '--config', file(name)], { stateDir: join(dir.path, 'state') });
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(message);
  });

  it('reports every plugin problem of a config at once, each at its own line, and the footer names a file that exists', async () => {
    await writeFile(
      file('many-plugin-problems.yaml'),
      [
        'backends:', //                                          1
        '  - use: gguf', //                                      2
        '    options:', //                                       3
        '      folders: [./models]', //                          4
        '      threads: many', //                                5
        '  - use: ollama', //                                    6
        '    options:', //                                       7
        '      baseURL: http://127.0.0.1:9', //                  8
        '      keepalive: 5m', //                                9
        'scorers:', //                                           10
        '  - use: vibes', //                                     11
        '  - use: ./missing-module.js', //                       12
        '',
      ].join('\n'),
    );
    const run = await runCliInProcess(['status', '--config', file('many-plugin-problems.yaml')], { stateDir: join(dir.path, 'state') });
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/has 4 problem\(s\) with its plugins; nothing of it was applied/);
    expect(run.stderr).toMatch(/backends\[0\]\.options\.threads: expected a number, got "many" \(many-plugin-problems\.yaml:5/);
    expect(run.stderr).toMatch(/backends\[1\]\.options: unknown key "keepalive".*\(many-plugin-problems\.yaml:9/);
    expect(run.stderr).toMatch(/scorers\[0\]\.use: unknown scorer plugin "vibes" \(many-plugin-problems\.yaml:11\)/);
    expect(run.stderr).toMatch(/scorers\[1\]\.use: the plugin module "\.\/missing-module\.js" failed to load \(many-plugin-problems\.yaml:12\)/);
    const footer = /the annotated default config, (\S+), shows every key/.exec(run.stderr);
    expect(footer?.[1]).toBeDefined();
    expect(existsSync(footer![1]!.replace(/,$/, ''))).toBe(true);
  });

  it('schema errors name the annotated default config that exists, and an unknown key its own line', async () => {
    await writeFile(file('typo.yaml'), 'fallback:\n  retries: 0\n  backoffMs: 10\n  queueLimit: 4\n  quelimit: 5\n');
    const run = await runCliInProcess(['status', '--config', file('typo.yaml')], { stateDir: join(dir.path, 'state') });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/unknown key "quelimit".*\(typo\.yaml:5\)/);
    const footer = /the annotated default config, (\S+), shows every key/.exec(run.stderr);
    expect(existsSync(footer![1]!.replace(/,$/, ''))).toBe(true);
  });
});
