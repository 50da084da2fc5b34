"""Makes test/fixtures/mergekit-half/: tiny Llama checkpoints and, for each recipe, the
model.safetensors that mergekit's real pipeline writes for it (16-bit recipes: mergekit's own
examples/*.yml and the cases of its tests/test_basic_merges.py, on these checkpoints, plus
fine-tune-like variants). Run with the interpreter of ../shared/tools/mergekit-real (torch 1.13):

    DIR/venv/bin/python scripts/mergekit-half-fixtures.py DIR/mk_run.py

Seeded: the same checkpoints and outputs on every run. Only the outputs are committed."""
import json, os, shutil, subprocess, sys
import torch
from safetensors.torch import save_file
from tiny_llama import llama_shapes

MK_RUN = os.path.abspath(sys.argv[1])
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'mergekit-half')
MODELS = os.path.join(OUT, 'models')
# The shapes of mergekit's tests/common.py make_picollama.
CFG = dict(architectures=['LlamaForCausalLM'], model_type='llama', vocab_size=64, hidden_size=32,
           intermediate_size=48, num_attention_heads=16, num_key_value_heads=16, num_hidden_layers=2,
           tie_word_embeddings=False, rms_norm_eps=1e-6, max_position_embeddings=128, hidden_act='silu')


def shapes():
    return llama_shapes(CFG['vocab_size'], CFG['hidden_size'], CFG['intermediate_size'], CFG['num_hidden_layers'])


def random_init(seed):
    """As LlamaForCausalLM initialises: normal(0, 0.02) matrices, norms of ones."""
    g = torch.Generator().manual_seed(seed)
    return {k: torch.ones(s) if len(s) == 1 else torch.randn(s, generator=g) * 0.02 for k, s in shapes().items()}


def finetune(base, seed, scale):
    """base + small noise everywhere (norms too): task vectors far smaller than the weights."""
    g = torch.Generator().manual_seed(seed)
    return {k: v + torch.randn(v.shape, generator=g) * scale for k, v in base.items()}


# mergekit's tests/common.py make_picogranite: the Llama tensors (no biases by default).
GRANITE = dict(CFG, architectures=['GraniteForCausalLM'], model_type='granite', num_attention_heads=2, num_key_value_heads=2)


def save(name, tensors, dtype=torch.float32, config=CFG):
    d = os.path.join(MODELS, name)
    os.makedirs(d, exist_ok=True)
    save_file({k: v.to(dtype).contiguous() for k, v in tensors.items()}, os.path.join(d, 'model.safetensors'), metadata={'format': 'pt'})
    with open(os.path.join(d, 'config.json'), 'w') as f:
        json.dump(dict(config, torch_dtype=str(dtype).replace('torch.', '')), f, indent=2)


def two(method, a, b, dtype='bfloat16', base=None, params=None):
    """tests/test_basic_merges.py's two_model_config."""
    r = {'merge_method': method, 'models': [{'model': f'../models/{a}', 'parameters': {'weight': 0.6}},
                                            {'model': f'../models/{b}', 'parameters': {'weight': 0.4}}], 'dtype': dtype}
    if base: r['base_model'] = f'../models/{base}'
    if params: r['parameters'] = params
    return r


