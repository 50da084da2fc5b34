/**
 * The language-model lab's slice: text files dropped beside one's own checkpoints (one task each,
 * their text kept here in the slice, out of the store's state), which expert each belongs to, whether
 * the base is a language model the engine scores (describeLab), and the evaluation of the current
 * recipe (lmLab.evaluate), latest wins.
 *
 * When it asks (its one subscriber): a slider move (density, λ, another global, a per-model value)
 * asks for a probe at once — the first windows of each text — and for the full texts once the
 * sliders rest for LM_REST_MS (or, if the probe is still being computed then, once it is drawn: the
 * full request would cancel it, and on a busy machine no probe would ever be seen); anything else that changes the answer (the method, dtype, models,
 * texts, a text's expert, the base's description) asks for the full texts at once. Nothing is
 * asked while the link hides the card (`lm_hide=1`); shown again, it asks for the full texts. Every answer is
 * kept with the key of what it was asked about and the recipe's settings in words, so the card can
 * say which recipe made it and mark it stale while another is computed. Models or texts replaced:
 * the answer goes, and answers still on their way for the old ones are never shown.
 */
import * as Comlink from 'comlink';
import type { LmLabMode, LmLabProgress, LmLabRequest } from '../../engine/api/engine-api.js';
import { isMergeLabError } from '../../engine/errors.js';
import { recipeKey } from '../../engine/recipe/recipe-key.js';
import { toAppError } from '../demo/errors.js';
import { isEngineGone } from '../engine/failures.js';
import { readTaskText } from '../lm/text-files.js';
import { taskExpert } from '../lm/task-experts.js';
import { recipeSettings } from '../recipe/recipe-settings.js';
import { isRoutedMethod } from '../routed/methods.js';
import { currentRecipe } from './engine-slice.js';
import { lmDemoInputs } from './lm-demo-slice.js';
import { cleared, failed, showable } from './latest-request.js';
import type { DroppedModel, LabState, LmEvalState, LmLabSlice, LmSplit, LmTextEntry, SliceCreator } from './types.js';

/** The full texts are asked for once the sliders rest this long (a probe answers each move meanwhile). */
export const LM_REST_MS = 400;

/** What one evaluation is asked about, apart from its mode. */
export interface LmLabInputs {
  readonly request: Omit<LmLabRequest, 'mode'>;
  readonly key: string;
  readonly method: string;
  readonly settings: string;
  /** The LM demo's split the texts are from (absent: one's own texts). */
  readonly split?: LmSplit;
}

/** A text id from its file name: unique among `taken`. */
function uniqueTextId(name: string, taken: ReadonlySet<string>): string {
  if (!taken.has(name)) return name;
  for (let i = 2; ; i++) if (!taken.has(`${name} (${i})`)) return `${name} (${i})`;
}

/** The ready experts of one's own checkpoints, in list order. */
export function labExperts(dropped: readonly DroppedModel[]): string[] {
  return dropped.filter((m) => m.role === 'expert' && m.status === 'ready').map((m) => m.id);
}

/**
 * The evaluation the current state asks for; undefined while there is none to ask (not one's own
 * checkpoints, models still opening, the base not a language model the engine scores, no text,
 * a routed method, the card hidden by the link). Throws when the recipe cannot be built (its error is the card's).
 */
export function lmLabInputs(s: LabState, texts: ReadonlyMap<string, { readonly text: string; readonly serial: number }>): LmLabInputs | undefined {
  // A card the link hides (`lm_hide=1`, and with it the routing chart) is not computed: scoring is seconds of the worker's.
  if (s.hidden.includes('lm')) return undefined;
  if (s.source === 'lm') return lmDemoInputs(s);
  if (s.source !== 'mine' || s.lmModel.status !== 'ready' || s.dropped.some((m) => m.status === 'loading')) return undefined;
  const base = s.dropped.find((m) => m.role === 'base' && m.status === 'ready');
  if (!base || base.id !== s.lmModel.base || isRoutedMethod(s.method)) return undefined;
  const ready = s.lmTexts.filter((t) => t.status === 'ready' && texts.has(t.id));
  if (ready.length === 0) return undefined;
  const recipe = currentRecipe(s);
  const experts = labExperts(s.dropped);
  const tasks = ready.map((t) => {
    const { expert } = taskExpert(t.name, s.lmExperts[t.id], experts);
    return { name: t.id, text: texts.get(t.id)!.text, ...(expert !== undefined ? { expert } : {}) };
  });
  const key = JSON.stringify([recipeKey(recipe), base.id, experts, ready.map((t, i) => [texts.get(t.id)!.serial, tasks[i]!.expert ?? null])]);
  return { request: { recipe, base: base.id, experts, tasks }, key, method: s.method, settings: `${recipeSettings(recipe) || 'defaults'}, on your checkpoints` };
}

