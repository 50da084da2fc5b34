"""Makes test/fixtures/mergekit-more/: for each of passthrough, nuslerp, multislerp, karcher, sce,
nearswap, arcee_fusion, ram and ramplus_tl, recipes in float32 and bfloat16 with several parameter
settings and edge cases, each with what mergekit's real pipeline wrote for it (expected.safetensors)
or the last line it printed when it stopped (expected-error.txt). Float16 recipes are there to find
where mergekit stops (torch 1.13 has no float16 acos, sin, softmax, topk or clamp on the CPU).
torch-topk.json holds torch.topk's picks among tied values, for sce's selection; torch-float32.json
torch's float32 exp, log, softmax and row sums, for arcee_fusion's last bits. The `basic_*`
cases are mergekit's tests/test_basic_merges.py cases for these methods as written,
on the make_picollama-shaped checkpoints of test/fixtures/mergekit-half/models. Run with the
interpreter of ../shared/tools/mergekit-real (torch 1.13):

    DIR/venv/bin/python scripts/mergekit-more-fixtures.py DIR/mk_run.py

Seeded (models, and PYTHONHASHSEED for mergekit's set order of models in its easy_define methods):
the same bytes on every run. Only the outputs are committed."""
import json, os, re, shutil, subprocess, sys
import torch
from safetensors.torch import save_file
from tiny_llama import llama_shapes

MK_RUN = os.path.abspath(sys.argv[1])
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'mergekit-more')
MODELS = os.path.join(OUT, 'models')
CFG = dict(architectures=['LlamaForCausalLM'], model_type='llama', vocab_size=16, hidden_size=8,
           intermediate_size=12, num_attention_heads=2, num_key_value_heads=2, num_hidden_layers=2,
           tie_word_embeddings=False, rms_norm_eps=1e-6, max_position_embeddings=64, hidden_act='silu')
HALF = '../../mergekit-half/models'


def shapes():
    return llama_shapes(CFG['vocab_size'], CFG['hidden_size'], CFG['intermediate_size'], CFG['num_hidden_layers'])


def random_init(seed):
    g = torch.Generator().manual_seed(seed)
    return {k: 1 + torch.randn(s, generator=g) * 0.05 if len(s) == 1 else torch.randn(s, generator=g) * 0.02 for k, s in shapes().items()}


def finetune(base, seed, scale):
    g = torch.Generator().manual_seed(seed)
    return {k: v + torch.randn(v.shape, generator=g) * scale for k, v in base.items()}


def save(name, tensors, config=CFG):
    d = os.path.join(MODELS, name)
    os.makedirs(d, exist_ok=True)
    save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(d, 'model.safetensors'), metadata={'format': 'pt'})
    with open(os.path.join(d, 'config.json'), 'w') as f:
        json.dump(dict(config, torch_dtype='float32'), f, indent=2)


def models():
    base = random_init(1)
    fa, fb, fc = finetune(base, 11, 2e-3), finetune(base, 12, 2e-3), finetune(base, 13, 1e-3)
    # ft_sparse: a fine-tune that moved only some entries (the rest equal the base exactly), as RAM expects.
    g = torch.Generator().manual_seed(14)
    sparse = {k: v + torch.where(torch.rand(v.shape, generator=g) < 0.3, torch.randn(v.shape, generator=g) * 2e-3, torch.zeros(v.shape)) for k, v in base.items()}
    g = torch.Generator().manual_seed(15)
    sparse2 = {k: v + torch.where(torch.rand(v.shape, generator=g) < 0.3, torch.randn(v.shape, generator=g) * 2e-3, torch.zeros(v.shape)) for k, v in base.items()}
    a, b = random_init(2), random_init(3)
    for name, t in [('base', base), ('ft_a', fa), ('ft_b', fb), ('ft_c', fc), ('ft_sparse', sparse), ('ft_sparse2', sparse2),
                    ('model_a', a), ('model_b', b),
                    # Exact negation and doubling: antipodal and parallel vectors without rounding.
                    ('model_a_neg', {k: -v for k, v in a.items()}), ('model_b_neg', {k: -v for k, v in b.items()}),
                    ('model_a_x2', {k: 2 * v for k, v in a.items()}),
                    ('zeros', {k: torch.zeros_like(v) for k, v in a.items()}),
                    ('base_copy', base)]:
        save(name, t)
    # A fine-tune whose vocabulary grew by four tokens: embeddings of another size than the base's.
    g = torch.Generator().manual_seed(16)
    grown = {k: torch.cat([v, torch.randn(4, v.shape[1], generator=g) * 0.02]) if k in ('model.embed_tokens.weight', 'lm_head.weight') else v for k, v in fb.items()}
    save('ft_vocab_20', grown, dict(CFG, vocab_size=CFG['vocab_size'] + 4))


