/**
 * The language-model lab's slice on the real store with a fake engine whose answers the test hands
 * out: dropped text files read (bad ones refused by name, the rest kept), the base described, the
 * full texts asked for, a probe per slider move and the full texts once the sliders rest, each
 * answer kept with the recipe it answers; answers overtaken by newer ones, or about models or texts
 * since replaced, are never shown; an error replaces the answer; cancel keeps the answer shown.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { useLabStore } from '../../src/app/store/index.js';
import { LM_REST_MS } from '../../src/app/store/lm-lab-slice.js';
import type { DroppedModel } from '../../src/app/store/types.js';
import type { EngineClient } from '../../src/app/engine/engine-client.js';
import type { LmLabRequest } from '../../src/engine/api/engine-api.js';
import { MergeLabError } from '../../src/engine/errors.js';
import { matchExpert } from '../../src/app/lm/task-experts.js';
import { isTextFileName, splitTexts } from '../../src/app/lm/text-files.js';
import { EngineGoneError } from '../../src/app/engine/failures.js';

interface Asked {
  readonly method: string;
  readonly args: unknown[];
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

const fake = vi.hoisted(() => {
  const asked: Asked[] = [];
  const service = new Proxy({}, { get: (_t, method: string) => (...args: unknown[]) => new Promise((resolve, reject) => asked.push({ method, args, resolve, reject })) });
  const remote = new Proxy({}, { get: () => service });
  return { asked, client: { call: (fn: (r: unknown) => Promise<unknown>) => fn(remote) } };
});

useLabStore.setState({ engineClient: () => fake.client as unknown as EngineClient });
const initial = useLabStore.getState();
const st = () => useLabStore.getState();
const flush = () => new Promise((r) => setTimeout(r, 0));
const asked = (method: string) => fake.asked.filter((a) => a.method === method);
const requests = () => asked('evaluate').map((a) => a.args[0] as LmLabRequest);
const model = (id: string, role: DroppedModel['role']): DroppedModel => ({ id, name: id, files: 3, role, status: 'ready' });
const file = (name: string, content: string | Uint8Array) => ({ name, blob: new Blob([content as BlobPart]) });
const SUMMARY = { base: 'base', modelType: 'llama', parameters: 1000, vocabSize: 16, layers: 4, hiddenSize: 8, maxPositions: 64, tokenizer: 'base/tokenizer.json', context: 64, probeTokens: 128 };

/** An engine answer for `r`: every loss made from `loss` so answers can be told apart. */
const answer = (r: LmLabRequest, loss: number) => ({
  mode: r.mode,
  context: 64,
  probeTokens: 128,
  base: r.base,
  experts: r.experts,
  tokenizer: 'base/tokenizer.json',
  tasks: r.tasks.map((t) => ({ name: t.name, expert: t.expert, tokens: 10, textTokens: 10, bytes: 11, base: { loss: 3 }, experts: r.experts.map(() => ({ loss: 2 })), merged: { loss }, gain: t.expert ? (3 - loss) / 1 : null })),
  meanGain: 3 - loss,
  milliseconds: { references: 0, merge: 1, merged: 1, total: 2 },
});

/** One's own checkpoints (a base, experts a and b), the base described as a language model, two texts read. */
async function labReady(): Promise<void> {
  useLabStore.setState({ method: 'ties', density: 0.3, lambda: 1 });
  useLabStore.setState({ source: 'mine', dropped: [model('base', 'base'), model('a', 'expert'), model('b', 'expert')] });
  asked('describeLab')[0]!.resolve(SUMMARY);
  await st().addTexts([file('a.txt', 'merge a label'), file('other.md', 'la la merge')]);
  await flush();
}

beforeEach(() => void (fake.asked.length = 0));
afterEach(() => {
  vi.useRealTimers();
  useLabStore.setState(initial, true);
});

