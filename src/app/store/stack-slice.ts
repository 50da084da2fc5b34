/**
 * The layer-stack slice: for the user's own checkpoints, a stack of slices (layers of one model
 * each, in order) that the Merge button and the handed-out recipe use instead of merging whole
 * models, once the user turns it on or imports a `slices:` recipe (recipe/slice-stack.ts builds its
 * `slices:` recipe).
 */
import { initialStack, type StackSlice } from '../recipe/slice-stack.js';
import type { SliceCreator } from './types.js';

export interface LayerStackSlice {
  readonly stack: { readonly enabled: boolean; readonly slices: readonly StackSlice[] };
  /** On: a stack of the base's (else the first model's) whole layers to start from, when there is none yet. */
  setStackEnabled(on: boolean): void;
  /** Appends a slice: the last slice's model, from where that slice ends (else from 0) to its last layer. */
  addStackSlice(): void;
  /** An imported recipe's slices (recipe/slice-stack.ts stackFromRecipe), the stack turned on. */
  loadStack(slices: readonly StackSlice[]): void;
  /** Changes a slice's model or range; an imported slice kept whole (several sources, settings) is not changed. */
  setStackSlice(index: number, patch: Partial<StackSlice>): void;
  removeStackSlice(index: number): void;
  moveStackSlice(index: number, delta: -1 | 1): void;
}

export const createStackSlice: SliceCreator<LayerStackSlice> = (set, get) => {
  const slices = (f: (list: StackSlice[]) => StackSlice[]) => set((s) => ({ stack: { ...s.stack, slices: f([...s.stack.slices]) } }));
  return {
    stack: { enabled: false, slices: [] },
    setStackEnabled(on) {
      const s = get();
      set({ stack: { enabled: on, slices: on && s.stack.slices.length === 0 ? initialStack(s.dropped) : s.stack.slices } });
    },
    addStackSlice() {
      const s = get();
      const last = s.stack.slices.at(-1);
      const first = initialStack(s.dropped)[0];
      const model = last?.model ?? first?.model;
      if (model === undefined) return;
      const whole = initialStack(s.dropped.filter((m) => m.id === model))[0];
      const end = whole?.end ?? 0;
      const start = last && last.end < end ? last.end : 0;
      slices((list) => [...list, { model, start, end }]);
    },
    loadStack(list) {
      set({ stack: { enabled: true, slices: [...list] } });
    },
    setStackSlice(index, patch) {
      slices((list) => list.map((x, i) => (i === index && !x.imported ? { ...x, ...patch } : x)));
    },
    removeStackSlice(index) {
      slices((list) => list.filter((_, i) => i !== index));
    },
    moveStackSlice(index, delta) {
      slices((list) => {
        const j = index + delta;
        if (index < 0 || j < 0 || j >= list.length) return list;
        [list[index], list[j]] = [list[j]!, list[index]!];
        return list;
      });
    },
  };
};
