#!/usr/bin/env python3
"""Writes test/fixtures/lm/: tiny random transformer language models saved by transformers itself,
and the logits and per-token losses transformers computes for them (expected.json).

    python3 -m venv /work/lmref/venv
    P="--no-index --find-links /opt/pypi-more/files --find-links /opt/pypi/files"
    # torch's CUDA wheel wants cuda-bindings, which is not on disk: torch and its nvidia/cuda wheels without dependencies
    /work/lmref/venv/bin/pip install $P --no-deps torch==2.14.1 /opt/pypi-more/files/nvidia_* /opt/pypi/files/nvidia_* /opt/pypi-more/files/cuda_*
    /work/lmref/venv/bin/pip install $P transformers==5.18.0 numpy safetensors tokenizers huggingface_hub \
        filelock typing-extensions sympy networkx jinja2 fsspec setuptools
    /work/lmref/venv/bin/python scripts/lm-reference-fixtures.py   # runs on the CPU; rerunning gives the same bytes

Every model is float32 with weights drawn from a fixed seed, wider than transformers' default
initialisation (std 0.02 would make every logit nearly 0 and any forward look right): norms and
biases are random too. llama-tied-bf16 is llama-tied stored in bfloat16; its expected numbers are
transformers' float32 forward over those bfloat16 weights. llama-bytes has a 256-entry vocabulary
and no tokenizer files (merge-lab reads its text as UTF-8 bytes). llama-tied carries a byte-level
BPE tokenizer trained here on a fixed text.

expected.json holds, per model: the token ids (two sequences), the logits at a few positions,
the per-token negative log-likelihood (nats) of each next token, and, for the scoring and CLI
tests, a text file's total NLL scored in non-overlapping windows as merge-lab scores it (inputs
tokens[s, s+c), targets tokens[s+1, s+c+1), no special tokens added). The tokenizer's ids for a
few strings are under "tokenizer".
"""
import json
import math
import pathlib
import shutil

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import (GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM, MistralConfig,
                          MistralForCausalLM, PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM)

ROOT = pathlib.Path(__file__).resolve().parent.parent / "test" / "fixtures" / "lm"
TEXT = ROOT / "texts" / "sample.txt"
SAMPLE = (
    "Merging models: task vectors add, conflicts cancel.\n"
    "Les modèles fusionnés gardent leurs forces — parfois.\n"
    "def merge(a, b):\n    return [(x + y) / 2 for x, y in zip(a, b)]  # average\n"
    "Zusammengeführte Modelle: 42 Schichten, 7 Köpfe. ✓\n"
)
TOKENIZER_STRINGS = ["hello world", "Merging models: task vectors add.", "  two  spaces\tand tab\n", "émoji ✓ 🤖 über", "def f(x):\n    return x*2"]
SEQ = 12
LOGIT_POSITIONS = [0, 5, SEQ - 1]
torch.manual_seed(0)


