"""Makes test/fixtures/mergekit-slices/: `slices:` recipes (frankenmerges: layer ranges of several
models stacked and renumbered, merges inside slices, per-slice base_model and parameters, gradients
over a slice) and `modules:` recipes (a multi-module Mistral3ForConditionalGeneration checkpoint),
each with what mergekit's real pipeline wrote for it (expected.safetensors and the layer counts of
its config.json, expected-config.json) or the last line it printed when it stopped
(expected-error.txt). Cases named after mergekit are its own as written: tests/test_basic_merges.py's
test_gpt2_stack (on test/fixtures/mergekit-more/models/gpt2_like) and examples/orcamini-platy-44layer.yml
(on 40-layer Llama checkpoints named after the example's models), the latter also in float32 and
bfloat16. Run with the interpreter of ../shared/tools/mergekit-real (torch 1.13):

    DIR/venv/bin/python scripts/mergekit-slices-fixtures.py DIR/mk_run.py [CASE ...]

Seeded: the same bytes on every run. Only the outputs are committed."""
import json, os, re, shutil, subprocess, sys
import torch
from safetensors.torch import save_file
from tiny_llama import llama_shapes

MK_RUN = os.path.abspath(sys.argv[1])
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'mergekit-slices')
MODELS = os.path.join(OUT, 'models')
LLAMA = dict(architectures=['LlamaForCausalLM'], model_type='llama', vocab_size=16, hidden_size=8, intermediate_size=12,
             num_attention_heads=2, num_key_value_heads=2, num_hidden_layers=8, tie_word_embeddings=False, rms_norm_eps=1e-6,
             max_position_embeddings=64, hidden_act='silu')
# examples/orcamini-platy-44layer.yml stacks layers 0-24 of one 40-layer model on 20-40 of another: smaller still.
LLAMA_40 = dict(LLAMA, vocab_size=8, hidden_size=4, intermediate_size=6, num_hidden_layers=40)


def random_init(cfg, seed):
    g = torch.Generator().manual_seed(seed)
    shapes = llama_shapes(cfg['vocab_size'], cfg['hidden_size'], cfg['intermediate_size'], cfg['num_hidden_layers'])
    return {k: 1 + torch.randn(s, generator=g) * 0.05 if len(s) == 1 else torch.randn(s, generator=g) * 0.02 for k, s in shapes.items()}


def finetune(base, seed, scale):
    g = torch.Generator().manual_seed(seed)
    return {k: v + torch.randn(v.shape, generator=g) * scale for k, v in base.items()}


def save(name, tensors, config):
    d = os.path.join(MODELS, name)
    os.makedirs(d, exist_ok=True)
    save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(d, 'model.safetensors'), metadata={'format': 'pt'})
    with open(os.path.join(d, 'config.json'), 'w') as f:
        json.dump(dict(config, torch_dtype='float32'), f, indent=2)


# A tiny Mistral3ForConditionalGeneration (mergekit's mistral3.json: modules text_decoder, vision_tower and
# multi_modal_projector, under the prefixes language_model., vision_tower. and multi_modal_projector.).
MISTRAL3 = dict(architectures=['Mistral3ForConditionalGeneration'], model_type='mistral3', image_token_index=10, spatial_merge_size=2,
                projector_hidden_act='gelu', vision_feature_layer=-1, multimodal_projector_bias=False,
                text_config=dict(model_type='mistral', vocab_size=16, hidden_size=8, intermediate_size=12, num_hidden_layers=3,
                                 num_attention_heads=2, num_key_value_heads=2, head_dim=4, max_position_embeddings=64),
                vision_config=dict(model_type='pixtral', hidden_size=8, intermediate_size=12, num_hidden_layers=2, num_attention_heads=2,
                                   head_dim=4, image_size=16, patch_size=4, num_channels=3))


