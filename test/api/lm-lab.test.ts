/**
 * The lm-lab service (the language-model lab over one's own checkpoints): a tiny Llama from
 * transformers (test/fixtures/lm/llama-tied) as the base and two experts made from it here. The
 * base scores transformers' loss of the sample text; the merge scores what the lm service gives
 * for the same recipe merged to a file; the normalized gain is the formula's (0 at λ 0, 1 when
 * the merge is the expert); a probe is the full scoring's first windows; base and experts are
 * scored once per text and again only when the models or texts change; latest wins; no tensor is
 * left after any request, cancelled ones included.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import * as Comlink from 'comlink';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import type { EngineApi, LmLabProgress, LmLabRequest, ModelFile } from '../../src/engine/api/engine-api.js';
import { createEngine } from '../../src/engine/api/engine.js';
import { labContext, labProbeTokens, normalizedGain } from '../../src/engine/api/services/lm-lab.js';
import { readLmConfig } from '../../src/engine/lm/config.js';
import { isMergeLabError } from '../../src/engine/errors.js';
import { openCheckpointPath } from '../../src/engine/io/node-checkpoint.js';
import { serializeSafetensors } from '../../src/engine/io/safetensors-writer.js';
import { createRandom } from '../../src/engine/random.js';
import type { Recipe } from '../../src/engine/recipe/types.js';
import { engineOverComlink } from '../helpers/comlink-engine.js';
import { expectation, LM_FIXTURES, SAMPLE_TEXT } from '../lm/fixtures.js';

const BASE_DIR = path.join(LM_FIXTURES, 'llama-tied');

async function baseFiles(): Promise<ModelFile[]> {
  const names = await readdir(BASE_DIR);
  return Promise.all(names.map(async (f) => ({ path: `base/${f}`, blob: new Blob([await readFile(path.join(BASE_DIR, f))]) })));
}

const made = new Map<string, Promise<ModelFile[]>>();
/** The base's folder with its weights moved by seeded noise of size `scale` (an expert fine-tuned from it, as far as merging can tell). */
function expertFiles(name: string, seed: number, scale: number): Promise<ModelFile[]> {
  const key = `${name} ${seed} ${scale}`;
  let files = made.get(key);
  if (!files) made.set(key, (files = makeExpert(name, seed, scale)));
  return files;
}