describe('text files as tasks', () => {
  it('are read as UTF-8; an empty, binary or non-UTF-8 file is refused by name and the others are kept', async () => {
    await st().addTexts([file('good.txt', 'some text'), file('empty.txt', ''), file('blank.md', ' \n '), file('bin.txt', new Uint8Array([104, 0, 105])), file('latin1.txt', new Uint8Array([0x63, 0x61, 0x66, 0xe9]))]);
    const rows = st().lmTexts;
    expect(st().source).toBe('mine');
    expect(rows.map((r) => [r.id, r.status])).toEqual([
      ['good.txt', 'ready'],
      ['empty.txt', 'error'],
      ['blank.md', 'error'],
      ['bin.txt', 'error'],
      ['latin1.txt', 'error'],
    ]);
    expect(rows[0]!.bytes).toBe(9);
    for (const r of rows.slice(1)) expect(r.error?.message).toContain(r.name);
    expect(rows[3]!.error?.message).toContain('binary');
    expect(rows[4]!.error?.message).toContain('UTF-8');
    // The same name again is another text.
    await st().addTexts([file('good.txt', 'more')]);
    expect(st().lmTexts.map((r) => r.id)).toContain('good.txt (2)');
    st().removeText('good.txt');
    expect(st().lmTexts.map((r) => r.id)).not.toContain('good.txt');
  });

  it('are the loose prose, markup and code files of a drop; configs, recipes, weights and folders are models', () => {
    for (const name of ['a.txt', 'notes.MD', 'doc.rst', 'paper.tex', 'table.csv', 'main.py', 'lib.ts', 'x.rs', 'page.html']) expect(isTextFileName(name), name).toBe(true);
    for (const name of ['config.json', 'recipe.yaml', 'recipe.yml', 'model.safetensors', 'pytorch_model.bin', 'README']) expect(isTextFileName(name), name).toBe(false);
    const blob = new Blob(['x']);
    const { texts, models } = splitTexts([
      { name: 'code.py', files: [{ path: 'code.py', blob }] },
      { name: 'ft1', files: [{ path: 'merges.txt', blob }, { path: 'model.safetensors', blob }] },
      { name: 'base.safetensors', files: [{ path: 'base.safetensors', blob }] },
    ]);
    expect(texts.map((t) => t.name)).toEqual(['code.py']);
    expect(models.map((m) => m.name)).toEqual(['ft1', 'base.safetensors']);
  });

  it('belong to the expert their name names, else to none until one is picked', () => {
    expect(matchExpert('code.txt', ['code', 'prose'])).toBe('code');
    expect(matchExpert('Code.TXT', ['expert-code', 'expert-prose'])).toBe('expert-code');
    expect(matchExpert('ft1.md', ['ft1', 'ft2'])).toBe('ft1');
    expect(matchExpert('notes.txt', ['ft1', 'ft2'])).toBeUndefined();
    // Two experts could be meant: neither is taken.
    expect(matchExpert('ft.txt', ['ft1', 'ft2'])).toBeUndefined();
  });
});