def gpt2_like():
    """A tiny GPT2LMHeadModel checkpoint with the tensor names transformers saves (its head tied, so
    not stored): the stand-in for test_basic_merges' make_gpt2size, which needs transformers to build."""
    E, L, V, P = 8, 2, 16, 12
    g = torch.Generator().manual_seed(5)
    r = lambda *s: torch.randn(*s, generator=g) * 0.02
    t = {'transformer.wte.weight': r(V, E), 'transformer.wpe.weight': r(P, E), 'transformer.ln_f.weight': 1 + r(E), 'transformer.ln_f.bias': r(E)}
    for l in range(L):
        p = f'transformer.h.{l}.'
        t.update({p + 'ln_1.weight': 1 + r(E), p + 'ln_1.bias': r(E), p + 'attn.c_attn.weight': r(E, 3 * E), p + 'attn.c_attn.bias': r(3 * E),
                  p + 'attn.c_proj.weight': r(E, E), p + 'attn.c_proj.bias': r(E), p + 'ln_2.weight': 1 + r(E), p + 'ln_2.bias': r(E),
                  p + 'mlp.c_fc.weight': r(E, 4 * E), p + 'mlp.c_fc.bias': r(4 * E), p + 'mlp.c_proj.weight': r(4 * E, E), p + 'mlp.c_proj.bias': r(E)})
    d = os.path.join(MODELS, 'gpt2_like')
    os.makedirs(d, exist_ok=True)
    save_file(t, os.path.join(d, 'model.safetensors'), metadata={'format': 'pt'})
    with open(os.path.join(d, 'config.json'), 'w') as f:
        json.dump({'architectures': ['GPT2LMHeadModel'], 'model_type': 'gpt2', 'n_embd': E, 'n_layer': L, 'n_head': 2, 'n_positions': P,
                   'n_ctx': P, 'vocab_size': V, 'torch_dtype': 'float32'}, f, indent=2)


def m(name, **params):
    path = f'{HALF}/{name[5:]}' if name.startswith('half:') else f'../models/{name}'
    return {'model': path, **({'parameters': params} if params else {})}


def recipe(method, models_, base=None, params=None, dtype='float32'):
    r = {'merge_method': method}
    if base:
        r['base_model'] = m(base)['model']
    r['models'] = models_
    if params:
        r['parameters'] = params
    if dtype:
        r['dtype'] = dtype
    return r


def both(name, method, models_, base=None, params=None):
    """The same recipe in float32 and bfloat16."""
    return {f'{name}_f32': recipe(method, models_, base, params, 'float32'), f'{name}_bf16': recipe(method, models_, base, params, 'bfloat16')}


def basic(method, base=None, params=None, a='model_a', b='model_b'):
    """tests/test_basic_merges.py's two_model_config on the picollama checkpoints."""
    return recipe(method, [m('half:' + a, weight=0.6), m('half:' + b, weight=0.4)], 'half:' + base if base else None, params, 'bfloat16')


