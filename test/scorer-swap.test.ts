import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestMai, tempDir, type TempDir } from './support/harness.ts';
import { startOpenAIServer, type FakeOpenAIServer } from './support/openai-server.ts';

describe('swapping a scorer plugin is a config edit', () => {
  let server: FakeOpenAIServer;
  let dir: TempDir;
  beforeAll(async () => {
    server = await startOpenAIServer([
      { id: 'big', reply: 'big answers' },
      { id: 'tiny', reply: 'tiny answers' },
    ]);
    dir = await tempDir();
    // A scorer plugin that lives next to the config, not in Mai's code.
    await writeFile(
      join(dir.path, 'prefer-small.js'),
      `const rank = { small: 1, medium: 0.5, large: 0 };
export default {
  kind: 'scorer',
  name: 'prefer-small',
  create: () => ({ name: 'prefer-small', score: ({ model }) => ({ score: rank[model.tier], reason: 'smaller is cheaper' }) }),
};
`,
    );
  });
  afterAll(async () => {
    await server.close();
    await dir.cleanup();
  });

  const config = (scorer: string) => `
backends:
  - use: openai
    options: { baseURL: ${server.baseURL} }
models:
  - { id: big, tier: large }
  - { id: tiny, tier: small }
scorers:
  - use: ${scorer}
`;

  it('resource-fit prefers the most capable tier that fits', async () => {
    const { mai } = await createTestMai(dir.path, config('resource-fit'));
    const result = await mai.chat({ message: 'hi' });
    await mai.close();
    expect(result.model).toBe('big');
    expect(result.text).toBe('big answers');
  });

  it('the same models with ./prefer-small.js named instead choose the small one', async () => {
    const { mai } = await createTestMai(dir.path, config('./prefer-small.js'));
    const result = await mai.chat({ message: 'hi' });
    const models = await mai.models();
    await mai.close();
    expect(result.model).toBe('tiny');
    expect(models.models.find((m) => m.id === 'tiny')?.reasons).toContain('prefer-small: smaller is cheaper');
  });
});