describe('the language-model evaluation', () => {
  it('asks once the base is a language model and the texts are in: the full texts, each text with its expert by name', async () => {
    useLabStore.setState({ source: 'mine', dropped: [model('base', 'base'), model('a', 'expert'), model('b', 'expert')] });
    expect(asked('describeLab').map((a) => a.args)).toEqual([['base']]);
    expect(st().lmModel.status).toBe('checking');
    await st().addTexts([file('a.txt', 'merge a label'), file('other.md', 'la la merge')]);
    // Not before the base is known to be a language model.
    expect(requests()).toHaveLength(0);
    asked('describeLab')[0]!.resolve(SUMMARY);
    await flush();
    expect(st().lmModel).toMatchObject({ status: 'ready', base: 'base', summary: SUMMARY });
    expect(requests()).toHaveLength(1);
    const r = requests()[0]!;
    expect(r).toMatchObject({ mode: 'full', base: 'base', experts: ['a', 'b'] });
    expect(r.tasks).toEqual([{ name: 'a.txt', text: 'merge a label', expert: 'a' }, { name: 'other.md', text: 'la la merge' }]);
    expect(r.recipe).toMatchObject({ mergeMethod: 'ties', baseModel: 'base' });
    asked('evaluate')[0]!.resolve(answer(r, 2.5));
    await flush();
    expect(st().lmEval).toMatchObject({ status: 'ready', shown: { seq: 1, data: { method: 'ties', settings: expect.stringContaining('density 0.3') as unknown } } });
    expect(st().lmEval.shown!.data.settings).toContain('on your checkpoints');

    // Picking the expert the name matched asks nothing new: the same request.
    st().setTextExpert('a.txt', 'a');
    expect(requests()).toHaveLength(1);
    // A pick replaces the name match: the other text gets expert b, the first none.
    st().setTextExpert('other.md', 'b');
    st().setTextExpert('a.txt', null);
    const picked = requests().at(-1)!;
    expect(picked.tasks.map((t) => t.expert)).toEqual([undefined, 'b']);
  });

  it('does not ask when the base is not a language model, and says why', async () => {
    useLabStore.setState({ source: 'mine', dropped: [model('base', 'base'), model('a', 'expert')] });
    asked('describeLab')[0]!.reject(new MergeLabError('LM_CONFIG_INVALID', 'base has no config.json; …'));
    await st().addTexts([file('a.txt', 'merge')]);
    await flush();
    expect(st().lmModel).toMatchObject({ status: 'unsupported', error: { code: 'LM_CONFIG_INVALID' } });
    expect(requests()).toHaveLength(0);
  });

  it('a slider move asks for a probe at once and the full texts once the sliders rest — after the probe is drawn, if it is still computing then', async () => {
    await labReady();
    asked('evaluate')[0]!.resolve(answer(requests()[0]!, 2.5));
    await flush();
    vi.useFakeTimers();
    st().setDensity(0.4);
    st().setDensity(0.5);
    expect(requests().map((r) => r.mode)).toEqual(['full', 'probe', 'probe']);
    // The shown answer is the old recipe's, and the store says a newer one is computing.
    expect(st().lmEval.status).toBe('computing');
    expect(st().lmEval.shown!.data.settings).toContain('density 0.3');
    // Rested, but the probe is still on its way: the full texts would cancel it, so they wait for it.
    vi.advanceTimersByTime(LM_REST_MS);
    expect(requests()).toHaveLength(3);
    vi.useRealTimers();
    asked('evaluate')[2]!.resolve(answer(requests()[2]!, 2.2));
    await flush();
    expect(st().lmEval.shown!.data).toMatchObject({ answer: { mode: 'probe' }, settings: expect.stringContaining('density 0.5') as unknown });
    expect(requests().map((r) => r.mode)).toEqual(['full', 'probe', 'probe', 'full']);
    expect(requests()[3]!.recipe).toMatchObject({ models: [{ parameters: { density: 0.5 } }, { parameters: { density: 0.5 } }] });
    expect(st().lmEval.status).toBe('computing');
    asked('evaluate')[3]!.resolve(answer(requests()[3]!, 2.1));
    await flush();
    expect(st().lmEval).toMatchObject({ status: 'ready', shown: { seq: 4, data: { answer: { mode: 'full' } } } });

    // A probe drawn before the sliders rest: the full texts once they have rested LM_REST_MS.
    vi.useFakeTimers();
    st().setDensity(0.6);
    asked('evaluate')[4]!.resolve(answer(requests()[4]!, 2.3));
    await vi.advanceTimersByTimeAsync(LM_REST_MS - 1);
    expect(st().lmEval.shown!.data.answer.mode).toBe('probe');
    expect(requests()).toHaveLength(5);
    vi.advanceTimersByTime(1);
    expect(requests().map((r) => r.mode).slice(4)).toEqual(['probe', 'full']);
  });

  it('never shows an answer overtaken by a newer one', async () => {
    await labReady();
    st().setMethod('task_arithmetic');
    expect(requests()).toHaveLength(2);
    asked('evaluate')[1]!.resolve(answer(requests()[1]!, 2.0));
    await flush();
    asked('evaluate')[0]!.resolve(answer(requests()[0]!, 2.9));
    await flush();
    expect(st().lmEval.shown).toMatchObject({ seq: 2, data: { method: 'task_arithmetic', answer: { tasks: [{ merged: { loss: 2.0 } }, { merged: { loss: 2.0 } }] } } });
  });

  it('clears the answer when the models or texts change, and never shows one about the replaced ones', async () => {
    await labReady();
    asked('evaluate')[0]!.resolve(answer(requests()[0]!, 2.5));
    await flush();
    expect(st().lmEval.shown).toBeDefined();
    // Another answer on its way, then the models are dropped again (the same names, other weights).
    st().setMethod('task_arithmetic');
    useLabStore.setState({ dropped: st().dropped.map((m) => ({ ...m })) });
    expect(st().lmEval.shown).toBeUndefined();
    // The new base is described again before anything is asked about it.
    expect(asked('describeLab')).toHaveLength(2);
    asked('evaluate')[1]!.resolve(answer(requests()[1]!, 1.0));
    await flush();
    expect(st().lmEval.shown).toBeUndefined();
    asked('describeLab')[1]!.resolve(SUMMARY);
    await flush();
    expect(requests()).toHaveLength(3);
    asked('evaluate')[2]!.resolve(answer(requests()[2]!, 2.2));
    await flush();
    expect(st().lmEval.shown?.data.answer.tasks[0]!.merged.loss).toBe(2.2);
    // A text removed: the answer about both goes; the next is about the one left.
    st().removeText('other.md');
    expect(st().lmEval.shown).toBeUndefined();
    expect(requests().at(-1)!.tasks.map((t) => t.name)).toEqual(['a.txt']);
  });

  it('an error replaces the answer; a cancelled request says nothing; cancel keeps the answer shown', async () => {
    await labReady();
    asked('evaluate')[0]!.resolve(answer(requests()[0]!, 2.5));
    await flush();
    st().setMethod('task_arithmetic');
    st().setMethod('dare_ties');
    // Overtaken by the newer request: nothing said, nothing asked.
    asked('evaluate')[1]!.reject(new MergeLabError('CANCELLED', 'Superseded.'));
    await flush();
    expect(st().lmEval.status).toBe('computing');
    expect(requests()).toHaveLength(3);
    // Still the newest, not stopped by the user: the engine dropped it (a model closed after it was sent). Asked again.
    asked('evaluate')[2]!.reject(new MergeLabError('CANCELLED', 'Superseded.'));
    await flush();
    expect(requests()).toHaveLength(4);
    expect(requests()[3]!.recipe).toMatchObject({ mergeMethod: 'dare_ties' });
    st().setMethod('linear');
    asked('evaluate')[4]!.reject(new MergeLabError('SHAPE_MISMATCH', 'The merged model’s tensor "x" …'));
    await flush();
    expect(st().lmEval).toMatchObject({ status: 'error', error: { code: 'SHAPE_MISMATCH' } });
    expect(st().lmEval.shown).toBeUndefined();

    st().setMethod('ties');
    asked('evaluate')[5]!.resolve(answer(requests()[5]!, 2.4));
    await flush();
    st().setMethod('task_arithmetic');
    st().cancelLmEval();
    await flush();
    expect(asked('cancelEvaluate')).toHaveLength(1);
    expect(st().lmEval).toMatchObject({ status: 'cancelled', shown: { data: { method: 'ties' } } });
    // Asked again on request.
    st().evaluateLm();
    expect(requests().at(-1)!.recipe).toMatchObject({ mergeMethod: 'task_arithmetic' });
  });

  it('sends a request again when its worker died under it, twice at most, then says so', async () => {
    await labReady();
    for (let i = 0; i < 3; i++) {
      asked('evaluate').at(-1)!.reject(new EngineGoneError('The engine stopped: its worker stopped.'));
      await flush();
    }
    expect(requests()).toHaveLength(3);
    expect(requests().every((r) => r.mode === 'full')).toBe(true);
    expect(st().lmEval.status).toBe('error');
  });
});