FTS = [m('ft_a', weight=0.5), m('ft_b', weight=0.3), m('ft_c', weight=0.2)]
CASES = {
    # tests/test_basic_merges.py, as written.
    'basic_granite_copy': recipe('passthrough', [m('half:granite_a')], dtype='bfloat16'),
    'basic_gpt2_copy': recipe('passthrough', [m('gpt2_like')], dtype='bfloat16'),
    'basic_passthrough_scale': recipe('passthrough', [m('half:model_a', scale=[{'filter': 'o_proj', 'value': 0}, {'value': 1}])], dtype=None),
    **{f'basic_nuslerp_{"base" if base else "nobase"}_row{int(rw)}_flat{int(fl)}': basic('nuslerp', base, {'nuslerp_row_wise': rw, 'nuslerp_flatten': fl})
       for base in [None, 'model_c'] for rw in [False, True] for fl in [False, True]},
    'basic_nuslerp_weights_sum_zero': recipe('nuslerp', [m('half:model_a', weight=-0.5), m('half:model_b', weight=0.5)], 'half:model_c',
                                             {'nuslerp_row_wise': False, 'nuslerp_flatten': False}, 'bfloat16'),
    'basic_sce': basic('sce', 'model_c', {'select_topk': 0.5}),
    'basic_ram': basic('ram', 'model_c'),
    'basic_ramplus_tl': basic('ramplus_tl', 'model_c', {'r': 0.05, 'alpha': 1.0}),
    'basic_multislerp': basic('multislerp', 'model_c'),
    'basic_arcee_fusion': basic('arcee_fusion', 'model_a'),
    'basic_nearswap': basic('nearswap', 'model_a', {'t': 0.0001}),
    'basic_karcher': basic('karcher', 'model_c', {'max_iter': 5, 'tol': 1e-5}),

    # passthrough
    **both('passthrough', 'passthrough', [m('ft_a')]),
    **both('passthrough_scale', 'passthrough', [m('ft_a', scale=[0.5, 2])]),
    **both('passthrough_scale_global', 'passthrough', [m('ft_a')], params={'scale': [{'filter': 'mlp', 'value': -1.5}, {'value': 0.3}]}),
    'passthrough_listed_base_bf16': recipe('passthrough', [m('base', scale=3)], 'base', dtype='bfloat16'),
    'passthrough_fp16': recipe('passthrough', [m('ft_a', scale=0.7)], dtype='float16'),
    'passthrough_two_models': recipe('passthrough', [m('ft_a'), m('ft_b')]),
    'passthrough_unlisted_base': recipe('passthrough', [m('ft_a')], 'base'),

    # nuslerp
    **both('nuslerp_fts', 'nuslerp', [m('ft_a', weight=0.7), m('ft_b', weight=0.3)]),
    **both('nuslerp_fts_row_wise', 'nuslerp', [m('ft_a', weight=1), m('ft_b', weight=2)], params={'nuslerp_row_wise': True, 'nuslerp_flatten': False}),
    **both('nuslerp_fts_rows', 'nuslerp', [m('ft_a', weight=1), m('ft_b', weight=2)], params={'nuslerp_flatten': False}),
    **both('nuslerp_task_vectors', 'nuslerp', [m('ft_a', weight=0.4), m('ft_b', weight=0.6)], 'base'),
    **both('nuslerp_task_vectors_rows', 'nuslerp', [m('ft_a', weight=0.4), m('ft_b', weight=0.6)], 'base', {'nuslerp_flatten': False}),
    **both('nuslerp_task_vectors_row_wise', 'nuslerp', [m('ft_a', weight=0.4), m('ft_b', weight=0.6)], 'base', {'nuslerp_row_wise': True, 'nuslerp_flatten': False}),
    **both('nuslerp_parallel', 'nuslerp', [m('model_a', weight=1), m('model_a_x2', weight=1)], params={'nuslerp_flatten': False}),
    **both('nuslerp_zero_task_vector', 'nuslerp', [m('base_copy', weight=1), m('ft_a', weight=1)], 'base', {'nuslerp_flatten': False}),
    **both('nuslerp_weights_gradient', 'nuslerp', [m('ft_a', weight=[0, 1]), m('ft_b', weight=1)], 'base'),
    'nuslerp_fp16': recipe('nuslerp', [m('ft_a', weight=1), m('ft_b', weight=1)], dtype='float16'),
    'nuslerp_base_is_one_of_two': recipe('nuslerp', [m('base', weight=1), m('ft_a', weight=1)], 'base'),
    'nuslerp_three_models': recipe('nuslerp', FTS),
    'nuslerp_missing_weight': recipe('nuslerp', [m('ft_a', weight=1), m('ft_b')]),

    # multislerp
    **both('multislerp_fts', 'multislerp', FTS, 'base'),
    **both('multislerp_fts_unnormalized', 'multislerp', [m('ft_a', weight=0.6), m('ft_b', weight=0.7)], 'base', {'normalize_weights': False}),
    **both('multislerp_no_base', 'multislerp', [m('model_a', weight=1), m('model_b', weight=2), m('ft_a', weight=1)]),
    **both('multislerp_antipodal_two', 'multislerp', [m('model_a', weight=1), m('model_a_neg', weight=1)]),
    'multislerp_antipodal_four': recipe('multislerp', [m('model_a', weight=1), m('model_a_neg', weight=1), m('model_b', weight=1), m('model_b_neg', weight=1)]),
    **both('multislerp_eps', 'multislerp', [m('ft_a', weight=1), m('ft_b', weight=1)], 'base', {'eps': 0.01}),
    **both('multislerp_one_model', 'multislerp', [m('ft_a', weight=1)], 'base'),
    'multislerp_fp16': recipe('multislerp', [m('ft_a', weight=1), m('ft_b', weight=1)], 'base', dtype='float16'),

    # karcher
    **both('karcher_fts', 'karcher', [m('ft_a'), m('ft_b'), m('ft_c')], 'base'),
    **both('karcher_models', 'karcher', [m('model_a'), m('model_b')], params={'max_iter': 20, 'tol': 1e-7}),
    **both('karcher_one_iteration', 'karcher', [m('model_a'), m('model_b'), m('ft_a')], params={'max_iter': 1}),
    **both('karcher_no_iterations', 'karcher', [m('model_a'), m('model_b')], params={'max_iter': 0}),
    **both('karcher_zero_model', 'karcher', [m('model_a'), m('zeros'), m('model_b')]),
    **both('karcher_tol_above_norms', 'karcher', [m('model_a'), m('model_b')], params={'tol': 10}),
    'karcher_fp16': recipe('karcher', [m('model_a'), m('model_b')], dtype='float16'),
    'karcher_float_max_iter': recipe('karcher', [m('model_a'), m('model_b')], params={'max_iter': 2.5}),

    # sce
    **both('sce_fts', 'sce', [m('ft_a'), m('ft_b'), m('ft_c')], 'base'),
    **both('sce_topk', 'sce', [m('ft_a'), m('ft_b'), m('ft_c')], 'base', {'select_topk': 0.3}),
    **both('sce_topk_two', 'sce', [m('ft_a'), m('ft_b')], 'base', {'select_topk': 0.7, 'int8_mask': True}),
    **both('sce_topk_zero', 'sce', [m('ft_a'), m('ft_b')], 'base', {'select_topk': 0}),
    **both('sce_sparse', 'sce', [m('ft_sparse'), m('ft_sparse2')], 'base', {'select_topk': 0.5}),
    **both('sce_one_model', 'sce', [m('ft_a')], 'base', {'select_topk': 0.5}),
    'sce_fp16': recipe('sce', [m('ft_a'), m('ft_b')], 'base', dtype='float16'),
    'sce_no_base': recipe('sce', [m('ft_a'), m('ft_b')]),

    # nearswap
    **both('nearswap', 'nearswap', [m('ft_a')], 'base', {'t': 0.001}),
    **both('nearswap_listed_base', 'nearswap', [m('base'), m('ft_b')], 'base', {'t': 0.002}),
    **both('nearswap_models', 'nearswap', [m('model_b')], 'model_a', {'t': 0.01}),
    **both('nearswap_t_zero', 'nearswap', [m('ft_a')], 'base', {'t': 0}),
    **both('nearswap_t_gradient', 'nearswap', [m('ft_a')], 'base', {'t': [0.0005, 0.01]}),
    'nearswap_fp16': recipe('nearswap', [m('ft_a')], 'base', {'t': 0.001}, 'float16'),
    'nearswap_two_models': recipe('nearswap', [m('ft_a'), m('ft_b')], 'base', {'t': 0.001}),
    'nearswap_no_t': recipe('nearswap', [m('ft_a')], 'base'),

    # arcee_fusion
    **both('arcee_fusion', 'arcee_fusion', [m('base'), m('ft_a')], 'base'),
    **both('arcee_fusion_models', 'arcee_fusion', [m('model_b'), m('model_a')], 'model_a'),
    **both('arcee_fusion_sparse', 'arcee_fusion', [m('base'), m('ft_sparse')], 'base'),
    'arcee_fusion_fp16': recipe('arcee_fusion', [m('base'), m('ft_a')], 'base', dtype='float16'),
    'arcee_fusion_unlisted_base': recipe('arcee_fusion', [m('ft_a'), m('ft_b')], 'base'),
    'arcee_fusion_no_base': recipe('arcee_fusion', [m('ft_a'), m('ft_b')]),

    # Embeddings of different vocabulary sizes: nuslerp and arcee_fusion merge the common block
    # (rectify_embed_sizes); the others stack the tensors as they are, and fail.
    'nuslerp_vocab_bf16': recipe('nuslerp', [m('ft_a', weight=1), m('ft_vocab_20', weight=1)], 'base', dtype='bfloat16'),
    'arcee_fusion_vocab_bf16': recipe('arcee_fusion', [m('base'), m('ft_vocab_20')], 'base', dtype='bfloat16'),
    'karcher_vocab': recipe('karcher', [m('ft_a'), m('ft_vocab_20')]),
    'multislerp_vocab': recipe('multislerp', [m('ft_a', weight=1), m('ft_vocab_20', weight=1)], 'base'),
    'sce_vocab': recipe('sce', [m('ft_a'), m('ft_vocab_20')], 'base'),
    'nearswap_vocab': recipe('nearswap', [m('ft_vocab_20')], 'base', {'t': 0.001}),
    'ram_vocab': recipe('ram', [m('ft_a'), m('ft_vocab_20')], 'base'),

    # ram, ramplus_tl
    **both('ram_fts', 'ram', [m('ft_a'), m('ft_b'), m('ft_c')], 'base'),
    **both('ram_sparse', 'ram', [m('ft_sparse'), m('ft_sparse2'), m('ft_c')], 'base'),
    **both('ram_epsilon', 'ram', [m('ft_a'), m('ft_b'), m('ft_c')], 'base', {'epsilon': 2e-3}),
    **both('ramplus_tl_fts', 'ramplus_tl', [m('ft_a'), m('ft_b'), m('ft_c')], 'base'),
    **both('ramplus_tl_sparse', 'ramplus_tl', [m('ft_sparse'), m('ft_sparse2')], 'base', {'r': 0.5, 'alpha': 0.8}),
    **both('ramplus_tl_epsilon', 'ramplus_tl', [m('ft_a'), m('ft_b'), m('ft_sparse')], 'base', {'epsilon': 2e-3, 'r': 1, 'alpha': 2}),
    'ram_fp16': recipe('ram', [m('ft_a'), m('ft_b')], 'base', dtype='float16'),
    'ramplus_tl_fp16': recipe('ramplus_tl', [m('ft_a'), m('ft_b')], 'base', dtype='float16'),
}


