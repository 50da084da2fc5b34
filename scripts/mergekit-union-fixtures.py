"""Makes test/fixtures/mergekit-union/: tiny Llama checkpoints whose tokenizers differ, and for each
recipe the folder mergekit's real pipeline writes with `tokenizer_source: union` (model.safetensors,
config.json and the tokenizer files). Run with the interpreter of ../shared/tools/mergekit-real:

    DIR/venv/bin/python scripts/mergekit-union-fixtures.py DIR/mk_run.py

The models (hidden size 8, as test/fixtures/mergekit-recipes/models):
- base: the 16-token tokenizer of scripts/tiny-tokenizer.py, 16 embedding rows.
- ft1:  base's tokens and one more piece, "x" (17 rows).
- ft2:  the pieces in another order, without "la", with "x", and two added special tokens
        "<|sep|>" and "<|tool|>" (18 rows).
So the union vocabulary has base's 16 tokens, then "x", "<|sep|>" and "<|tool|>"; "la" comes from
base and ft1 only (ft2 gets base's row), "x" from ft1 and ft2 (base gets their average),
"<|sep|>" and "<|tool|>" from ft2 alone (the others get its rows).

mergekit's union is not deterministic in general: each tokenizer's new pieces are added in the
order of a Rust hash map (get_vocab()), and the models in a Python set's order (so is the base of a
recipe without base_model). Here only ft1 brings a new piece and only ft2 new added tokens (taken in
id order), every recipe names its base, and averages are of two rows, so every run gives the same
files. mergekit also merges the re-ordered embeddings in a set's order of the models, so a linear
sum over three models could round differently from run to run: the linear recipes merge two.

Seeded: the same checkpoints and outputs on every run."""
import json, os, shutil, subprocess, sys
import torch
from safetensors.torch import save_file
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast
from tiny_llama import llama_shapes

MK_RUN = os.path.abspath(sys.argv[1])
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fixtures', 'mergekit-union')
MODELS = os.path.join(OUT, 'models')
SPECIAL = ['<unk>', '<s>', '</s>']
PIECES = ['a', 'b', 'c', 'd', 'e', 'g', 'l', 'm', 'r', 'me', 'mer', 'merg', 'la']
MERGES = [('m', 'e'), ('me', 'r'), ('mer', 'g'), ('l', 'a')]
CFG = dict(architectures=['LlamaForCausalLM'], model_type='llama', hidden_size=8, intermediate_size=16,
           num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2, tie_word_embeddings=False,
           rms_norm_eps=1e-05, max_position_embeddings=64, hidden_act='silu')

TOKENIZERS = {
    'base': (SPECIAL + PIECES, MERGES, []),
    'ft1': (SPECIAL + PIECES + ['x'], MERGES, []),
    'ft2': (SPECIAL + ['x', 'e', 'd', 'c', 'b', 'a', 'g', 'r', 'm', 'l', 'me', 'mer', 'merg'], MERGES[:3], ['<|sep|>', '<|tool|>']),
}


def tokenizer(tokens, merges, added):
    tok = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=merges, unk_token='<unk>'))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.decoder = decoders.BPEDecoder()
    tok.add_special_tokens(SPECIAL + added)
    extra = {'additional_special_tokens': added} if added else {}
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token='<s>', eos_token='</s>', unk_token='<unk>', model_max_length=64, **extra)


def shapes(v):
    return llama_shapes(v, CFG['hidden_size'], CFG['intermediate_size'], CFG['num_hidden_layers'])


def save_model(name, seed):
    d = os.path.join(MODELS, name)
    os.makedirs(d, exist_ok=True)
    tokens, merges, added = TOKENIZERS[name]
    v = len(tokens) + len(added)
    g = torch.Generator().manual_seed(seed)
    tensors = {k: (torch.ones(s) + torch.randn(s, generator=g) * 0.01) if len(s) == 1 else torch.randn(s, generator=g) * 0.5
               for k, s in shapes(v).items()}
    save_file({k: t.contiguous() for k, t in tensors.items()}, os.path.join(d, 'model.safetensors'), metadata={'format': 'pt'})
    with open(os.path.join(d, 'config.json'), 'w') as f:
        json.dump(dict(CFG, vocab_size=v, torch_dtype='float32'), f, indent=2)
    tokenizer(tokens, merges, added).save_pretrained(d)


RECIPES = {
    'linear-f32': 'merge_method: linear\nbase_model: models/base\nmodels:\n  - model: models/base\n    parameters: {weight: 0.6}\n  - model: models/ft2\n    parameters: {weight: 0.4}\ndtype: float32\ntokenizer_source: union\n',
    'linear-bf16': 'merge_method: linear\nbase_model: models/base\nmodels:\n  - model: models/base\n    parameters: {weight: 0.6}\n  - model: models/ft2\n    parameters: {weight: 0.4}\ndtype: bfloat16\ntokenizer_source: union\n',
    'ties-f32': 'merge_method: ties\nbase_model: models/base\nmodels:\n  - model: models/ft1\n    parameters: {weight: 0.6, density: 0.5}\n  - model: models/ft2\n    parameters: {weight: 0.4, density: 0.7}\ndtype: float32\ntokenizer_source: union\n',
    'ties-bf16': 'merge_method: ties\nbase_model: models/base\nmodels:\n  - model: models/ft1\n    parameters: {weight: 0.6, density: 0.5}\n  - model: models/ft2\n    parameters: {weight: 0.4, density: 0.7}\ndtype: bfloat16\ntokenizer:\n  source: union\n',
}

# The tokenizer section's `tokens` (each token added to the vocabulary, then the row named for it):
# a new token from ft1's "x", "la" forced to ft1's row in every model, "<|sep|>" (which becomes a
# plain added token) from base's row 3, "x" from ft2 instead of the average. ({kind: zero} is left
# out: mergekit fails on it.)
LINEAR_TOKENS = ('  tokens:\n'
                 '    "<|im|>": {source: {kind: model_token, model: models/base, token: "m"}}\n'
                 '    a: {source: models/ft2, force: true}\n'
                 '    "<|sep|>": {source: {kind: model_token, model: models/base, token_id: 3}}\n')
TOKENS = ('  tokens:\n'
          '    "<|im|>": {source: {kind: model_token, model: models/ft1, token: "x"}}\n'
          '    la: {source: models/ft1, force: true}\n'
          '    "<|sep|>": {source: {kind: model_token, model: models/base, token_id: 3}}\n'
          '    x: {source: models/ft2}\n')
RECIPES['ties-bf16-tokens'] = RECIPES['ties-bf16'] + TOKENS
RECIPES['linear-f32-tokens'] = RECIPES['linear-f32'].replace('tokenizer_source: union\n', 'tokenizer:\n  source: union\n') + LINEAR_TOKENS


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    for i, name in enumerate(TOKENIZERS):
        save_model(name, 100 + i)
    os.makedirs(os.path.join(OUT, 'recipes'), exist_ok=True)
    for name, text in RECIPES.items():
        path = os.path.join(OUT, 'recipes', name + '.yml')
        with open(path, 'w') as f:
            f.write(text.replace('models/', '../models/'))
        out = os.path.join(OUT, 'expected', name)
        subprocess.run([sys.executable, MK_RUN, path, out], cwd=os.path.dirname(path), check=True)
        # Keep what the test compares: weights, config and the tokenizer's files.
        for f in os.listdir(out):
            if f in ('README.md', 'mergekit_config.yml'):
                os.remove(os.path.join(out, f))
        print(name, sorted(os.listdir(out)))


if __name__ == '__main__':
    main()
