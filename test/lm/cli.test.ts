/**
 * `merge-lab eval` on the transformers-made fixtures: the losses transformers gives for the sample
 * text (scripts/lm-reference-fixtures.py), the human table, several files, and a catalogue of
 * failures, each one clean line naming the file, tensor or setting.
 */
import { copyFile, readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EvalOutput } from '../../src/cli/commands/eval.js';
import type { ErrorCode } from '../../src/engine/errors.js';
import { writeSafetensorsToMemory } from '../../src/engine/io/index.js';
import { openCheckpointPath } from '../../src/engine/io/node-checkpoint.js';
import { failureProblems, runCliAsync, Workspace } from '../cli/helpers.js';
import { expectation, LM_FIXTURES, SAMPLE_TEXT } from './fixtures.js';

let ws: Workspace;
const model = (name: string) => path.join(LM_FIXTURES, name);

/** A copy of fixture `name` in the workspace, its config.json changed by `edit` (or left out when edit returns undefined). */
async function variant(name: string, as: string, edit: (config: Record<string, unknown>) => Record<string, unknown> | undefined): Promise<string> {
  const dir = await ws.dir(as);
  for (const f of await readdir(model(name))) if (f !== 'config.json') await copyFile(path.join(model(name), f), path.join(dir, f));
  const config = edit(JSON.parse(await readFile(path.join(model(name), 'config.json'), 'utf8')) as Record<string, unknown>);
  if (config) await ws.file(path.join(as, 'config.json'), JSON.stringify(config));
  return dir;
}

beforeAll(async () => {
  ws = await Workspace.create('merge-lab-eval-');
});
afterAll(async () => {
  await ws.dispose();
  // The CLI starts the backend it is asked for; the rest of the unit files run on cpu.
  await tf.setBackend('cpu');
});

