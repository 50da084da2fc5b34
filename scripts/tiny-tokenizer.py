#!/usr/bin/env python3
"""Writes the tiny tokenizer of the Llama-shaped test models (test/fixtures/mergekit-recipes/models/).

Those models have a 16-row embedding (vocab_size 16), so this is a 16-token BPE tokenizer: three
special tokens and 13 pieces, built from a fixed vocabulary and merge list (no training, so the
output is the same on every run). It is saved through transformers' own save_pretrained, so the
files are laid out as a real model's are. ft1 also gets a chat_template.jinja of its own, so a
recipe can tell whose tokenizer it copied.

    /work/mk/env/venv/bin/python scripts/tiny-tokenizer.py   # tokenizers 0.23.2, transformers 5.17.0
"""
import pathlib

from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

ROOT = pathlib.Path(__file__).resolve().parent.parent / "test" / "fixtures" / "mergekit-recipes" / "models"

SPECIAL = ["<unk>", "<s>", "</s>"]
PIECES = ["a", "b", "c", "d", "e", "g", "l", "m", "r", "me", "mer", "merg", "la"]
MERGES = [("m", "e"), ("me", "r"), ("mer", "g"), ("l", "a")]
FT1_TEMPLATE = "{% for m in messages %}<s>{{ m['role'] }}: {{ m['content'] }}</s>{% endfor %}{% if add_generation_prompt %}<s>assistant: {% endif %}"


def build() -> PreTrainedTokenizerFast:
    vocab = {t: i for i, t in enumerate(SPECIAL + PIECES)}
    assert len(vocab) == 16
    tok = Tokenizer(models.BPE(vocab=vocab, merges=MERGES, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.decoder = decoders.BPEDecoder()
    tok.add_special_tokens(SPECIAL)
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>", model_max_length=64)


def main() -> None:
    for name in ["base", "ft1", "ft2", "ft3"]:
        out = ROOT / name
        tok = build()
        if name == "ft1":
            tok.chat_template = FT1_TEMPLATE
        tok.save_pretrained(str(out))
        print("wrote", sorted(p.name for p in out.iterdir() if p.suffix != ".safetensors"))


if __name__ == "__main__":
    main()
