/**
 * The lm service in process and over comlink, as the lab's worker will use it: a model opened
 * from its folder's files or from what models.openModel holds, texts scored to transformers'
 * numbers, latest-wins per model (models side by side do not cancel each other), cancel, progress
 * across the boundary, and the weights let go on close.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import * as Comlink from 'comlink';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import type { LmProgress, ModelFile } from '../../src/engine/api/engine-api.js';
import { createEngine } from '../../src/engine/api/engine.js';
import { isMergeLabError } from '../../src/engine/errors.js';
import { engineOverComlink } from '../helpers/comlink-engine.js';
import { expectation, LM_FIXTURES, SAMPLE_TEXT } from '../lm/fixtures.js';

async function folderFiles(name: string, except: readonly string[] = []): Promise<ModelFile[]> {
  const dir = path.join(LM_FIXTURES, name);
  const names = (await readdir(dir)).filter((f) => !except.includes(f));
  return Promise.all(names.map(async (f) => ({ path: `${name}/${f}`, blob: new Blob([await readFile(path.join(dir, f))]) })));
}

const code = (s: PromiseSettledResult<unknown>) => (s.status === 'rejected' ? (isMergeLabError(s.reason) ? s.reason.code : String(s.reason)) : 'fulfilled');

describe('lm service', () => {
  it("opens a dropped folder and scores texts to transformers' loss; closing lets every tensor go", async () => {
    const engine = createEngine();
    await engine.system.setBackend('cpu');
    const before = tf.memory().numTensors;
    const summary = await engine.lm.openLm('tied', { files: await folderFiles('llama-tied') });
    expect(summary).toMatchObject({ id: 'tied', modelType: 'llama', vocabSize: 320, layers: 2, tokenizer: 'llama-tied/tokenizer.json', defaultContext: 128 });
    const exp = (await expectation('llama-tied')).text!;
    const text = await readFile(SAMPLE_TEXT, 'utf8');
    const [score] = await engine.lm.scoreTexts('tied', [{ name: 'sample', text }], { context: exp.context });
    expect(score).toMatchObject({ name: 'sample', tokens: exp.tokens, bytes: exp.bytes, context: exp.context });
    expect(Math.abs(score!.nll - exp.nll) / exp.nll).toBeLessThan(1e-5);
    expect(score!.windows).toHaveLength(exp.windows.length);
    await engine.lm.closeLm('tied');
    expect(tf.memory().numTensors).toBe(before);
    await expect(engine.lm.scoreTexts('tied', [{ name: 's', text }])).rejects.toMatchObject({ code: 'PARAMETER_INVALID' });
  });

  it('opens what models.openModel holds under the id; bytes when asked; refusals name the file', async () => {
    const engine = createEngine();
    await engine.system.setBackend('cpu');
    await engine.models.openModel('bytes', await folderFiles('llama-bytes'));
    expect(await engine.lm.openLm('bytes')).toMatchObject({ tokenizer: 'bytes', modelType: 'llama' });
    expect(await engine.lm.openLm('tied', { files: await folderFiles('llama-tied'), tokenizer: 'bytes' })).toMatchObject({ tokenizer: 'bytes' });
    await expect(engine.lm.openLm('nothing')).rejects.toMatchObject({ code: 'PARAMETER_INVALID' });
    await expect(engine.lm.openLm('m', { files: await folderFiles('mistral') })).rejects.toMatchObject({ code: 'TOKENIZER_INVALID', message: expect.stringContaining('mistral') as unknown });
    await expect(engine.lm.openLm('c', { files: await folderFiles('llama-bytes', ['config.json']) })).rejects.toMatchObject({ code: 'LM_CONFIG_INVALID', message: expect.stringContaining('config.json') as unknown });
    await engine.lm.closeLm('bytes');
    await engine.lm.closeLm('tied');
  });

  it('is latest-wins per model, models side by side both finish, and cancelScore stops one', async () => {
    const engine = createEngine();
    await engine.system.setBackend('cpu');
    await engine.lm.openLm('a', { files: await folderFiles('llama-bytes') });
    await engine.lm.openLm('b', { files: await folderFiles('llama-bytes') });
    const text = [{ name: 't', text: await readFile(SAMPLE_TEXT, 'utf8') }];
    const options = { context: 16 };
    const settled = await Promise.allSettled([engine.lm.scoreTexts('a', text, options), engine.lm.scoreTexts('a', text, options), engine.lm.scoreTexts('b', text, options)]);
    expect(settled.map(code)).toEqual(['CANCELLED', 'fulfilled', 'fulfilled']);
    const running = engine.lm.scoreTexts('a', text, options, () => void engine.lm.cancelScore('a'));
    await expect(running).rejects.toMatchObject({ code: 'CANCELLED' });
    // The lane takes new work after a cancel.
    expect((await engine.lm.scoreTexts('a', text, options))[0]!.tokens).toBeGreaterThan(0);
    await engine.lm.closeLm('a');
    await engine.lm.closeLm('b');
  });

  it('works over comlink, progress proxied', async () => {
    const remote = engineOverComlink();
    await remote.system.setBackend('cpu');
    await remote.lm.openLm('bytes', { files: await folderFiles('llama-bytes') });
    const seen: LmProgress[] = [];
    const texts = [{ name: 'one', text: 'First text, short.' }, { name: 'two', text: await readFile(SAMPLE_TEXT, 'utf8') }];
    const scores = await remote.lm.scoreTexts('bytes', texts, { context: 24 }, Comlink.proxy((p: LmProgress) => void seen.push(p)));
    expect(scores.map((s) => s.name)).toEqual(['one', 'two']);
    expect(scores[1]!.nll).toBeCloseTo((await expectation('llama-bytes')).text!.nll, 3);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(seen.at(-1)).toMatchObject({ text: 1, texts: 2, tokensDone: scores[1]!.tokens });
    await remote.lm.closeLm('bytes');
  });
});