def topk_reference():
    """torch.topk's picks among equal values (sce's selection), on both of its paths: partial_sort
    (k·64 <= n) and nth_element. Small integers, so most values tie."""
    g = torch.Generator().manual_seed(21)
    cases = []
    for n, levels, ks in [(48, 5, [1, 7, 24, 47]), (200, 8, [3, 50, 120]), (640, 4, [10, 11, 300]), (1000, 16, [15, 500, 999]), (130, 1, [2, 65])]:
        values = torch.randint(0, levels, (n,), generator=g).float()
        for k in ks:
            cases.append({'values': values.int().tolist(), 'k': k, 'indices': sorted(torch.topk(values, k).indices.tolist())})
    with open(os.path.join(OUT, 'torch-topk.json'), 'w') as f:
        json.dump(cases, f)


def float32_reference():
    """torch's float32 exp, log, softmax and row sums (this build: AVX2, SLEEF), as base64
    little-endian float32, for the last-bit model arcee_fusion's KL divergence needs."""
    import base64
    g = torch.Generator().manual_seed(22)
    b64 = lambda t: base64.b64encode(t.contiguous().numpy().tobytes()).decode()
    x = torch.cat([torch.randn(500, generator=g) * 3, -torch.rand(200, generator=g) * 20, torch.randn(100, generator=g) * 1e-3])
    y = torch.cat([torch.rand(300, generator=g) + 0.5, torch.exp(torch.randn(400, generator=g) * 5), 1 + torch.randn(100, generator=g) * 1e-6])
    out = {'exp': {'x': b64(x), 'y': b64(torch.exp(x))}, 'log': {'x': b64(y), 'y': b64(torch.log(y))}, 'softmax': [], 'sum': []}
    for n in [3, 8, 12, 20, 48, 100]:
        rows = torch.randn(10, n, generator=g) * 0.05
        out['softmax'].append({'n': n, 'x': b64(rows), 'y': b64(torch.softmax(rows, dim=-1))})
    # 2100: 65 groups of four vectors, so torch's sum carries its accumulators up a level.
    for n in [3, 8, 12, 40, 48, 100, 1000, 2100]:
        rows = torch.randn(3, n, generator=g)
        out['sum'].append({'n': n, 'x': b64(rows), 'y': b64(rows.sum(-1))})
    with open(os.path.join(OUT, 'torch-float32.json'), 'w') as f:
        json.dump(out, f)


