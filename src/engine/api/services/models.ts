/** The models service: dropped files opened as checkpoints (headers only), by the id recipes use. */
import { blobSource } from '../../io/index.js';
import { openModelFiles } from '../../io/lora-files.js';
import { listedModelFiles } from '../../output/model-files.js';
import type { ModelFile, ModelSummary, ModelsService } from '../engine-api.js';
import type { EngineContext } from './context.js';

export function createModelsService(ctx: EngineContext): ModelsService {
  return {
    async openModel(id, files: readonly ModelFile[]) {
      // A model, or a LoRA adapter's folder together with its base's files (lora-files.ts).
      const checkpoint = await openModelFiles(files.map((f) => ({ name: f.path, source: blobSource(f.blob, f.path) })));
      const tensors = checkpoint.tensorNames.map((name) => {
        const info = checkpoint.info(name)!;
        return { name, dtype: info.dtype, shape: [...info.shape] };
      });
      const summary: ModelSummary = {
        id,
        name: checkpoint.name,
        tensors,
        parameters: tensors.reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0),
        bytes: checkpoint.tensorNames.reduce((s, n) => s + checkpoint.info(n)!.end - checkpoint.info(n)!.begin, 0),
        dtypes: [...new Set(tensors.map((t) => t.dtype))],
      };
      await ctx.models.get(id)?.checkpoint.close();
      ctx.models.set(id, { checkpoint, summary, files: listedModelFiles(id, files) });
      ctx.changed('models');
      return summary;
    },
    async closeModel(id) {
      await ctx.models.get(id)?.checkpoint.close();
      ctx.models.delete(id);
      ctx.changed('models');
    },
    async listModels() {
      return [...ctx.models.values()].map((m) => m.summary);
    },
  };
}
