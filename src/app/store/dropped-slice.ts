/**
 * The dropped-models slice: checkpoints the user dropped or chose (a file, or a folder of shards),
 * each opened in the engine worker under a fresh id and listed from its header with a role
 * (base / expert / excluded), plus per-model parameter values. The bytes stay in the engine
 * client (which re-opens them after a worker restart); the store holds only descriptions.
 */
import { chooseBase } from '../models/choose-base.js';
import { isEngineGone } from '../engine/failures.js';
import { toAppError } from '../demo/errors.js';
import { pairAdapters } from '../models/lora-pairing.js';
import { DEMO_BASE_ID } from '../recipe/demo-recipe.js';
import { inRange, specOf } from './recipe-slice.js';
import type { DroppedModel, DroppedSlice, SliceCreator } from './types.js';

/** A model id from a file or folder name: without `.safetensors` (or `.bin`, `.pt`), unique among `taken`. */
export function uniqueModelId(name: string, taken: ReadonlySet<string>): string {
  const stem = name.replace(/\.(safetensors|bin|pt|pth)$/i, '').replace(/[^\w.-]+/g, '_') || 'model';
  if (!taken.has(stem)) return stem;
  for (let i = 2; ; i++) if (!taken.has(`${stem}-${i}`)) return `${stem}-${i}`;
}

export const createDroppedSlice: SliceCreator<DroppedSlice> = (set, get) => {
  const patch = (id: string, p: Partial<DroppedModel>) => set((s) => ({ dropped: s.dropped.map((m) => (m.id === id ? { ...m, ...p } : m)) }));

  return {
    source: 'demo',
    dropped: [],
    perModel: {},

    setSource(source) {
      set({ source });
    },

    async addModels(dropped) {
      if (dropped.length === 0) return;
      // A LoRA adapter's folder becomes one model with its base: one dropped beside it, else the list's base.
      const listBase = get().dropped.find((m) => m.role === 'base' && m.status === 'ready');
      const baseFiles = listBase ? get().engineClient()?.modelFiles(listBase.id) : undefined;
      const groups = await pairAdapters(dropped, listBase && baseFiles ? { name: listBase.name, files: baseFiles } : undefined);
      // The demo's models are open in the same worker under 'base' and its task ids: never reuse those.
      const s0 = get();
      const taken = new Set([...s0.dropped.map((m) => m.id), DEMO_BASE_ID, ...s0.tasks.map((t) => t.id), ...(s0.engine.demo.tasks ?? [])]);
      // The base is the one the files say (named "base", or named by the others' config.json), never
      // the first dropped; with none, every model is an expert and the recipe asks for a base.
      const hasBase = get().dropped.some((m) => m.role === 'base');
      const base = hasBase ? undefined : await chooseBase(groups);
      const added = groups.map((g, i) => {
        const id = uniqueModelId(g.name, taken);
        taken.add(id);
        const role = i === base ? ('base' as const) : ('expert' as const);
        return { group: g, row: { id, name: g.name, files: g.files.length, role, status: 'loading' } satisfies DroppedModel };
      });
      set((s) => ({ source: 'mine', dropped: [...s.dropped, ...added.map((a) => a.row)] }));
      get().startEngine();
      await Promise.all(
        added.map(async ({ group, row }) => {
          const client = get().engineClient();
          if (!client) return;
          for (let attempt = 0; ; attempt++) {
            try {
              const summary = await client.openModel(row.id, group.files);
              if (!get().dropped.some((m) => m.id === row.id)) return; // removed meanwhile
              patch(row.id, {
                status: 'ready',
                dtypes: summary.dtypes,
                parameters: summary.parameters,
                bytes: summary.bytes,
                tensors: summary.tensors.map((t) => ({ name: t.name, shape: t.shape })),
              });
              return;
            } catch (e) {
              // A worker lost under the call: the restarted one opens it again; ask once more for its header.
              if (isEngineGone(e) && attempt < 2) continue;
              // A bad file: forget it in the engine (it must not be re-opened after a restart) and show why.
              void client.closeModel(row.id).catch(() => undefined);
              if (get().dropped.some((m) => m.id === row.id)) patch(row.id, { status: 'error', error: toAppError(e, group.name) });
              return;
            }
          }
        }),
      );
    },

    removeModel(id) {
      set((s) => {
        const perModel = { ...s.perModel };
        delete perModel[id];
        const dropped = s.dropped.filter((m) => m.id !== id);
        return { dropped, perModel, source: dropped.length === 0 ? 'demo' : s.source };
      });
      void get().engineClient()?.closeModel(id).catch(() => undefined);
    },

    moveModel(id, delta) {
      const list = [...get().dropped];
      const i = list.findIndex((m) => m.id === id);
      const j = i + delta;
      if (i < 0 || j < 0 || j >= list.length) return;
      [list[i], list[j]] = [list[j]!, list[i]!];
      set({ dropped: list });
    },

    setRole(id, role) {
      // One base at most: choosing a new base makes the old one an expert.
      set((s) => ({ dropped: s.dropped.map((m) => (m.id === id ? { ...m, role } : role === 'base' && m.role === 'base' ? { ...m, role: 'expert' } : m)) }));
    },

    setModelParam(id, name, value) {
      // Clamped to the schema's range, as the demo's per-expert values are (a link's w.a.density=7 is 1).
      const v = inRange(specOf(get().method, name), value);
      if (v === undefined) return;
      set((s) => ({ perModel: { ...s.perModel, [id]: { ...s.perModel[id], [name]: v } } }));
    },
  };
};