async function makeExpert(name: string, seed: number, scale: number): Promise<ModelFile[]> {
  const checkpoint = await openCheckpointPath(BASE_DIR);
  const random = createRandom(seed);
  const tensors = [];
  try {
    for (const t of checkpoint.tensorNames) {
      const values = Float32Array.from(await checkpoint.readFloat32(t), (v) => v + scale * (2 * random() - 1));
      tensors.push({ name: t, dtype: 'F32' as const, shape: [...checkpoint.info(t)!.shape], data: values });
    }
  } finally {
    await checkpoint.close();
  }
  const files = (await baseFiles()).filter((f) => !f.path.endsWith('.safetensors')).map((f) => ({ ...f, path: f.path.replace(/^base\//, `${name}/`) }));
  return [...files, { path: `${name}/model.safetensors`, blob: new Blob([serializeSafetensors(tensors) as Uint8Array<ArrayBuffer>]) }];
}

let sample: string;
const OTHER = 'Task vectors add; signs conflict. Merging keeps what agrees and trims the rest — the lab shows which.';
beforeAll(async () => void (sample = await readFile(SAMPLE_TEXT, 'utf8')));

async function openedEngine(): Promise<EngineApi> {
  const engine = createEngine();
  await engine.system.setBackend('cpu');
  await engine.models.openModel('base', await baseFiles());
  await engine.models.openModel('a', await expertFiles('a', 1, 0.05));
  await engine.models.openModel('b', await expertFiles('b', 2, 0.05));
  return engine;
}

const ties = (lambda = 1, density = 0.5): Recipe => ({ mergeMethod: 'ties', baseModel: 'base', models: [{ model: 'a', parameters: { weight: 1, density } }, { model: 'b', parameters: { weight: 1, density } }], parameters: { lambda } });
const request = (recipe: Recipe, mode: LmLabRequest['mode'] = 'full', tasks: LmLabRequest['tasks'] = [{ name: 'sample.txt', text: sample, expert: 'a' }, { name: 'other.txt', text: OTHER, expert: 'b' }]): LmLabRequest => ({
  recipe,
  base: 'base',
  experts: ['a', 'b'],
  tasks,
  mode,
  context: 16,
});

const code = (s: PromiseSettledResult<unknown>) => (s.status === 'rejected' ? (isMergeLabError(s.reason) ? s.reason.code : String(s.reason)) : 'fulfilled');

describe('lm-lab service', () => {
  it('describes the base from its config.json and tokenizer, and refuses a folder that is not a language model, naming the file', async () => {
    const engine = await openedEngine();
    expect(await engine.lmLab.describeLab('base')).toEqual({ base: 'base', modelType: 'llama', parameters: 32 * 320 + 2 * (32 + 4 * 8 * 32 + 2 * 2 * 8 * 32 + 32 * 32 + 3 * 32 * 48 + 32) + 32, vocabSize: 320, layers: 2, hiddenSize: 32, maxPositions: 128, tokenizer: 'base/tokenizer.json', context: 128, probeTokens: 256 });
    // The model's context, at most 512; a probe two windows of it, at most 256 tokens.
    const json = JSON.parse(await readFile(path.join(BASE_DIR, 'config.json'), 'utf8')) as Record<string, unknown>;
    const positions = (n: number) => readLmConfig({ ...json, max_position_embeddings: n }, 'config.json');
    expect([labContext(positions(2048)), labContext(positions(100))]).toEqual([512, 100]);
    expect([labProbeTokens(512), labProbeTokens(100), labProbeTokens(16)]).toEqual([256, 200, 32]);
    await engine.models.openModel('no-config', (await baseFiles()).filter((f) => !f.path.endsWith('config.json')));
    await expect(engine.lmLab.describeLab('no-config')).rejects.toMatchObject({ code: 'LM_CONFIG_INVALID', message: expect.stringContaining('config.json') as unknown });
    await expect(engine.lmLab.describeLab('nothing')).rejects.toMatchObject({ code: 'PATH_NOT_FOUND', message: expect.stringContaining('"nothing"') as unknown });
  });

  it("scores the base to transformers' loss, each expert and the merge to what the lm service gives for the same models and recipe", async () => {
    const engine = await openedEngine();
    const answer = await engine.lmLab.evaluate(request(ties()));
    const exp = (await expectation('llama-tied')).text!;
    const [first, second] = answer.tasks;
    expect(answer).toMatchObject({ mode: 'full', context: 16, base: 'base', experts: ['a', 'b'], tokenizer: 'base/tokenizer.json' });
    expect(first).toMatchObject({ name: 'sample.txt', expert: 'a', tokens: exp.tokens, textTokens: exp.tokens, bytes: exp.bytes });
    expect(Math.abs(first!.base.nll - exp.nll) / exp.nll).toBeLessThan(1e-5);
    expect(first!.base.loss).toBeCloseTo(exp.nll / exp.tokens, 5);
    expect(first!.base.bitsPerByte!).toBeCloseTo(exp.nll / Math.LN2 / exp.bytes, 5);
    expect(first!.base.perplexity / Math.exp(exp.nll / exp.tokens)).toBeCloseTo(1, 5);

    // The lm service on the same experts, and on the merge written to a file by the merges service.
    const merged = await engine.merges.merge('m', ties());
    const configFiles = (await baseFiles()).filter((f) => !f.path.endsWith('.safetensors'));
    await engine.lm.openLm('merged', { files: [...configFiles, { path: 'base/model.safetensors', blob: new Blob([merged.bytes as Uint8Array<ArrayBuffer>]) }] });
    await engine.lm.openLm('a', { files: await expertFiles('a', 1, 0.05) });
    const texts = [{ name: 'sample.txt', text: sample }, { name: 'other.txt', text: OTHER }];
    const viaLm = await engine.lm.scoreTexts('merged', texts, { context: 16 });
    const aViaLm = await engine.lm.scoreTexts('a', texts, { context: 16 });
    for (const [i, t] of answer.tasks.entries()) {
      expect(t.merged.nll, t.name).toBeCloseTo(viaLm[i]!.nll, 4);
      expect(t.merged.bitsPerByte!, t.name).toBeCloseTo(viaLm[i]!.bitsPerByte, 6);
      expect(t.experts[0]!.nll, t.name).toBeCloseTo(aViaLm[i]!.nll, 4);
    }
    // The merge is neither the base nor an expert.
    expect(Math.abs(first!.merged.nll - first!.base.nll)).toBeGreaterThan(1e-3);
    expect(second!.gain).toBeCloseTo((second!.base.loss - second!.merged.loss) / (second!.base.loss - second!.experts[1]!.loss), 10);
    await engine.lm.closeLm('merged');
    await engine.lm.closeLm('a');
  });

  it('gives the normalized gain: 0 when the merge is the base (λ 0), 1 when it is the task’s expert, null without an expert; the mean counts tasks whose expert beats the base', async () => {
    expect(normalizedGain(3, 2.5, 2)).toBeCloseTo(0.5, 12);
    expect(normalizedGain(3, 3.5, 2)).toBeCloseTo(-0.5, 12);
    expect(normalizedGain(3, 2.5, 3)).toBeNull();
    const engine = await openedEngine();
    const onlyA = (lambda: number): Recipe => ({ mergeMethod: 'task_arithmetic', baseModel: 'base', models: [{ model: 'a', parameters: { weight: 1 } }], parameters: { lambda } });
    const tasks = [{ name: 'sample.txt', text: sample, expert: 'a' }, { name: 'other.txt', text: OTHER }];
    const atZero = await engine.lmLab.evaluate({ ...request(onlyA(0)), tasks });
    expect(atZero.tasks[0]!.gain).toBeCloseTo(0, 5);
    expect(atZero.tasks[0]!.merged.nll).toBeCloseTo(atZero.tasks[0]!.base.nll, 4);
    expect(atZero.tasks[1]!.gain).toBeNull();
    const atOne = await engine.lmLab.evaluate({ ...request(onlyA(1)), tasks });
    expect(atOne.tasks[0]!.gain).toBeCloseTo(1, 4);
    // Noise made expert a worse than the base on its text: its gain (a ratio of two losses' falls)
    // means nothing there, and the mean leaves it out.
    expect(atOne.tasks[0]!.experts[0]!.loss).toBeGreaterThan(atOne.tasks[0]!.base.loss);
    expect(atOne.meanGain).toBeNull();
    // The other way round (the noisy model as the base, the clean one its expert), the expert wins and counts.
    const back: Recipe = { mergeMethod: 'task_arithmetic', baseModel: 'a', models: [{ model: 'base', parameters: { weight: 1 } }], parameters: { lambda: 1 } };
    const swapped = await engine.lmLab.evaluate({ recipe: back, base: 'a', experts: ['base'], tasks: [{ name: 'sample.txt', text: sample, expert: 'base' }], mode: 'full', context: 16 });
    expect(swapped.tasks[0]!.experts[0]!.loss).toBeLessThan(swapped.tasks[0]!.base.loss);
    expect(swapped.tasks[0]!.gain).toBeCloseTo(1, 4);
    expect(swapped.meanGain).toBeCloseTo(swapped.tasks[0]!.gain!, 12);
  });

  it('a probe scores the first predictions of each text, exactly the full scoring’s, without bits per byte', async () => {
    const engine = await openedEngine();
    // Two windows of 16 (the default at this context), and 20 predictions: a window and a part of the next.
    const probe = await engine.lmLab.evaluate(request(ties(), 'probe'));
    const twenty = await engine.lmLab.evaluate({ ...request(ties(), 'probe'), probeTokens: 20 });
    const full = await engine.lmLab.evaluate(request(ties()));
    expect(probe).toMatchObject({ mode: 'probe', probeTokens: 32 });
    for (const [i, t] of probe.tasks.entries()) {
      const f = full.tasks[i]!;
      expect(t.tokens).toBe(Math.min(32, f.tokens));
      expect(t.textTokens).toBe(f.tokens);
      expect(t.merged.bitsPerByte).toBeNull();
      expect(t.base.bitsPerByte).toBeNull();
      expect(t.merged.tokens).toBe(t.tokens);
    }
    expect(probe.tasks[0]!.tokens).toBe(32);
    expect(twenty.tasks[0]!.tokens).toBe(20);
    // The full scoring's per-token losses, from the lm service on the same merge written to a file.
    const merged = await engine.merges.merge('m', ties());
    const configFiles = (await baseFiles()).filter((f) => !f.path.endsWith('.safetensors'));
    await engine.lm.openLm('merged', { files: [...configFiles, { path: 'base/model.safetensors', blob: new Blob([merged.bytes as Uint8Array<ArrayBuffer>]) }] });
    await engine.lm.openLm('base', { files: await baseFiles() });
    const sum = (a: Float32Array, n: number) => a.subarray(0, n).reduce((x, y) => x + y, 0);
    const [m] = await engine.lm.scoreTexts('merged', [{ name: 's', text: sample }], { context: 16, perToken: true });
    const [b] = await engine.lm.scoreTexts('base', [{ name: 's', text: sample }], { context: 16, perToken: true });
    expect(probe.tasks[0]!.merged.nll).toBeCloseTo(m!.windows[0]!.nll + m!.windows[1]!.nll, 4);
    expect(twenty.tasks[0]!.merged.nll).toBeCloseTo(sum(m!.perToken!, 20), 4);
    // The base's probe after its full score was kept: cut from it.
    const again = await engine.lmLab.evaluate({ ...request(ties(0.7), 'probe'), probeTokens: 20 });
    expect(again.tasks[0]!.base.nll).toBeCloseTo(sum(b!.perToken!, 20), 4);
    expect(again.tasks[0]!.base.tokens).toBe(20);
    await engine.lm.closeLm('merged');
    await engine.lm.closeLm('base');
  });

  it('scores base and experts once per text: a new recipe scores only the merge; a new text its own; a model opened again its own (the base: all), another model opened nothing', async () => {
    const engine = await openedEngine();
    const stages = async (r: LmLabRequest) => {
      const seen: LmLabProgress[] = [];
      const answer = await engine.lmLab.evaluate(r, (p) => void seen.push(p));
      return { answer, references: seen.filter((p) => p.stage === 'references').length, total: seen.at(-1)!.tokens, last: seen.at(-1)! };
    };
    const first = await stages(request(ties()));
    const tokens = first.answer.tasks.reduce((n, t) => n + t.tokens, 0);
    // Base and two experts on both texts, then the merge.
    expect(first.total).toBe(4 * tokens);
    expect(first.references).toBeGreaterThan(0);
    expect(first.last).toMatchObject({ stage: 'merged', tokensDone: 4 * tokens });

    const again = await stages(request(ties(0.5, 0.3)));
    expect(again.references).toBe(0);
    expect(again.total).toBe(tokens);
    expect(again.answer.tasks[0]!.base).toEqual(first.answer.tasks[0]!.base);
    // A probe after the full texts: cut from the full scores, nothing scored again for them.
    expect((await stages(request(ties(0.5, 0.3), 'probe'))).references).toBe(0);

    // A third text: only its references are scored.
    const third = { name: 'third.txt', text: 'A third task, short.' };
    const withThird = await stages(request(ties(), 'full', [{ name: 'sample.txt', text: sample, expert: 'a' }, { name: 'other.txt', text: OTHER, expert: 'b' }, third]));
    const thirdTokens = withThird.answer.tasks[2]!.tokens;
    expect(withThird.total).toBe(3 * thirdTokens + tokens + thirdTokens);

    // The expert opened again under its id (other weights): its scores again, the base's and b's kept.
    await engine.models.openModel('a', await expertFiles('a', 3, 0.05));
    const reopened = await stages(request(ties()));
    expect(reopened.total).toBe(2 * tokens);
    expect(reopened.answer.tasks[0]!.experts[0]!.nll).not.toBeCloseTo(first.answer.tasks[0]!.experts[0]!.nll, 3);
    expect(reopened.answer.tasks[0]!.base.nll).toBeCloseTo(first.answer.tasks[0]!.base.nll, 6);
    // A model the request does not name, opened beside them: nothing scored again.
    await engine.models.openModel('unrelated', await expertFiles('u', 4, 0.05));
    expect((await stages(request(ties(0.9)))).total).toBe(tokens);
    // The base opened again: every score read its tokens, so all of them again.
    await engine.models.openModel('base', await baseFiles());
    expect((await stages(request(ties()))).total).toBe(4 * tokens);
  });

  it('scores a task given as windows each from position 0: the sums of the windows scored as texts of their own; a probe is their first predictions in order', async () => {
    const engine = await openedEngine();
    const pieces = [sample.slice(0, 40), OTHER.slice(10, 60), sample.slice(100, 130)];
    const text = pieces.join('');
    const windows = pieces.map((_p, i) => [pieces.slice(0, i).join('').length, pieces.slice(0, i + 1).join('').length] as const);
    const alone = await engine.lmLab.evaluate(request(ties(), 'full', pieces.map((p, i) => ({ name: `w${i}`, text: p, expert: 'a' }))));
    const joined = await engine.lmLab.evaluate(request(ties(), 'full', [{ name: 'windows', text, windows, expert: 'a' }]));
    const t = joined.tasks[0]!;
    const sum = (f: (x: (typeof alone.tasks)[number]) => number) => alone.tasks.reduce((n, x) => n + f(x), 0);
    expect(t.tokens).toBe(sum((x) => x.tokens));
    expect(t.bytes).toBe(sum((x) => x.bytes));
    for (const [name, get] of [['base', (x: (typeof alone.tasks)[number]) => x.base], ['a', (x: (typeof alone.tasks)[number]) => x.experts[0]!], ['merged', (x: (typeof alone.tasks)[number]) => x.merged]] as const) {
      const nll = sum((x) => get(x).nll);
      expect(get(t).nll, name).toBeCloseTo(nll, 4);
      expect(get(t).bitsPerByte!, name).toBeCloseTo(nll / Math.LN2 / t.bytes, 6);
    }
    // Scored whole, the same text reads the windows' joins too: other numbers.
    const whole = await engine.lmLab.evaluate(request(ties(), 'full', [{ name: 'whole', text, expert: 'a' }]));
    expect(Math.abs(whole.tasks[0]!.base.nll - t.base.nll)).toBeGreaterThan(1e-3);
    // A probe past the first window: all of it and the start of the second.
    const first = alone.tasks[0]!.tokens;
    const probe = await engine.lmLab.evaluate({ ...request(ties(), 'probe', [{ name: 'windows', text, windows, expert: 'a' }]), probeTokens: first + 5 });
    expect(probe.tasks[0]!.tokens).toBe(first + 5);
    const part = await engine.lmLab.evaluate({ ...request(ties(), 'probe', [{ name: 'w1', text: pieces[1]!, expert: 'a' }]), probeTokens: 5 });
    expect(probe.tasks[0]!.merged.nll).toBeCloseTo(alone.tasks[0]!.merged.nll + part.tasks[0]!.merged.nll, 4);
  });

  it('sweeps: each point the probe of the merge at that recipe, beside evaluate without cancelling it; a newer sweep, or cancelSweep, cancels the older', async () => {
    const engine = await openedEngine();
    const { recipe: _r, mode: _m, ...rest } = request(ties());
    const points = [0.2, 0.6, 1].map((value) => ({ value, recipe: ties(value) }));
    const progress: number[] = [];
    const [swept, evaluated] = await Promise.all([engine.lmLab.sweep({ ...rest, points }, (p) => void progress.push(p.done)), engine.lmLab.evaluate(request(ties(0.6), 'probe'))]);
    expect(progress).toEqual([1, 2, 3]);
    expect(swept.map((p) => p.value)).toEqual([0.2, 0.6, 1]);
    // The point at λ 0.6 is the slider's probe at λ 0.6.
    const mid = swept[1]!;
    expect(mid.tasks.map((t) => t.name)).toEqual(['sample.txt', 'other.txt']);
    evaluated.tasks.forEach((t, i) => {
      expect(mid.tasks[i]!.loss).toBeCloseTo(t.merged.loss, 5);
      expect(mid.tasks[i]!.gain!).toBeCloseTo(t.gain!, 5);
    });
    expect(mid.loss).toBeCloseTo((evaluated.tasks[0]!.merged.loss + evaluated.tasks[1]!.merged.loss) / 2, 5);
    expect(mid.meanGain).toEqual(evaluated.meanGain);
    expect(swept[0]!.loss).not.toBeCloseTo(swept[2]!.loss, 3);
    const before = tf.memory().numTensors;
    const settled = await Promise.allSettled([engine.lmLab.sweep({ ...rest, points }), engine.lmLab.sweep({ ...rest, points: points.slice(0, 1) })]);
    expect(settled.map(code)).toEqual(['CANCELLED', 'fulfilled']);
    // cancelSweep stops the one running (the sliders moved on).
    const running = engine.lmLab.sweep({ ...rest, points });
    await engine.lmLab.cancelSweep();
    await expect(running).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(tf.memory().numTensors).toBe(before);
  });

  it("a sweep gives way to the sliders: a probe asked while it runs is answered before the sweep's next point, and the sweep then goes on", async () => {
    const engine = await openedEngine();
    const { recipe: _r, mode: _m, ...rest } = request(ties());
    const points = [0.2, 0.4, 0.6, 0.8, 1].map((value) => ({ value, recipe: ties(value) }));
    let done = 0;
    let asked!: (sweptWhenAnswered: Promise<number>) => void;
    const probe = new Promise<number>((resolve) => (asked = resolve));
    const swept = engine.lmLab.sweep({ ...rest, points }, (p) => {
      done = p.done;
      // The slider moves after the sweep's first point: its probe must not wait for the other four.
      if (done === 1) asked(engine.lmLab.evaluate(request(ties(0.7), 'probe')).then(() => done));
    });
    expect(await probe).toBe(1);
    expect((await swept).map((p) => p.value)).toEqual([0.2, 0.4, 0.6, 0.8, 1]);
  });

  it('is latest-wins, cancelEvaluate stops one, and no tensor is left after any request', async () => {
    const engine = await openedEngine();
    // The first request opens nothing lasting: count from before it.
    const before = tf.memory().numTensors;
    const settled = await Promise.allSettled([engine.lmLab.evaluate(request(ties(1))), engine.lmLab.evaluate(request(ties(0.9))), engine.lmLab.evaluate(request(ties(0.8)))]);
    expect(settled.map(code)).toEqual(['CANCELLED', 'CANCELLED', 'fulfilled']);
    expect(tf.memory().numTensors).toBe(before);
    const running = engine.lmLab.evaluate(request(ties(0.7)), () => void engine.lmLab.cancelEvaluate());
    await expect(running).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(tf.memory().numTensors).toBe(before);
    for (const lambda of [0.6, 0.5, 0.4]) await engine.lmLab.evaluate(request(ties(lambda), lambda === 0.5 ? 'probe' : 'full'));
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses what it cannot evaluate, every problem at once, naming the model or text', async () => {
    const engine = await openedEngine();
    await expect(engine.lmLab.evaluate({ ...request(ties()), tasks: [] })).rejects.toMatchObject({ code: 'PARAMETER_INVALID', message: expect.stringContaining('text file') as unknown });
    const bad = engine.lmLab.evaluate({ ...request(ties()), experts: ['a', 'gone'], tasks: [{ name: 'empty.txt', text: '' }, { name: 'x.txt', text: 'x', expert: 'c' }] });
    await expect(bad).rejects.toMatchObject({ code: 'RECIPE_PROBLEMS' });
    const message = await bad.catch((e: Error) => e.message);
    for (const part of ['"gone"', 'empty.txt', '"c"']) expect(message).toContain(part);
    await expect(engine.lmLab.evaluate({ ...request(ties()), tasks: [{ name: 'one.txt', text: 'a' }] })).rejects.toMatchObject({ code: 'PARAMETER_INVALID', message: expect.stringContaining('one.txt is 1 token long') as unknown });
    await expect(engine.lmLab.evaluate({ ...request(ties()), context: 1000 })).rejects.toMatchObject({ code: 'PARAMETER_OUT_OF_RANGE', message: expect.stringContaining('128') as unknown });
  });

  it('works over comlink, progress proxied', async () => {
    const remote = engineOverComlink();
    await remote.system.setBackend('cpu');
    await remote.models.openModel('base', await baseFiles());
    await remote.models.openModel('a', await expertFiles('a', 1, 0.05));
    await remote.models.openModel('b', await expertFiles('b', 2, 0.05));
    const seen: LmLabProgress[] = [];
    const answer = await remote.lmLab.evaluate(request(ties(), 'probe'), Comlink.proxy((p: LmLabProgress) => void seen.push(p)));
    expect(answer.tasks.map((t) => t.name)).toEqual(['sample.txt', 'other.txt']);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(seen.map((p) => p.stage)).toEqual(expect.arrayContaining(['references', 'merge', 'merged']));
  });
});
