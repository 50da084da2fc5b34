/**
 * The folder `merge-lab merge` writes loads in the Python ecosystem: transformers' AutoConfig and
 * AutoTokenizer read it, and the reference `safetensors` package reads the weights, whose values
 * (BF16 widened to float32 in numpy) equal what our reader gives. The acceptance case: a bf16 TIES
 * merge with `tokenizer_source: base` whose config.json says bfloat16; and a chat template
 * AutoTokenizer picks up. Runs under the first interpreter that has transformers 5, tokenizers and
 * safetensors: $MERGE_LAB_PYTHON, else python3 (CI: .ci/run installs them from the offline wheels);
 * skips with the reason otherwise.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILTIN_CHAT_TEMPLATES } from '../../src/engine/output/chat-templates.js';
import { Workspace, tinyLlamaTiesBf16, mergeArgs, runCliAsync, withCheckpoint } from './helpers.js';

const CANDIDATES = [process.env.MERGE_LAB_PYTHON, 'python3'].filter((p): p is string => Boolean(p));
const IMPORTS = 'import transformers, tokenizers, safetensors, numpy; print(transformers.__version__)';

/** The interpreter to use, or why there is none. */
function findPython(): { python?: string; reason?: string } {
  const why: string[] = [];
  for (const p of CANDIDATES) {
    if (p.includes('/') && !existsSync(p)) continue;
    try {
      const version = execFileSync(p, ['-c', IMPORTS], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 }).trim().split('\n').pop()!;
      if (Number(version.split('.')[0]) >= 5) return { python: p };
      why.push(`${p} has transformers ${version} (5 needed)`);
    } catch (e) {
      const err = e as { code?: string; stderr?: string };
      why.push(err.code === 'ENOENT' ? `${p} is not installed` : `${p} cannot import transformers, tokenizers, safetensors and numpy (${String(err.stderr ?? e).trim().split('\n').pop()})`);
    }
  }
  return { reason: why.join('; ') || 'no Python interpreter was found' };
}

const { python, reason } = findPython();
if (reason) console.warn(`[cli] skipping the transformers loading tests: ${reason}`);

/**
 * Loads each folder named on the command line with AutoConfig, AutoTokenizer and safetensors;
 * prints one JSON line, folder → what was read. One interpreter for every folder: importing
 * transformers is most of a run (~1 CPU-s).
 */
const LOAD = `
import json, sys
import numpy as np
import safetensors
from transformers import AutoConfig, AutoTokenizer
def load(d):
    c = AutoConfig.from_pretrained(d)
    t = AutoTokenizer.from_pretrained(d)
    tensors = {}
    for name, info in safetensors.deserialize(open(d + '/model.safetensors', 'rb').read()):
        raw = bytes(info['data'])
        if info['dtype'] == 'BF16':
            values = (np.frombuffer(raw, dtype='<u2').astype(np.uint32) << 16).view(np.float32)
        else:
            values = np.frombuffer(raw, dtype={'F32': '<f4', 'F16': '<f2'}[info['dtype']]).astype(np.float32)
        tensors[name] = {'dtype': info['dtype'], 'shape': list(info['shape']), 'values': [float(v) for v in values]}
    return {
        'config': {'model_type': c.model_type, 'dtype': str(c.dtype), 'layers': c.num_hidden_layers, 'vocab_size': c.vocab_size},
        'tokenizer': {'size': len(t), 'bos': t.bos_token, 'eos': t.eos_token, 'tokens': t.tokenize('merge lab'), 'ids': t('merge lab')['input_ids'], 'chat_template': t.chat_template},
        'tensors': tensors,
    }
print(json.dumps({d: load(d) for d in sys.argv[1:]}))
`;

interface Loaded {
  config: { model_type: string; dtype: string; layers: number; vocab_size: number };
  tokenizer: { size: number; bos: string; eos: string; tokens: string[]; ids: number[]; chat_template: string | null };
  tensors: Record<string, { dtype: string; shape: number[]; values: number[] }>;
}

/** Each of `dirs` as the Python side reads it, in one interpreter. */
function loadAll(dirs: readonly string[]): Record<string, Loaded> {
  const out = execFileSync(python!, ['-c', LOAD, ...dirs], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });
  return JSON.parse(out.trim().split('\n').pop()!) as Record<string, Loaded>;
}

const RECIPE = tinyLlamaTiesBf16;

describe.skipIf(python === undefined)('the merged folder loads with transformers and safetensors', () => {
  let ws: Workspace;
  let loaded: Record<string, Loaded> | undefined;
  /** The merged folder `name` as Python reads it: both folders are read on first use, by one interpreter. */
  const load = (name: 'ties' | 'chatml'): Loaded => (loaded ??= loadAll([ws.path('ties'), ws.path('chatml')]))[ws.path(name)]!;
  beforeAll(async () => {
    ws = await Workspace.create('merge-lab-transformers-');
    await ws.recipe('ties.yml', RECIPE('tokenizer_source: base'));
    await ws.recipe('chatml.yml', RECIPE('chat_template: chatml'));
    const runs = await Promise.all([runCliAsync(mergeArgs(ws.path('ties.yml'), ws.path('ties'))), runCliAsync(mergeArgs(ws.path('chatml.yml'), ws.path('chatml')))]);
    for (const r of runs) expect(r.status, r.stderr).toBe(0);
  });
  afterAll(async () => {
    await ws?.dispose();
  });

  it('bf16 TIES with tokenizer_source: base — AutoConfig says bfloat16, AutoTokenizer tokenizes, safetensors reads our values', async () => {
    const got = load('ties');
    expect(got.config).toEqual({ model_type: 'llama', dtype: 'bfloat16', layers: 4, vocab_size: 16 });
    expect(got.tokenizer).toMatchObject({ size: 16, bos: '<s>', eos: '</s>', tokens: ['merg', 'e', 'la', 'b'], ids: [14, 7, 15, 4], chat_template: null });
    await withCheckpoint(ws.path('ties/model.safetensors'), async (c) => {
      expect(Object.keys(got.tensors).sort()).toEqual([...c.tensorNames].sort());
      for (const name of c.tensorNames) {
        const t = got.tensors[name]!;
        expect([t.dtype, t.shape], name).toEqual(['BF16', [...c.info(name)!.shape]]);
        expect(t.values, name).toEqual(Array.from(await c.readFloat32(name)));
      }
    });
  });

  it('chat_template: chatml is the template AutoTokenizer loads', () => {
    expect(load('chatml').tokenizer.chat_template).toBe(BUILTIN_CHAT_TEMPLATES.chatml);
  });
});
