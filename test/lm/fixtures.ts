/** The transformers-made fixtures of test/fixtures/lm (scripts/lm-reference-fixtures.py) and how tests open them. */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as tf from '@tensorflow/tfjs-core';
import { openCheckpointPath } from '../../src/engine/io/node-checkpoint.js';
import { readLmConfig, type LmConfig } from '../../src/engine/lm/config.js';
import { loadLmWeights } from '../../src/engine/lm/load.js';

export const LM_FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/lm');
export const SAMPLE_TEXT = path.join(LM_FIXTURES, 'texts/sample.txt');

export interface ModelExpectation {
  readonly tokens: number[][];
  readonly logitPositions: number[];
  /** [batch][position index][vocab] */
  readonly logits: number[][][];
  /** [batch][position]: −log p(token t+1 | tokens ≤ t). */
  readonly nll: number[][];
  readonly text?: { context: number; tokens: number; nll: number; bytes: number; windows: { tokens: number; nll: number }[] };
}

export interface Expected {
  readonly [model: string]: unknown;
  readonly tokenizer: { model: string; strings: { text: string; ids: number[] }[] };
}

export const MODELS = ['llama-tied', 'llama-untied', 'mistral', 'qwen2', 'gpt2', 'llama-bytes', 'llama-tied-bf16'] as const;
export type FixtureModel = (typeof MODELS)[number];

let cached: Expected | undefined;
export async function expected(): Promise<Expected> {
  cached ??= JSON.parse(await readFile(path.join(LM_FIXTURES, 'expected.json'), 'utf8')) as Expected;
  return cached;
}

export async function expectation(model: FixtureModel): Promise<ModelExpectation> {
  return (await expected())[model] as ModelExpectation;
}

export async function fixtureConfig(model: FixtureModel): Promise<LmConfig> {
  const file = path.join(LM_FIXTURES, model, 'config.json');
  return readLmConfig(JSON.parse(await readFile(file, 'utf8')), file);
}

export async function fixtureWeights(model: FixtureModel): Promise<{ config: LmConfig; weights: Map<string, tf.Tensor> }> {
  const config = await fixtureConfig(model);
  const checkpoint = await openCheckpointPath(path.join(LM_FIXTURES, model));
  try {
    return { config, weights: await loadLmWeights(config, checkpoint) };
  } finally {
    await checkpoint.close();
  }
}
