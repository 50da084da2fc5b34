/**
 * The in-process EngineApi: one object per service (services/), sharing the opened models and the
 * demo's (services/context.ts). The host decides how a backend starts (Node paths, or Vite-served
 * wasm files in a worker).
 */
import type { EngineApi } from './engine-api.js';
import { createContext, type EngineHost } from './services/context.js';
import { createDemoService } from './services/demo.js';
import { createDiagnosticsService } from './services/diagnostics.js';
import { createLmService } from './services/lm.js';
import { createLmLabService } from './services/lm-lab.js';
import { createMergesService } from './services/merges.js';
import { createModelsService } from './services/models.js';
import { createRecipesService } from './services/recipes.js';
import { createSystemService } from './services/system.js';

export type { EngineHost } from './services/context.js';
export { OPENED_CACHE_BYTES } from './services/diagnostics.js';
export { estimateMergeMemory } from './services/merge-plan.js';

export function createEngine(host: EngineHost = {}): EngineApi {
  const ctx = createContext(host);
  return {
    models: createModelsService(ctx),
    merges: createMergesService(ctx),
    demo: createDemoService(ctx),
    diagnostics: createDiagnosticsService(ctx),
    recipes: createRecipesService(),
    system: createSystemService(ctx),
    lm: createLmService(ctx),
    lmLab: createLmLabService(ctx),
  };
}
