/** PLACEHOLDER — being written; replaced by the real lmstudio backend before this lands. */
import { z } from 'zod';
import { ErrorCodes, MaiError } from '../../core/errors.ts';
import { definePlugin } from '../../core/plugin.ts';

export default definePlugin({
  kind: 'backend',
  name: 'lmstudio',
  options: z.record(z.string(), z.unknown()),
  create(_options, context) {
    const fail = () => new MaiError(ErrorCodes.unreachable, 'lmstudio backend not written yet');
    return {
      name: context.name,
      async listModels() {
        throw fail();
      },
      // eslint-disable-next-line require-yield
      async *chat() {
        throw fail();
      },
    };
  },
});