const idleEval = (): LmEvalState => ({ status: 'idle', requested: 0 });

export const createLmLabSlice: SliceCreator<LmLabSlice> = (set, get, api) => {
  /** Each text's contents (the store keeps descriptions only) and a serial no later text reuses. */
  const texts = new Map<string, { readonly text: string; readonly serial: number }>();
  let serial = 0;
  let restTimer: ReturnType<typeof setTimeout> | undefined;
  /** The sliders rested while their probe was still computing: the full texts are asked once it is drawn. */
  let fullAfterProbe = false;
  /** The newest evaluation sent (mode and key): the same one is not asked again. */
  let asked = '';
  /** The base row last described, and that request's number. */
  let described: DroppedModel | undefined;
  let describeSeq = 0;

  const patchEval = (patch: Partial<LmEvalState>) => set((s) => ({ lmEval: { ...s.lmEval, ...patch } }));

  /** Asks the engine whether the base is a language model it scores (config.json and tokenizer). */
  const describe = (s: LabState) => {
    const client = s.engineClient();
    const base = s.source === 'mine' ? s.dropped.find((m) => m.role === 'base' && m.status === 'ready') : undefined;
    if (!client || !base) {
      described = undefined;
      describeSeq++;
      if (s.lmModel.status !== 'idle') set({ lmModel: { status: 'idle' } });
      return;
    }
    // The same row: the same files, the same answer (a model dropped again is a new row).
    if (base === described) return;
    described = base;
    const mine = ++describeSeq;
    set({ lmModel: { status: 'checking', base: base.id } });
    client.call((e) => e.lmLab.describeLab(base.id)).then(
      (summary) => void (mine === describeSeq && set({ lmModel: { status: 'ready', base: base.id, summary } })),
      (e: unknown) => {
        if (mine !== describeSeq) return;
        if (isEngineGone(e)) described = undefined;
        else set({ lmModel: { status: 'unsupported', base: base.id, error: toAppError(e) } });
      },
    );
  };

  /**
   * Asks for the current evaluation in `mode`, unless that is what was last asked. `retry`: how
   * many times this request was sent again (its worker died, or it dropped it for a model closed).
   */
  const ask = (mode: LmLabMode, inputAt?: number, retry = 0) => {
    const s = get();
    const client = s.engineClient();
    if (!client) return;
    let inputs: LmLabInputs | undefined;
    try {
      inputs = lmLabInputs(s, texts);
    } catch (e) {
      asked = '';
      set({ lmEval: failed(s.lmEval.requested + 1, toAppError(e)) });
      return;
    }
    if (!inputs) return;
    const tag = `${mode}\u0000${inputs.key}`;
    if (tag === asked) return;
    asked = tag;
    const seq = s.lmEval.requested + 1;
    patchEval({ status: 'computing', requested: seq, progress: undefined, mode, key: inputs.key });
    const { key, method, settings, split } = inputs;
    const onProgress = Comlink.proxy((p: LmLabProgress) => {
      const c = get().lmEval;
      // Progress travels on its own channel and may land after the answer.
      if (c.requested === seq && c.status === 'computing') patchEval({ progress: p });
    });
    const request = { ...inputs.request, mode };
    client.call((e) => e.lmLab.evaluate(request, onProgress)).then(
      (answer) => {
        const c = get().lmEval;
        if (!showable(c, seq)) return;
        const newest = seq === c.requested;
        const then = newest && mode === 'probe' && fullAfterProbe;
        set({
          lmEval: {
            status: newest ? 'ready' : c.status,
            requested: c.requested,
            shown: { seq, data: { answer, key, method, settings, ...(split ? { split } : {}) }, ...(inputAt !== undefined ? { inputAt } : {}) },
            ...(newest || c.progress === undefined ? {} : { progress: c.progress }),
            ...(c.floor !== undefined ? { floor: c.floor } : {}),
            ...(c.mode !== undefined ? { mode: c.mode } : {}),
            ...(c.key !== undefined ? { key: c.key } : {}),
          },
        });
        if (then) {
          fullAfterProbe = false;
          ask('full');
        }
      },
      (e: unknown) => {
        const c = get().lmEval;
        // Still the newest request, and the user did not stop it: the worker died under it (the
        // client restarts one), or the engine dropped it because a model was opened or closed after
        // it was sent (a removal closes the model after asking). Sent again, twice at most.
        const again = seq === c.requested && c.status === 'computing' && asked === tag;
        if (isEngineGone(e) || (isMergeLabError(e) && e.code === 'CANCELLED')) {
          if (again) {
            asked = '';
            if (retry < 2) ask(mode, inputAt, retry + 1);
            else set({ lmEval: failed(c.requested, toAppError(e)) });
          }
          return;
        }
        if (seq !== c.requested) return;
        asked = '';
        fullAfterProbe = false;
        set({ lmEval: failed(c.requested, toAppError(e)) });
      },
    );
  };

  const clear = () => {
    asked = '';
    clearTimeout(restTimer);
    fullAfterProbe = false;
    const c = get().lmEval;
    if (c.shown || c.status !== 'idle' || c.error) set({ lmEval: cleared(c.requested) });
  };

  // The slice's one subscriber: what the answer depends on changed → describe, clear, ask.
  api.subscribe((s, prev) => {
    const models = s.dropped !== prev.dropped || s.source !== prev.source;
    if (models) {
      describe(s);
      // A file dropped again under the same name is other weights: what is shown, or on its way, goes.
      clear();
    }
    if (s.lmTexts !== prev.lmTexts) clear();
    // The LM demo (re)loaded, or the other split asked for: the answer shown is about other texts.
    const demoTexts = s.lmDemo !== prev.lmDemo || s.lmSplit !== prev.lmSplit;
    if (demoTexts && s.source === 'lm') clear();
    const moved = s.density !== prev.density || s.lambda !== prev.lambda || s.globals !== prev.globals || s.perModel !== prev.perModel || s.demoModels !== prev.demoModels;
    const other = models || demoTexts || s.lmTexts !== prev.lmTexts || s.lmExperts !== prev.lmExperts || s.method !== prev.method || s.dtype !== prev.dtype || s.math !== prev.math || s.lmModel !== prev.lmModel || s.baseWeight !== prev.baseWeight || s.randomSeed !== prev.randomSeed || s.pair !== prev.pair;
    // The card shown again (the link hid it): what it would show now, if that was not asked.
    const shownAgain = prev.hidden.includes('lm') && !s.hidden.includes('lm');
    if (shownAgain && !other && !moved) ask('full');
    if (other) {
      clearTimeout(restTimer);
      // The LM demo's first answer for new settings: a probe in a fraction of the time, then all its windows.
      const probeFirst = s.source === 'lm' && s.lmDemo.status === 'loaded';
      fullAfterProbe = false;
      ask(probeFirst ? 'probe' : 'full');
      if (probeFirst && get().lmEval.status === 'computing' && get().lmEval.mode === 'probe') fullAfterProbe = true;
    } else if (moved) {
      fullAfterProbe = false;
      ask('probe', performance.now());
      clearTimeout(restTimer);
      restTimer = setTimeout(() => {
        const c = get().lmEval;
        if (c.status === 'computing' && c.mode === 'probe') fullAfterProbe = true;
        else ask('full');
      }, LM_REST_MS);
    }
  });

  return {
    lmTexts: [],
    lmExperts: {},
    lmModel: { status: 'idle' },
    lmEval: idleEval(),

    async addTexts(files) {
      if (files.length === 0) return;
      const taken = new Set(get().lmTexts.map((t) => t.id));
      const rows = files.map((f) => {
        const id = uniqueTextId(f.name, taken);
        taken.add(id);
        return { file: f, row: { id, name: f.name, bytes: f.blob.size, status: 'loading' } satisfies LmTextEntry };
      });
      // Texts go beside one's own checkpoints: dropped on the demo, they switch to them.
      set((s) => ({ source: 'mine', lmTexts: [...s.lmTexts, ...rows.map((r) => r.row)] }));
      const read = await Promise.all(rows.map(async (r) => ({ id: r.row.id, read: await readTaskText(r.file.name, r.file.blob) })));
      for (const { id, read: r } of read) if ('text' in r && get().lmTexts.some((t) => t.id === id)) texts.set(id, { text: r.text, serial: ++serial });
      set((s) => ({
        lmTexts: s.lmTexts.map((t) => {
          const r = read.find((x) => x.id === t.id)?.read;
          if (!r) return t;
          return 'text' in r ? { ...t, status: 'ready' } : { ...t, status: 'error', error: r.error };
        }),
      }));
    },

    removeText(id) {
      texts.delete(id);
      set((s) => {
        const lmExperts = { ...s.lmExperts };
        delete lmExperts[id];
        return { lmTexts: s.lmTexts.filter((t) => t.id !== id), lmExperts };
      });
    },

    setTextExpert(id, expert) {
      set((s) => {
        const lmExperts = { ...s.lmExperts };
        if (expert === undefined) delete lmExperts[id];
        else lmExperts[id] = expert;
        return { lmExperts };
      });
    },

    evaluateLm() {
      asked = '';
      fullAfterProbe = false;
      ask('full');
    },

    cancelLmEval() {
      const c = get().lmEval;
      if (c.status !== 'computing') return;
      clearTimeout(restTimer);
      fullAfterProbe = false;
      asked = '';
      patchEval({ status: 'cancelled', progress: undefined });
      void get()
        .engineClient()
        ?.call((e) => e.lmLab.cancelEvaluate())
        .catch(() => undefined);
    },
  };
};
