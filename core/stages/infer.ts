/**
 * infer — works after next(): once fallback has handed it the plan and context the transcript, the
 * attempt runner (core/infer/attempt-runner.ts) follows the plan until a model answers, streaming
 * deltas to the client; infer then commits the answer to the conversation and sets the turn's result.
 */
import { ErrorCodes, MaiError } from '../errors.ts';
import { createAttemptRunner, type AttemptRunnerOptions } from '../infer/attempt-runner.ts';
import type { Middleware } from '../pipeline/compose.ts';
import type { TurnContext } from '../pipeline/turn.ts';

export type InferStageOptions = AttemptRunnerOptions;

export function inferStage(options: InferStageOptions): Middleware<TurnContext> {
  const runAttempts = createAttemptRunner(options);
  return async function infer(turn, next) {
    await next();
    if (!turn.plan || !turn.transcript) {
      throw new MaiError(ErrorCodes.internal, 'infer ran without a plan or a transcript: the fallback and context stages must come after it.');
    }
    const { transcript } = turn;
    try {
      const { model, outcome } = await runAttempts(turn);
      const { text, usage, finishReason } = outcome;
      await transcript.commit({ text, model: model.id, usage, finishReason });
      turn.result = {
        conversationId: turn.conversationId,
        text,
        model: model.id,
        finishReason,
        usage,
        attempts: turn.attempts,
        latencyMs: Date.now() - turn.startedAt,
      };
    } finally {
      transcript.release(); // what commit did not use (a turn that failed, or was cancelled)
    }
  };
}
