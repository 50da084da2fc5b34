/**
 * public/demo/lm as npm run demo:train:lm wrote it: six float16 checkpoints of a 4-layer byte-level
 * Llama within 12 MB, the corpus's held-out texts, and test losses that meet the targets
 * and that the engine's scorer reproduces from the files.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initNodeBackend } from '../../src/cli/node-backend.js';
import { lmDemoTokens, openLmDemo, type LmDemo } from '../../src/engine/demo/lm-load.js';
import { MIXED } from '../../src/engine/demo/lm-manifest.js';
import { disposeLmWeights, loadLmWeights, scoreTokens, textMetrics } from '../../src/engine/lm/index.js';
import { mixedTexts, readCorpus, splitText, type Domain } from '../../scripts/lm-demo/corpus.js';

const DEMO = path.resolve(import.meta.dirname, '../../public/demo/lm');
let demo: LmDemo;

beforeAll(async () => {
  demo = await openLmDemo({ manifest: fs.readFileSync(path.join(DEMO, 'manifest.json'), 'utf8'), read: async (f) => new Uint8Array(fs.readFileSync(path.join(DEMO, f))) });
});

describe('shipped LM demo', () => {
  it('holds six float16 checkpoints of a 4-layer byte-level Llama of 0.5–1M parameters, 12 MB at most together', () => {
    const { config, manifest, checkpoints } = demo;
    expect(config.modelType).toBe('llama');
    expect(config.numLayers).toBe(4);
    expect(config.vocabSize).toBe(256);
    expect(manifest.parameters).toBeGreaterThanOrEqual(500_000);
    expect(manifest.parameters).toBeLessThanOrEqual(1_000_000);
    expect(JSON.parse(fs.readFileSync(path.join(DEMO, manifest.config), 'utf8')).architectures).toEqual(['LlamaForCausalLM']);
    expect(checkpoints.size).toBe(6);
    for (const c of checkpoints.values()) expect(new Set(c.tensorNames.map((n) => c.info(n)!.dtype)), c.name).toEqual(new Set(['F16']));
    const files = [manifest.base, ...manifest.domains.map((d) => d.expert)];
    expect(files.reduce((s, f) => s + fs.statSync(path.join(DEMO, f)).size, 0)).toBeLessThanOrEqual(12_000_000);
  });

  it("ships the corpus's held-out texts: validation and test of each domain, and the mixed windows", () => {
    const corpus = readCorpus();
    for (const d of demo.manifest.domains) {
      expect(d.texts.validation, d.id).toBe(splitText(corpus, d.id as Domain, 'validation'));
      expect(d.texts.test, d.id).toBe(splitText(corpus, d.id as Domain, 'test'));
    }
    expect(demo.manifest.mixed.map((m) => m.text)).toEqual(mixedTexts(corpus).map((m) => m.text));
  });

  it('meets the targets: each expert ≥ 15 % fewer test bits per byte than the base on its domain, more on every other domain and on the mixed windows', () => {
    const bpb = demo.manifest.measured.bitsPerByte;
    const ids = demo.manifest.domains.map((d) => d.id);
    for (const e of ids) {
      expect(bpb[e]![e]!, e).toBeLessThanOrEqual(0.85 * bpb['base']![e]!);
      for (const d of [...ids.filter((x) => x !== e), MIXED]) expect(bpb[e]![d]!, `${e} on ${d}`).toBeGreaterThan(bpb['base']![d]!);
    }
  });

  it("matches the README: the bits-per-byte table, the parameter count, the checkpoints' size, the licenses shipped", () => {
    const readme = fs.readFileSync(path.resolve(DEMO, '../../../README.md'), 'utf8');
    const { manifest } = demo;
    const cols = [...manifest.domains.map((d) => d.id), MIXED];
    expect(readme).toContain(`| model | ${cols.join(' | ')} |`);
    for (const row of ['base', ...manifest.domains.map((d) => d.id)]) {
      expect(readme).toContain(`| ${row} | ${cols.map((c) => manifest.measured.bitsPerByte[row]![c]!.toFixed(2)).join(' | ')} |`);
    }
    expect(readme).toContain(`${manifest.parameters.toLocaleString('en-US')}\nparameters`);
    const bytes = [manifest.base, ...manifest.domains.map((d) => d.expert)].reduce((s, f) => s + fs.statSync(path.join(DEMO, f)).size, 0);
    expect(readme).toContain(`take ${(bytes / 1e6).toFixed(1)} MB`);
    expect(fs.readFileSync(path.join(DEMO, manifest.data.licenses), 'utf8')).toBe(fs.readFileSync(path.resolve(DEMO, '../../../data/lm-demo/LICENSES.txt'), 'utf8'));
  });

  describe('through the engine', () => {
    beforeAll(async () => {
      await initNodeBackend('wasm');
    });
    afterAll(async () => {
      await tf.setBackend('cpu');
    });

    it("reproduces the base's and the code expert's loss on the mixed windows", async () => {
      for (const key of ['base', 'code']) {
        const weights = await loadLmWeights(demo.config, demo.checkpoints.get(key)!);
        try {
          let nll = 0;
          let tokens = 0;
          let bytes = 0;
          for (const m of demo.manifest.mixed) {
            const ids = lmDemoTokens(m.text);
            const s = await scoreTokens(demo.config, weights, ids, { context: demo.manifest.context });
            nll += s.nll;
            tokens += s.tokens;
            bytes += ids.length;
          }
          const m = textMetrics({ nll, tokens }, bytes);
          // Measured on wasm with the trainer's product wrapper, rounded to 4 decimals.
          expect(Math.abs(m.bitsPerByte - demo.manifest.measured.bitsPerByte[key]![MIXED]!), key).toBeLessThan(2e-3);
        } finally {
          disposeLmWeights(weights);
        }
      }
    });
  });
});
