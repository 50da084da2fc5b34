/**
 * The lm service: transformer language models opened from a folder's files (given, or those the
 * models service opened under the same id) and texts scored with them, for the language-model lab.
 * Each model has a lane of its own (services/cancel.ts): a newer scoring request for a model stops
 * the older one, and models scored side by side (base, experts, merged) do not stop each other.
 */
import { MergeLabError } from '../../errors.js';
import { blobSource } from '../../io/index.js';
import { openModelFiles } from '../../io/lora-files.js';
import type { Checkpoint } from '../../io/types.js';
import { describeLm, defaultContext, openLanguageModel, type LanguageModel, type TokenizerChoice } from '../../lm/model.js';
import { listedModelFiles, type ModelFiles } from '../../output/model-files.js';
import type { LmOpenOptions, LmService, LmSummary, LmTextScore, ModelFile } from '../engine-api.js';
import { createLane, type Lane } from './cancel.js';
import type { EngineContext } from './context.js';

async function tokenizerChoice(tokenizer: LmOpenOptions['tokenizer']): Promise<TokenizerChoice | undefined> {
  if (tokenizer === undefined || tokenizer === 'bytes') return tokenizer;
  return { json: await tokenizer.blob.text(), where: tokenizer.path };
}

/** The model's checkpoint and side files: from `files`, or as the models service opened them. */
async function modelSources(ctx: EngineContext, id: string, files: readonly ModelFile[] | undefined): Promise<{ checkpoint: Checkpoint; files: ModelFiles; owned: boolean }> {
  if (files) {
    const checkpoint = await openModelFiles(files.map((f) => ({ name: f.path, source: blobSource(f.blob, f.path) })));
    // Messages name the folder dropped (the checkpoint is named by its weights file in it).
    const label = checkpoint.name.includes('/') ? checkpoint.name.slice(0, checkpoint.name.lastIndexOf('/')) : id;
    return { checkpoint, files: listedModelFiles(label, files), owned: true };
  }
  const opened = ctx.models.get(id);
  if (!opened) throw new MergeLabError('PARAMETER_INVALID', `No model is open under "${id}"; open its folder first (config.json, weights and tokenizer together) or give its files.`);
  return { checkpoint: opened.checkpoint, files: opened.files, owned: false };
}

export function createLmService(ctx: EngineContext): LmService {
  const models = new Map<string, LanguageModel>();
  const lanes = new Map<string, Lane>();
  const lane = (id: string): Lane => {
    let l = lanes.get(id);
    if (!l) lanes.set(id, (l = createLane(`scoring of ${id}`)));
    return l;
  };
  const close = (id: string) => {
    lane(id).ask(); // stops its scoring
    models.get(id)?.dispose();
    models.delete(id);
  };

  return {
    async openLm(id, options = {}) {
      const sources = await modelSources(ctx, id, options.files);
      try {
        const description = await describeLm(sources.files, await tokenizerChoice(options.tokenizer));
        await ctx.ensureBackend();
        const model = await openLanguageModel(description, sources.checkpoint);
        close(id);
        models.set(id, model);
        const { config } = model;
        const summary: LmSummary = {
          id,
          name: model.label,
          modelType: config.modelType,
          parameters: model.parameters,
          vocabSize: config.vocabSize,
          layers: config.numLayers,
          hiddenSize: config.hiddenSize,
          maxPositions: config.maxPositions,
          tokenizer: model.tokenizer.name,
          defaultContext: defaultContext(config),
        };
        return summary;
      } finally {
        if (sources.owned) await sources.checkpoint.close();
      }
    },
    async closeLm(id) {
      close(id);
    },
    scoreTexts(id, texts, options = {}, onProgress) {
      return lane(id).latest(async (cancel) => {
        const model = models.get(id);
        if (!model) throw new MergeLabError('PARAMETER_INVALID', `No language model is open under "${id}"; call lm.openLm first.`);
        const out: LmTextScore[] = [];
        for (const [i, { name, text }] of texts.entries()) {
          const s = await model.scoreText(text, {
            ...options,
            cancel,
            onProgress: onProgress && ((p) => onProgress({ text: i, texts: texts.length, tokensDone: p.tokensDone, tokens: p.tokens })),
          });
          out.push({ name, tokens: s.tokens, bytes: s.bytes, nll: s.nll, loss: s.loss, perplexity: s.perplexity, bitsPerByte: s.bitsPerByte, context: s.context, windows: s.windows, ...(s.perToken ? { perToken: s.perToken } : {}) });
        }
        return out;
      });
    },
    async cancelScore(id) {
      lane(id).ask();
    },
  };
}