describe('merge-lab eval', () => {
  it("prints transformers' loss for the sample text (--json, wasm)", async () => {
    const exp = (await expectation('llama-tied')).text!;
    const r = await runCliAsync(['eval', model('llama-tied'), '--text', SAMPLE_TEXT, '--context', String(exp.context), '--json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as EvalOutput;
    expect(out).toMatchObject({ modelType: 'llama', context: exp.context, backend: 'wasm', tokenizer: expect.stringContaining('tokenizer.json') as unknown });
    const [t] = out.texts;
    expect(t).toMatchObject({ file: SAMPLE_TEXT, tokens: exp.tokens, bytes: exp.bytes, windows: exp.windows.length });
    expect(Math.abs(t!.nll - exp.nll) / exp.nll).toBeLessThan(1e-5);
    expect(t!.loss).toBeCloseTo(exp.nll / exp.tokens, 5);
    expect(t!.perplexity).toBeCloseTo(Math.exp(exp.nll / exp.tokens), 1);
    expect(t!.bitsPerByte).toBeCloseTo(exp.nll / Math.LN2 / exp.bytes, 5);
  });

  it('reads a byte model and prints a table, one row per text file', async () => {
    const exp = (await expectation('llama-bytes')).text!;
    const other = await ws.file('other.txt', 'Zwei Zeilen.\nDeux lignes.\n');
    const r = await runCliAsync(['eval', model('llama-bytes'), '--text', SAMPLE_TEXT, '--text', other, '--context', '24', '--backend', 'cpu']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toContain('llama, ');
    expect(lines[0]).toContain('tokenizer bytes; context 24; backend cpu');
    expect(lines[1]).toMatch(/^text\s+tokens\s+loss \(nats\/token\)\s+perplexity\s+bits\/byte$/);
    expect(lines).toHaveLength(4);
    expect(lines[2]).toContain(SAMPLE_TEXT);
    expect(lines[2]).toContain(` ${exp.tokens} `);
    expect(lines[2]).toContain((exp.nll / exp.tokens).toFixed(4));
    expect(lines[2]).toContain((exp.nll / Math.LN2 / exp.bytes).toFixed(4));
    expect(lines[3]).toContain(other);
  });

  it('--tokenizer bytes and a tokenizer folder are taken over the model folder', async () => {
    const bytes = await runCliAsync(['eval', model('llama-tied'), '--text', SAMPLE_TEXT, '--tokenizer', 'bytes', '--backend', 'cpu', '--json']);
    const byBytes = JSON.parse(bytes.stdout) as EvalOutput;
    expect(byBytes.texts[0]!.tokens).toBe(Buffer.byteLength(await readFile(SAMPLE_TEXT, 'utf8')) - 1);
    expect(byBytes.context).toBe(128); // max_position_embeddings, under the default's 2,048
    const dir = await variant('llama-tied', 'no-tokenizer', (c) => c);
    for (const f of ['tokenizer.json', 'tokenizer_config.json']) await (await import('node:fs/promises')).rm(path.join(dir, f));
    const folder = await runCliAsync(['eval', dir, '--text', SAMPLE_TEXT, '--tokenizer', model('llama-tied'), '--context', '16', '--backend', 'cpu', '--json']);
    expect((JSON.parse(folder.stdout) as EvalOutput).texts[0]!.tokens).toBe((await expectation('llama-tied')).text!.tokens);
  });

  it('reads a sharded checkpoint (model.safetensors.index.json) as the single file', async () => {
    const dir = await ws.dir('sharded');
    await copyFile(path.join(model('llama-bytes'), 'config.json'), path.join(dir, 'config.json'));
    const single = await openCheckpointPath(model('llama-bytes'));
    const names = [...single.tensorNames];
    const shards = [names.slice(0, 5), names.slice(5)];
    const weightMap: Record<string, string> = {};
    for (const [i, part] of shards.entries()) {
      const file = `model-0000${i + 1}-of-00002.safetensors`;
      const tensors = await Promise.all(part.map(async (name) => ({ name, dtype: 'F32' as const, shape: [...single.info(name)!.shape], data: await single.readFloat32(name) })));
      await ws.file(`sharded/${file}`, await writeSafetensorsToMemory(tensors));
      for (const name of part) weightMap[name] = file;
    }
    await single.close();
    await ws.file('sharded/model.safetensors.index.json', JSON.stringify({ metadata: {}, weight_map: weightMap }));
    const args = ['--text', SAMPLE_TEXT, '--context', '24', '--backend', 'cpu', '--json'];
    const a = JSON.parse((await runCliAsync(['eval', dir, ...args])).stdout) as EvalOutput;
    const b = JSON.parse((await runCliAsync(['eval', model('llama-bytes'), ...args])).stdout) as EvalOutput;
    expect(a.texts[0]!.nll).toBe(b.texts[0]!.nll);
    expect(a.parameters).toBe(b.parameters);
  });

  const failures: [string, () => Promise<string[]>, ErrorCode, string[]][] = [
    ['a model folder without config.json', async () => ['eval', await variant('llama-bytes', 'no-config', () => undefined), '--text', SAMPLE_TEXT], 'LM_CONFIG_INVALID', ['no-config', 'config.json']],
    ['an unsupported model_type', async () => ['eval', await variant('llama-bytes', 'bert', (c) => ({ ...c, model_type: 'bert' })), '--text', SAMPLE_TEXT], 'LM_UNSUPPORTED', ['bert/config.json', '"bert"']],
    ['a tensor missing', async () => ['eval', await variant('llama-bytes', 'three-layers', (c) => ({ ...c, num_hidden_layers: 3 })), '--text', SAMPLE_TEXT], 'TENSOR_MISSING', ['model.layers.2.input_layernorm.weight']],
    ['a tensor of the wrong shape', async () => ['eval', await variant('llama-bytes', 'wider', (c) => ({ ...c, intermediate_size: 50 })), '--text', SAMPLE_TEXT], 'SHAPE_MISMATCH', ['model.layers.0.mlp.gate_proj.weight', '[48, 32]', '[50, 32]']],
    ['a text file that does not exist', async () => ['eval', model('llama-bytes'), '--text', ws.path('missing.txt')], 'PATH_NOT_FOUND', ['missing.txt', '--text']],
    ['a text file that is not UTF-8', async () => ['eval', model('llama-bytes'), '--text', await ws.file('latin1.txt', new Uint8Array([0x63, 0x61, 0x66, 0xe9]))], 'READ_FAILED', ['latin1.txt', 'UTF-8']],
    ['a context past max_position_embeddings', async () => ['eval', model('llama-bytes'), '--text', SAMPLE_TEXT, '--context', '129'], 'PARAMETER_OUT_OF_RANGE', ['max_position_embeddings (128)', '129']],
    ['a context past the sliding window', async () => ['eval', model('mistral'), '--text', SAMPLE_TEXT, '--tokenizer', model('llama-tied'), '--context', '65'], 'LM_UNSUPPORTED', ['sliding_window (64)']],
    ['a model without tokenizer whose vocabulary is not bytes', async () => ['eval', model('mistral'), '--text', SAMPLE_TEXT], 'TOKENIZER_INVALID', ['mistral', 'tokenizer.json', '--tokenizer']],
    ['a tokenizer whose ids the model does not have', async () => ['eval', model('gpt2'), '--text', SAMPLE_TEXT, '--tokenizer', model('llama-tied')], 'PARAMETER_INVALID', ['gpt2', 'vocab_size 96']],
    ['a model that does not exist', async () => ['eval', ws.path('nowhere'), '--text', SAMPLE_TEXT], 'PATH_NOT_FOUND', ['nowhere']],
    ['no --text', async () => ['eval', model('llama-bytes')], 'PARAMETER_INVALID', ['usage: merge-lab eval']],
    ['a bad --context', async () => ['eval', model('llama-bytes'), '--text', SAMPLE_TEXT, '--context', '1.5'], 'PARAMETER_INVALID', ['--context "1.5"']],
  ];
  for (const [what, args, code, culprits] of failures) {
    it(`fails cleanly on ${what} (${code})`, async () => {
      const r = await runCliAsync([...(await args()), '--backend', 'cpu']);
      expect(failureProblems(r, { code, culprits })).toEqual([]);
    });
  }

  it('is listed in --help with its usage', async () => {
    const r = await runCliAsync(['--help']);
    expect(r.stdout).toContain('merge-lab eval <model folder> --text <file>…');
    expect((await runCliAsync(['eval', '--help'])).stdout).toContain('bits per byte');
  });
});
