"""Makes test/fixtures/mergekit-tensors/: which tensors mergekit writes, and from which models, when
checkpoints differ: a tensor only the base has, a required tensor a model lacks, embeddings of
another vocabulary size, and tied heads. (mergekit's inference for an architecture it does not
define needs transformers to build the model, which torch 1.13 cannot: no reference for it here.)
Each case holds recipe.yml and either expected.safetensors (what mergekit's real pipeline wrote)
or expected-error.txt (the error it stopped with). Run with the interpreter of
../shared/tools/mergekit-real (torch 1.13):

    DIR/venv/bin/python scripts/mergekit-tensor-fixtures.py DIR/mk_run.py

Seeded; only the outputs are committed."""
import json, os, shutil, subprocess, sys
import torch
from safetensors.torch import save_file

MK_RUN = os.path.abspath(sys.argv[1])
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'mergekit-tensors')
MODELS = os.path.join(OUT, 'models')
H, I, V, L = 16, 24, 32, 2
LLAMA = dict(architectures=['LlamaForCausalLM'], model_type='llama', vocab_size=V, hidden_size=H, intermediate_size=I,
             num_attention_heads=4, num_key_value_heads=4, num_hidden_layers=L, tie_word_embeddings=False,
             rms_norm_eps=1e-6, max_position_embeddings=64, hidden_act='silu', torch_dtype='float32')


def llama(seed, vocab=V, head=True):
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g) * 0.02
    t = {'model.embed_tokens.weight': r(vocab, H), 'model.norm.weight': 1 + r(H)}
    for l in range(L):
        p = f'model.layers.{l}.'
        for n in ['q_proj', 'k_proj', 'v_proj', 'o_proj']:
            t[p + f'self_attn.{n}.weight'] = r(H, H)
        t[p + 'mlp.gate_proj.weight'], t[p + 'mlp.up_proj.weight'], t[p + 'mlp.down_proj.weight'] = r(I, H), r(I, H), r(H, I)
        t[p + 'input_layernorm.weight'], t[p + 'post_attention_layernorm.weight'] = 1 + r(H), 1 + r(H)
    if head:
        t['lm_head.weight'] = r(vocab, H)
    return t


def save(name, tensors, config):
    d = os.path.join(MODELS, name)
    os.makedirs(d, exist_ok=True)
    save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(d, 'model.safetensors'), metadata={'format': 'pt'})
    with open(os.path.join(d, 'config.json'), 'w') as f:
        json.dump(config, f, indent=2)


def models():
    base = llama(1)
    ft = lambda seed, **kw: {k: v + torch.randn(v.shape, generator=torch.Generator().manual_seed(seed)) * 2e-3 for k, v in llama(1, **kw).items()}
    save('base', base, LLAMA)
    save('ft_a', ft(11), LLAMA)
    save('ft_b', ft(12), LLAMA)
    inv = dict(base, **{f'model.layers.{l}.self_attn.rotary_emb.inv_freq': 1 / (10000 ** (torch.arange(0, 4, 2).float() / 4)) for l in range(L)})
    save('base_inv_freq', inv, LLAMA)
    lacking = ft(12)
    del lacking['model.layers.1.mlp.up_proj.weight']
    save('ft_b_lacking_up_proj', lacking, LLAMA)
    big = ft(13, vocab=V + 8)
    save('ft_a_vocab_40', big, dict(LLAMA, vocab_size=V + 8))
    small = ft(14, vocab=V - 8)
    save('ft_b_vocab_24', small, dict(LLAMA, vocab_size=V - 8))
    tied = {k: v for k, v in base.items() if k != 'lm_head.weight'}
    save('base_tied', tied, dict(LLAMA, tie_word_embeddings=True))
    save('ft_a_tied', {k: v for k, v in ft(11).items() if k != 'lm_head.weight'}, dict(LLAMA, tie_word_embeddings=True))
    save('ft_b_tied', {k: v for k, v in ft(12).items() if k != 'lm_head.weight'}, dict(LLAMA, tie_word_embeddings=True))


def ta(base, a, b, method='task_arithmetic', **params):
    r = {'merge_method': method, 'base_model': f'../models/{base}', 'dtype': 'bfloat16',
         'models': [{'model': f'../models/{a}', 'parameters': {'weight': 0.7}}, {'model': f'../models/{b}', 'parameters': {'weight': 0.5}}]}
    if params:
        r['parameters'] = params
    return r


def lin(a, b, dtype='bfloat16'):
    return {'merge_method': 'linear', 'dtype': dtype,
            'models': [{'model': f'../models/{a}', 'parameters': {'weight': 0.6}}, {'model': f'../models/{b}', 'parameters': {'weight': 0.4}}]}


CASES = {
    'base_only_inv_freq': ta('base_inv_freq', 'ft_a', 'ft_b', 'ties', density=0.5),
    'required_tensor_missing': ta('base', 'ft_a', 'ft_b_lacking_up_proj'),
    'vocab_larger_ties': ta('base', 'ft_a_vocab_40', 'ft_b', 'ties', density=0.6),
    'vocab_smaller_task_arithmetic': ta('base', 'ft_a', 'ft_b_vocab_24'),
    'vocab_linear': lin('ft_a_vocab_40', 'ft_b_vocab_24'),
    'vocab_slerp': {'merge_method': 'slerp', 'base_model': '../models/base', 'dtype': 'bfloat16', 'parameters': {'t': 0.4},
                    'models': [{'model': '../models/base'}, {'model': '../models/ft_a_vocab_40'}]},
    'tied_base_untied_models': ta('base_tied', 'ft_a', 'ft_b'),
    'tied_all': ta('base_tied', 'ft_a_tied', 'ft_b_tied', 'ties', density=0.5),
    'tied_linear_mixed': lin('ft_a_tied', 'ft_b'),
}


def main():
    import yaml
    shutil.rmtree(OUT, ignore_errors=True)
    models()
    for case, recipe in CASES.items():
        d = os.path.join(OUT, case)
        os.makedirs(d)
        with open(os.path.join(d, 'recipe.yml'), 'w') as f:
            yaml.safe_dump(recipe, f, sort_keys=False)
        r = subprocess.run([sys.executable, MK_RUN, 'recipe.yml', 'out'], cwd=d, capture_output=True, text=True)
        if r.returncode == 0:
            shutil.move(os.path.join(d, 'out', 'model.safetensors'), os.path.join(d, 'expected.safetensors'))
            print('made', case)
        else:
            last = [l for l in r.stderr.strip().splitlines() if l.strip()][-1]
            with open(os.path.join(d, 'expected-error.txt'), 'w') as f:
                f.write(last + '\n')
            print('error', case, last)
        shutil.rmtree(os.path.join(d, 'out'), ignore_errors=True)


main()
