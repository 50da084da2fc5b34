/**
 * What to do about a recipe over one's own checkpoints that has more (or fewer) models than its
 * method takes: the engine's message is the CLI's ("the recipe has 3"), but in the lab the models
 * are picked by their roles under Models, which the message should say.
 */
import type { AppError, ModelSource } from '../store/types.js';

const COUNT_CODES = new Set(['TOO_MANY_MODELS', 'TOO_FEW_MODELS']);

export function withRolesHint(error: AppError, source: ModelSource): AppError {
  if (source !== 'mine' || !COUNT_CODES.has(error.code)) return error;
  return { ...error, message: `${error.message} Pick the models with their roles under Models: "excluded" leaves a checkpoint out.` };
}