CASES = {
    # tests/test_basic_merges.py, as written (model_a, model_b, model_c independent random inits).
    'basic_linear': two('linear', 'model_a', 'model_b'),
    'basic_slerp': dict(two('slerp', 'model_a', 'model_b', base='model_a'), parameters={'t': 0.35}),
    'basic_task_arithmetic': two('task_arithmetic', 'model_a', 'model_b', base='model_c'),
    'basic_breadcrumbs': two('breadcrumbs', 'model_a', 'model_b', base='model_c'),
    'basic_ties': two('ties', 'model_a', 'model_b', base='model_c', params={'density': 0.3}),
    'basic_model_stock': two('model_stock', 'model_b', 'model_c', base='model_a'),
    'basic_model_stock_filter_wise': two('model_stock', 'model_b', 'model_c', base='model_a', params={'filter_wise': True}),
    'basic_granite_linear': two('linear', 'granite_a', 'granite_b'),
    'basic_granite_slerp': dict(two('slerp', 'granite_a', 'granite_b', base='granite_a'), parameters={'t': 0.5}),
    # mergekit's examples/*.yml, model names replaced by the checkpoints here.
    'example_linear': {'models': [{'model': '../models/model_a', 'parameters': {'weight': 1.0}},
                                  {'model': '../models/model_b', 'parameters': {'weight': 0.3}},
                                  {'model': '../models/model_c', 'parameters': {'weight': 0.5}}],
                       'merge_method': 'linear', 'dtype': 'float16'},
    'example_ties': {'models': [{'model': '../models/ft_a', 'parameters': {'density': [1, 0.7, 0.1], 'weight': 1.0}},
                                {'model': '../models/ft_b', 'parameters': {'density': 0.5, 'weight': [0, 0.3, 0.7, 1]}},
                                {'model': '../models/model_a', 'parameters': {'density': 0.33, 'weight': [{'filter': 'mlp', 'value': 0.5}, {'value': 0}]}}],
                     'merge_method': 'ties', 'base_model': '../models/model_c',
                     'parameters': {'normalize': True, 'int8_mask': True}, 'dtype': 'float16'},
    'example_bio_merge': {'models': [{'model': '../models/ft_a', 'parameters': {'density': 0.5, 'weight': 0.5}},
                                     {'model': '../models/ft_b', 'parameters': {'density': 0.5, 'weight': 0.5}}],
                          'merge_method': 'ties', 'base_model': '../models/model_c',
                          'parameters': {'normalize': False, 'int8_mask': True}, 'dtype': 'float16'},
    'example_gradient_slerp': {'slices': [{'sources': [{'model': '../models/model_a', 'layer_range': [0, 2]},
                                                       {'model': '../models/ft_a', 'layer_range': [0, 2]}]}],
                               'merge_method': 'slerp', 'base_model': '../models/model_a',
                               'parameters': {'t': [{'filter': 'self_attn', 'value': [0, 0.5, 0.3, 0.7, 1]},
                                                    {'filter': 'mlp', 'value': [1, 0.5, 0.7, 0.3, 0]}, {'value': 0.5}]},
                               'dtype': 'float16'},
    # Fine-tune-like task vectors, where rounding decides more of what a trim keeps.
    'ft_ties_bf16': {'models': [{'model': '../models/ft_a', 'parameters': {'weight': 0.7, 'density': 0.5}},
                                {'model': '../models/ft_b', 'parameters': {'weight': 0.5, 'density': 0.4}},
                                {'model': '../models/ft_c', 'parameters': {'weight': 0.3, 'density': 0.6}}],
                     'merge_method': 'ties', 'base_model': '../models/model_c', 'parameters': {'lambda': 1.3}, 'dtype': 'bfloat16'},
    'ft_ties_rescale_bf16': {'models': [{'model': '../models/ft_a', 'parameters': {'weight': 1.0, 'density': 0.3}},
                                        {'model': '../models/ft_b', 'parameters': {'weight': 1.0, 'density': 0.3}}],
                             'merge_method': 'ties', 'base_model': '../models/model_c', 'parameters': {'rescale': True, 'normalize': False}, 'dtype': 'bfloat16'},
    'ft_task_arithmetic_fp16': {'models': [{'model': '../models/ft_a', 'parameters': {'weight': 0.7}},
                                           {'model': '../models/ft_b', 'parameters': {'weight': 0.45}}],
                                'merge_method': 'task_arithmetic', 'base_model': '../models/model_c',
                                'parameters': {'lambda': 0.7, 'normalize': True}, 'dtype': 'float16'},
    'ft_breadcrumbs_ties_bf16': {'models': [{'model': '../models/ft_a', 'parameters': {'weight': 0.6}},
                                            {'model': '../models/ft_b', 'parameters': {'weight': 0.6}},
                                            {'model': '../models/ft_c', 'parameters': {'weight': -0.2}}],
                                 'merge_method': 'breadcrumbs_ties', 'base_model': '../models/model_c',
                                 'parameters': {'density': 0.8, 'gamma': 0.05}, 'dtype': 'bfloat16'},
    'ft_breadcrumbs_fp16': {'models': [{'model': '../models/ft_a', 'parameters': {'weight': 0.5}},
                                       {'model': '../models/ft_b', 'parameters': {'weight': 0.5}}],
                            'merge_method': 'breadcrumbs', 'base_model': '../models/model_c',
                            'parameters': {'density': 0.9, 'gamma': 0.02}, 'dtype': 'float16'},
    'ft_model_stock_bf16': {'models': [{'model': '../models/ft_a'}, {'model': '../models/ft_b'}, {'model': '../models/ft_c'}],
                            'merge_method': 'model_stock', 'base_model': '../models/model_c', 'dtype': 'bfloat16'},
    'ft_linear_bf16_out_f32': {'models': [{'model': '../models/ft_a', 'parameters': {'weight': 0.3}},
                                          {'model': '../models/ft_b', 'parameters': {'weight': 0.3}},
                                          {'model': '../models/ft_c', 'parameters': {'weight': 0.3}}],
                               'merge_method': 'linear', 'parameters': {'normalize': False}, 'dtype': 'bfloat16', 'out_dtype': 'float32'},
    # No dtype: mergekit computes in the dtype the checkpoints store.
    'stored_bf16_ties_no_dtype': {'models': [{'model': '../models/ft_a_bf16', 'parameters': {'weight': 0.8, 'density': 0.5}},
                                             {'model': '../models/ft_b_bf16', 'parameters': {'weight': 0.6, 'density': 0.5}}],
                                  'merge_method': 'ties', 'base_model': '../models/model_c_bf16'},
    'stored_fp16_linear_no_dtype': {'models': [{'model': '../models/ft_a_fp16', 'parameters': {'weight': 0.6}},
                                               {'model': '../models/ft_b_fp16', 'parameters': {'weight': 0.7}}],
                                    'merge_method': 'linear'},
    'stored_bf16_task_arithmetic_dtype_fp16': {'models': [{'model': '../models/ft_a_bf16', 'parameters': {'weight': 0.5}},
                                                          {'model': '../models/ft_b_bf16', 'parameters': {'weight': 0.5}}],
                                               'merge_method': 'task_arithmetic', 'base_model': '../models/model_c_bf16', 'dtype': 'float16'},
}