def mistral3(seed):
    g = torch.Generator().manual_seed(seed)
    r = lambda *s: torch.randn(*s, generator=g) * 0.02
    one = lambda n: 1 + torch.randn(n, generator=g) * 0.05
    t = {f'language_model.{k}': v for k, v in random_init(dict(LLAMA, num_hidden_layers=3), seed).items()}
    t.update({'vision_tower.patch_conv.weight': r(8, 3, 4, 4), 'vision_tower.ln_pre.weight': one(8)})
    for l in range(2):
        p = f'vision_tower.transformer.layers.{l}.'
        t.update({p + 'ffn_norm.weight': one(8), p + 'feed_forward.down_proj.weight': r(8, 12), p + 'feed_forward.gate_proj.weight': r(12, 8),
                  p + 'feed_forward.up_proj.weight': r(12, 8), p + 'attention_norm.weight': one(8)})
        t.update({p + f'attention.{n}_proj.weight': r(8, 8) for n in 'kovq'})
    t.update({'multi_modal_projector.linear_1.weight': r(8, 8), 'multi_modal_projector.linear_2.weight': r(8, 8),
              'multi_modal_projector.norm.weight': one(8), 'multi_modal_projector.patch_merger.merging_layer.weight': r(8, 32)})
    return t


def models():
    base = random_init(LLAMA, 1)
    save('base', base, LLAMA)
    save('ft_a', finetune(base, 11, 2e-3), LLAMA)
    save('ft_b', finetune(base, 12, 2e-3), LLAMA)
    save('model_c_6', random_init(dict(LLAMA, num_hidden_layers=6), 3), dict(LLAMA, num_hidden_layers=6))
    save('orca_mini_v3_13b', random_init(LLAMA_40, 4), LLAMA_40)
    save('Platypus2-13B', random_init(LLAMA_40, 5), LLAMA_40)
    vbase = mistral3(6)
    for name, t in [('vlm_base', vbase), ('vlm_a', finetune(vbase, 16, 2e-3)), ('vlm_b', finetune(vbase, 17, 2e-3))]:
        save(name, t, MISTRAL3)


GPT2 = '../../mergekit-more/models/gpt2_like'


def src(model, lo, hi, **params):
    path = model if model.startswith('../') else f'../models/{model}'
    return {'model': path, 'layer_range': [lo, hi], **({'parameters': params} if params else {})}


def sl(*sources, base=None, **params):
    return {'sources': list(sources), **({'base_model': f'../models/{base}'} if base else {}), **({'parameters': params} if params else {})}


def recipe(method, slices, base=None, params=None, dtype='float32', **extra):
    r = {'slices': slices, 'merge_method': method}
    if base:
        r['base_model'] = f'../models/{base}'
    if params:
        r['parameters'] = params
    if dtype:
        r['dtype'] = dtype
    r.update(extra)
    return r


def both(name, *args, **kwargs):
    return {f'{name}_f32': recipe(*args, **kwargs, dtype='float32'), f'{name}_bf16': recipe(*args, **kwargs, dtype='bfloat16')}


ORCA = '../models/orca_mini_v3_13b'
PLATY = '../models/Platypus2-13B'
# examples/orcamini-platy-44layer.yml as written, but for the models' paths.
ORCAMINI = """slices:
  - sources:
    - model: ../models/orca_mini_v3_13b
      layer_range: [0, 24]
  - sources:
    - model: ../models/Platypus2-13B
      layer_range: [20, 40]
merge_method: passthrough
dtype: float16
"""


def vlm(dtype, **modules):
    return {'modules': modules, 'merge_method': 'linear', 'dtype': dtype}


VLM_MODULES = dict(
    text_decoder={'slices': [sl(src('vlm_a', 0, 2, weight=1.0)), sl(src('vlm_b', 1, 3, weight=1.0)), sl(src('vlm_a', 2, 3, weight=0.5), src('vlm_b', 2, 3, weight=0.5))]},
    vision_tower={'models': [{'model': '../models/vlm_a', 'parameters': {'weight': 0.5}}, {'model': '../models/vlm_b', 'parameters': {'weight': 0.5}}]},
    multi_modal_projector={'models': [{'model': '../models/vlm_a'}, {'model': '../models/vlm_b'}], 'parameters': {'weight': [1, 0]}},
)

