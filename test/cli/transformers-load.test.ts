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

/**
 * Prints transformers' version, then (with transformers 5) each folder named on the command line
 * as AutoConfig, AutoTokenizer and safetensors read it: one JSON line. The version check and the
 * loading share one interpreter, since importing transformers is most of a run (~1 CPU-s).
 */
const LOAD = `
import json, sys
import numpy as np
import safetensors, tokenizers, transformers
from transformers import AutoConfig, AutoTokenizer
print(transformers.__version__, flush=True)
if int(transformers.__version__.split('.')[0]) < 5:
    sys.exit(0)
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

/** `dirs` as the first interpreter with transformers 5, tokenizers, safetensors and numpy reads them, or why there is none. */
function loadWithPython(dirs: readonly string[]): { loaded?: Record<string, Loaded>; reason?: string } {
  const why: string[] = [];
  for (const p of CANDIDATES) {
    if (p.includes('/') && !existsSync(p)) continue;
    try {
      const [version, json] = execFileSync(p, ['-c', LOAD, ...dirs], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000, maxBuffer: 64 * 1024 * 1024 }).trim().split('\n').slice(-2);
      if (json !== undefined && Number(version!.split('.')[0]) >= 5) return { loaded: JSON.parse(json) as Record<string, Loaded> };
      why.push(`${p} has transformers ${version} (5 needed)`);
    } catch (e) {
      const err = e as { code?: string; stderr?: string };
      why.push(err.code === 'ENOENT' ? `${p} is not installed` : `${p} cannot import transformers, tokenizers, safetensors and numpy (${String(err.stderr ?? e).trim().split('\n').pop()})`);
    }
  }
  return { reason: why.join('; ') || 'no Python interpreter was found' };
}

const RECIPE = tinyLlamaTiesBf16;

describe('the merged folder loads with transformers and safetensors', () => {
  let ws: Workspace;
  let python: ReturnType<typeof loadWithPython>;
  /** The merged folder `name` as Python reads it; without a suitable interpreter the test skips, saying why. */
  const load = (name: 'ties' | 'chatml', skip: (note: string) => never): Loaded => {
    if (!python.loaded) skip(`no interpreter to load with: ${python.reason}`);
    return python.loaded[ws.path(name)]!;
  };
  beforeAll(async () => {
    ws = await Workspace.create('merge-lab-transformers-');
    await ws.recipe('ties.yml', RECIPE('tokenizer_source: base'));
    await ws.recipe('chatml.yml', RECIPE('chat_template: chatml'));
    const runs = await Promise.all([runCliAsync(mergeArgs(ws.path('ties.yml'), ws.path('ties'))), runCliAsync(mergeArgs(ws.path('chatml.yml'), ws.path('chatml')))]);
    for (const r of runs) expect(r.status, r.stderr).toBe(0);
    // Both folders in one interpreter, which also says whether it has what the tests need.
    python = loadWithPython([ws.path('ties'), ws.path('chatml')]);
    if (python.reason) console.warn(`[cli] skipping the transformers loading tests: ${python.reason}`);
  });
  afterAll(async () => {
    await ws?.dispose();
  });

  it('bf16 TIES with tokenizer_source: base — AutoConfig says bfloat16, AutoTokenizer tokenizes, safetensors reads our values', async ({ skip }) => {
    const got = load('ties', skip);
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

  it('chat_template: chatml is the template AutoTokenizer loads', ({ skip }) => {
    expect(load('chatml', skip).tokenizer.chat_template).toBe(BUILTIN_CHAT_TEMPLATES.chatml);
  });
});