def main():
    import yaml
    only = sys.argv[2:]
    if not only:
        shutil.rmtree(OUT, ignore_errors=True)
        models()
    if not only or 'basic_gpt2_copy' in only:
        gpt2_like()
    if not only or 'torch-topk' in only:
        topk_reference()
    if not only or 'torch-float32' in only:
        float32_reference()
    env = dict(os.environ, PYTHONHASHSEED='0')
    for case, r in CASES.items():
        if only and case not in only:
            continue
        d = os.path.join(OUT, case)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        with open(os.path.join(d, 'recipe.yml'), 'w') as f:
            yaml.safe_dump(r, f, sort_keys=False)
        p = subprocess.run([sys.executable, MK_RUN, 'recipe.yml', 'out'], cwd=d, capture_output=True, text=True, env=env)
        if p.returncode == 0:
            shutil.move(os.path.join(d, 'out', 'model.safetensors'), os.path.join(d, 'expected.safetensors'))
            print('made', case)
        else:
            # The exception line and what follows it (pydantic explains on the next lines).
            lines = [l for l in p.stderr.strip().splitlines() if l.strip()]
            at = max([i for i, l in enumerate(lines) if re.match(r'^[\w.]+(Error|Exception)\b', l)] or [len(lines) - 1])
            said = '\n'.join(l for l in lines[at:] if not l.strip().startswith('For further information'))
            with open(os.path.join(d, 'expected-error.txt'), 'w') as f:
                f.write(said + '\n')
            print('error', case, said.replace('\n', ' | '))
        shutil.rmtree(os.path.join(d, 'out'), ignore_errors=True)


main()