CASES = {
    # mergekit's own: tests/test_basic_merges.py test_gpt2_stack, examples/orcamini-platy-44layer.yml.
    'basic_gpt2_stack': recipe('passthrough', [sl(src(GPT2, 0, 2))] * 2, dtype='bfloat16'),
    'example_orcamini_platy_44layer': ORCAMINI,
    'example_orcamini_platy_44layer_f32': ORCAMINI.replace('float16', 'float32'),
    'example_orcamini_platy_44layer_bf16': ORCAMINI.replace('float16', 'bfloat16'),

    # Stacks of passthrough slices: other models and lengths, scale per source, per slice, at the top; gradients over each slice.
    **both('stack_three', 'passthrough', [sl(src('ft_a', 0, 4)), sl(src('model_c_6', 1, 5, scale=[1, 0.5])), sl(src('ft_b', 6, 8))]),
    **both('stack_scale', 'passthrough', [sl(src('ft_a', 0, 4, scale=[0, 1])), sl(src('ft_a', 2, 6), scale=[{'filter': 'mlp', 'value': [2, 0.5]}, {'value': 1}])],
           params={'scale': 0.25}),
    **both('stack_single_layers', 'passthrough', [sl(src('ft_a', 3, 4)), sl(src('ft_b', 0, 1)), sl(src('ft_a', 7, 8))], params={'scale': [1, 3]}),
    # Merges inside slices.
    **both('mixed_linear', 'linear', [sl(src('ft_a', 0, 4, weight=0.7), src('ft_b', 0, 4, weight=0.3)), sl(src('model_c_6', 2, 4, weight=1)),
                                      sl(src('ft_b', 4, 8), src('ft_a', 4, 8), weight=[0.2, 0.8])]),
    **both('mixed_task_arithmetic', 'task_arithmetic', [sl(src('base', 0, 4), src('ft_a', 0, 4, weight=1), src('ft_b', 0, 4, weight=0.5)),
                                                        sl(src('base', 4, 8), src('ft_a', 4, 8, weight=[0, 1]))], base='base'),
    **both('mixed_ties_slice_base', 'ties', [sl(src('base', 0, 4), src('ft_a', 0, 4, weight=1), src('ft_b', 0, 4, weight=1, density=0.5), base='base'),
                                             sl(src('ft_a', 4, 8), src('ft_b', 4, 8, weight=1), base='ft_a', density=0.7)], params={'density': 0.4}),
    **both('mixed_slerp', 'slerp', [sl(src('ft_a', 0, 4), src('ft_b', 0, 4), base='ft_a', t=[0, 1]), sl(src('ft_b', 4, 8), src('ft_a', 4, 8), base='ft_b', t=0.3)]),
    **both('mixed_shifted', 'linear', [sl(src('ft_a', 0, 4), src('ft_b', 4, 8)), sl(src('ft_a', 4, 8), src('ft_b', 0, 4))], params={'weight': 1}),
    # Filters: a global parameter (slerp's t) matches the output tensor's name, a per-model one (weight) the model's own.
    **both('filters_output_names', 'slerp', [sl(src('ft_a', 4, 8), src('ft_b', 4, 8))], base='ft_a',
           params={'t': [{'filter': 'layers.1.', 'value': 1}, {'filter': 'layers.5.', 'value': 0.8}, {'value': 0}]}),
    **both('filters_input_names', 'linear', [sl(src('ft_a', 4, 8, weight=[{'filter': 'layers.5.', 'value': 0}, {'value': 1}]), src('ft_b', 0, 4, weight=1))]),
    # The output's last tensors come from the last slice, as many of its sources as the first slice has.
    **both('post_from_last_slice', 'linear', [sl(src('ft_a', 0, 4)), sl(src('ft_b', 4, 8), src('base', 4, 8))], params={'weight': 1}),
    # One slice of part of the stack.
    **both('one_partial_slice', 'linear', [sl(src('ft_a', 2, 6), src('ft_b', 2, 6))], params={'weight': 1}),
    # merge_method in a slice is no key of mergekit's: the top-level method merges every slice.
    'slice_merge_method_ignored': recipe('linear', [dict(sl(src('ft_a', 0, 4), src('ft_b', 0, 4)), merge_method='slerp')], params={'weight': 1}),

    # modules: a multi-module checkpoint, each module its own slices or models (and parameters).
    'modules_mistral3_f32': vlm('float32', **VLM_MODULES),
    'modules_mistral3_bf16': vlm('bfloat16', **VLM_MODULES),
    'models_mistral3_bf16': {'models': [{'model': '../models/vlm_a', 'parameters': {'weight': 0.6}}, {'model': '../models/vlm_b', 'parameters': {'weight': 0.4}}],
                             'merge_method': 'linear', 'dtype': 'bfloat16'},

    # Where mergekit stops.
    'error_range_outside': recipe('passthrough', [sl(src('ft_a', 0, 4)), sl(src('ft_b', 4, 10))]),
    'error_lengths_differ': recipe('linear', [sl(src('ft_a', 0, 4), src('ft_b', 0, 3))], params={'weight': 1}),
    'error_no_base': recipe('task_arithmetic', [sl(src('ft_a', 0, 4), src('ft_b', 0, 4))], params={'weight': 1}),
    'error_base_not_in_slice': recipe('task_arithmetic', [sl(src('base', 0, 4), src('ft_a', 0, 4)), sl(src('ft_a', 4, 8), src('ft_b', 4, 8))], base='base', params={'weight': 1}),
    'error_unknown_model': recipe('passthrough', [sl(src('ft_a', 0, 4)), sl(src('nope', 0, 4))]),
    'error_slices_on_modules': recipe('linear', [sl(src('vlm_a', 0, 3))], params={'weight': 1}),
    'error_unknown_module': vlm('float32', text_tower={'models': [{'model': '../models/vlm_a', 'parameters': {'weight': 1}}]}),
}