def byte_bpe(vocab_size: int) -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator([SAMPLE * 3, " ".join(TOKENIZER_STRINGS)], trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>")


def widen(model: torch.nn.Module, seed: int) -> None:
    """Random weights with std 0.3 (0.1 for biases, 1 ± 0.2 for norm gains)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name or ".ln_" in name or name.endswith("ln_f.weight"):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g) if name.endswith("weight") else 0.1 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.3 * torch.randn(p.shape, generator=g))


def nll_per_token(model, ids: torch.Tensor) -> torch.Tensor:
    logits = model(input_ids=ids).logits.float()
    logp = torch.log_softmax(logits[:, :-1], dim=-1)
    return -logp.gather(-1, ids[:, 1:, None])[..., 0]


def scored_text(model, ids: list[int], context: int) -> dict:
    """merge-lab's windows: inputs tokens[s, s+c), targets tokens[s+1, s+c+1), s = 0, c, 2c, …"""
    total, count, windows = 0.0, 0, []
    for s in range(0, len(ids) - 1, context):
        window = torch.tensor([ids[s:s + context + 1]])
        nll = nll_per_token(model, window)[0]
        windows.append({"tokens": int(nll.numel()), "nll": float(nll.double().sum())})
        total += float(nll.double().sum())
        count += int(nll.numel())
    return {"context": context, "tokens": count, "nll": total, "bytes": len(SAMPLE.encode("utf-8")), "windows": windows}


def save(name: str, model, tokenizer=None, dtype=None) -> None:
    out = ROOT / name
    shutil.rmtree(out, ignore_errors=True)
    if dtype is not None:
        model = model.to(dtype)
    model.save_pretrained(out)
    if tokenizer is not None:
        tokenizer.save_pretrained(out)


def reference(model, vocab: int, text_ids: list[int] | None, context: int) -> dict:
    model = model.float().eval()
    g = torch.Generator().manual_seed(vocab)
    ids = torch.randint(0, vocab, (2, SEQ), generator=g)
    with torch.no_grad():
        logits = model(input_ids=ids).logits
        out = {
            "tokens": ids.tolist(),
            "logitPositions": LOGIT_POSITIONS,
            "logits": [[logits[b, t].tolist() for t in LOGIT_POSITIONS] for b in range(2)],
            "nll": nll_per_token(model, ids).tolist(),
        }
        if text_ids is not None:
            out["text"] = scored_text(model, text_ids, context)
    return out


def rounded(value):
    """Floats to 9 significant digits (float32 needs 9 to round-trip), so the file stays small."""
    if isinstance(value, float):
        return float(f"{value:.9g}")
    if isinstance(value, list):
        return [rounded(v) for v in value]
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    return value


def main() -> None:
    ROOT.mkdir(parents=True, exist_ok=True)
    TEXT.parent.mkdir(exist_ok=True)
    TEXT.write_text(SAMPLE, encoding="utf-8")
    tokenizer = byte_bpe(320)
    vocab = len(tokenizer)
    common = dict(hidden_size=32, intermediate_size=48, num_hidden_layers=2, max_position_embeddings=128, rms_norm_eps=1e-5)
    specs = {
        "llama-tied": (LlamaForCausalLM, LlamaConfig(vocab_size=vocab, num_attention_heads=4, num_key_value_heads=2, rope_theta=50000.0, tie_word_embeddings=True, **common), tokenizer, 16),
        "llama-untied": (LlamaForCausalLM, LlamaConfig(vocab_size=96, num_attention_heads=4, num_key_value_heads=2, head_dim=12, rope_theta=1000.0, attention_bias=True, mlp_bias=True, tie_word_embeddings=False, **common), None, 16),
        "mistral": (MistralForCausalLM, MistralConfig(vocab_size=96, num_attention_heads=4, num_key_value_heads=1, sliding_window=64, rope_theta=10000.0, tie_word_embeddings=False, **common), None, 16),
        "qwen2": (Qwen2ForCausalLM, Qwen2Config(vocab_size=96, num_attention_heads=4, num_key_value_heads=2, rope_theta=20000.0, tie_word_embeddings=True, **common), None, 16),
        "gpt2": (GPT2LMHeadModel, GPT2Config(vocab_size=96, n_embd=32, n_layer=2, n_head=4, n_positions=64, bos_token_id=0, eos_token_id=0), None, 16),
        "llama-bytes": (LlamaForCausalLM, LlamaConfig(vocab_size=256, num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True, **common), None, 24),
    }
    expected: dict = {}
    for i, (name, (cls, config, tok, context)) in enumerate(specs.items()):
        model = cls(config)
        widen(model, 100 + i)
        save(name, model, tok)
        # Only models with a tokenizer of their own (or bytes) score the sample text.
        text_ids = tok(SAMPLE, add_special_tokens=False)["input_ids"] if tok is not None else list(SAMPLE.encode("utf-8")) if name == "llama-bytes" else None
        expected[name] = reference(model, config.vocab_size, text_ids, context)
        if name == "llama-tied":
            # The reference runs in float32 over the bfloat16-rounded weights: casting the model
            # itself would round RoPE's inverse-frequency buffer to bfloat16 too.
            half = cls(config)
            half.load_state_dict({k: v.to(torch.bfloat16).float() for k, v in model.state_dict().items()})
            expected["llama-tied-bf16"] = reference(half, config.vocab_size, text_ids, context)
            save("llama-tied-bf16", half, tok, dtype=torch.bfloat16)
    expected["tokenizer"] = {"model": "llama-tied", "strings": [{"text": s, "ids": tokenizer(s, add_special_tokens=False)["input_ids"]} for s in TOKENIZER_STRINGS]}
    expected["versions"] = {"torch": torch.__version__, "transformers": __import__("transformers").__version__}
    (ROOT / "expected.json").write_text(json.dumps(rounded(expected), separators=(",", ":")) + "\n")
    for p in sorted(ROOT.rglob("*")):
        if p.is_file():
            print(f"{p.relative_to(ROOT)}: {p.stat().st_size} bytes")
    print("sample text ln(ppl):", {k: v["text"]["nll"] / v["text"]["tokens"] for k, v in expected.items() if isinstance(v, dict) and "text" in v})
    print("logit std:", {k: float(torch.tensor(v["logits"]).std()) for k, v in expected.items() if isinstance(v, dict) and "logits" in v})
    assert math.isfinite(sum(sum(r) for v in expected.values() if isinstance(v, dict) and "nll" in v for r in v["nll"]))


if __name__ == "__main__":
    main()