def main():
    import yaml
    shutil.rmtree(OUT, ignore_errors=True)
    a, b, c = random_init(1), random_init(2), random_init(3)
    fa, fb, fc = finetune(c, 11, 2e-3), finetune(c, 12, 2e-3), finetune(c, 13, 1e-3)
    for name, t in [('model_a', a), ('model_b', b), ('model_c', c), ('ft_a', fa), ('ft_b', fb), ('ft_c', fc)]:
        save(name, t)
    save('granite_a', random_init(4), config=GRANITE)
    save('granite_b', random_init(5), config=GRANITE)
    for name, t in [('model_c', c), ('ft_a', fa), ('ft_b', fb)]:
        save(name + '_bf16', t, torch.bfloat16)
        save(name + '_fp16', t, torch.float16)
    for case, recipe in CASES.items():
        d = os.path.join(OUT, case)
        os.makedirs(d)
        with open(os.path.join(d, 'recipe.yml'), 'w') as f:
            yaml.safe_dump(recipe, f, sort_keys=False)
        tmp = os.path.join(d, 'out')
        subprocess.run([sys.executable, MK_RUN, 'recipe.yml', 'out'], cwd=d, check=True, stdout=subprocess.DEVNULL)
        shutil.move(os.path.join(tmp, 'model.safetensors'), os.path.join(d, 'expected.safetensors'))
        shutil.rmtree(tmp)
        print('made', case)


main()