def main():
    import yaml
    only = sys.argv[2:]
    if not only:
        shutil.rmtree(OUT, ignore_errors=True)
        models()
    for case, r in CASES.items():
        if only and case not in only:
            continue
        d = os.path.join(OUT, case)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        with open(os.path.join(d, 'recipe.yml'), 'w') as f:
            f.write(r) if isinstance(r, str) else yaml.safe_dump(r, f, sort_keys=False)
        p = subprocess.run([sys.executable, MK_RUN, 'recipe.yml', 'out'], cwd=d, capture_output=True, text=True)
        if p.returncode == 0:
            shutil.move(os.path.join(d, 'out', 'model.safetensors'), os.path.join(d, 'expected.safetensors'))
            # The output config's layer counts (mergekit sets them for slices) and architecture.
            with open(os.path.join(d, 'out', 'config.json')) as f:
                cfg = json.load(f)
            keep = {k: v for k, v in cfg.items() if k in ('architectures', 'num_hidden_layers', 'n_layer')}
            for sub in ('text_config', 'vision_config'):
                if sub in cfg:
                    keep[sub] = {'num_hidden_layers': cfg[sub]['num_hidden_layers']}
            with open(os.path.join(d, 'expected-config.json'), 'w') as f:
                json.dump(keep, f, indent=2, sort_keys=True)
                f.write('\n')
            print('made', case)
        else:
            lines = [l for l in p.stderr.strip().splitlines() if l.strip()]
            at = max([i for i, l in enumerate(lines) if re.match(r'^[\w.]+(Error|Exception)\b', l)] or [len(lines) - 1])
            said = '\n'.join(l for l in lines[at:] if not l.strip().startswith('For further information'))
            with open(os.path.join(d, 'expected-error.txt'), 'w') as f:
                f.write(said + '\n')
            print('error', case, said.replace('\n', ' | '))
        shutil.rmtree(os.path.join(d, 'out'), ignore_errors=True)


main()
