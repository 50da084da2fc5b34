#!/usr/bin/env python3
"""Writes test/fixtures/lora/: PEFT LoRA adapters for the tiny Llama base of the mergekit recipe
fixtures, and the models that mergekit would merge when a recipe names `base+adapter`.

mergekit applies an adapter with `PeftModel.from_pretrained(base, adapter).merge_and_unload()`
(mergekit/common.py, ModelReference.merged). peft cannot be imported under the torch 1.13 used
for the other fixtures, so this script follows what that call does (peft 0.18, transformers 5)
step by step, with torch's own ops on the same dtypes:

- transformers 5 loads the base in `lora_merge_dtype` if given, else config.json's `dtype` /
  `torch_dtype`, else the dtype of its first floating tensor ("auto"); every floating tensor is
  cast to that dtype L, and `save_pretrained` writes them all in L.
- peft creates lora_A / lora_B, casts them to float32 (`autocast_adapter_dtype=True`), then copies
  the adapter file's values in: A and B are the stored values in float32, whatever L is.
- Linear: `weight += (B @ A) * scaling` in place: the delta is float32, the sum is rounded to
  float32 and then to L (torch's mixed-dtype in-place add). `fan_in_fan_out` transposes the delta.
  `lora_B.bias` (lora_bias) adds `bias * scaling` the same way.
- Embedding: `weight += ((B @ A).T * scaling).to(L)`: the delta is rounded to L first.
- scaling = lora_alpha / r, or lora_alpha / sqrt(r) with use_rslora; rank_pattern / alpha_pattern
  pick r and alpha per module (peft's get_pattern_key: the first key with `(.*\\.)?(key)$`).
- modules_to_save: the saved full tensors replace the base's, cast to L.

Run with the mergekit fixtures' Python (torch 1.13, safetensors):

    /work/mk/env/venv/bin/python scripts/lora-fixture.py

Seeded; rerunning writes the same bytes. The tests read only the files written here.
"""
import json
import math
import pathlib
import re
import shutil

import torch
from safetensors.torch import load_file, save_file

ROOT = pathlib.Path(__file__).resolve().parent.parent
MODELS = ROOT / "test" / "fixtures" / "mergekit-recipes" / "models"
OUT = ROOT / "test" / "fixtures" / "lora"
BASE_REL = "test/fixtures/mergekit-recipes/models/base"  # as base_model_name_or_path: relative to the repository root

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
PREFIX = "base_model.model."

gen = torch.Generator().manual_seed(20260702)


def randn(*shape, scale=0.15):
    return torch.randn(*shape, generator=gen) * scale


def write_json(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2) + "\n")


def save(tensors, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path), metadata={"format": "pt"})


def adapter_config(**kw):
    cfg = {
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM",
        "base_model_name_or_path": BASE_REL,
        "r": 2,
        "lora_alpha": 4,
        "lora_dropout": 0.0,
        "target_modules": ["q_proj", "v_proj"],
        "fan_in_fan_out": False,
        "bias": "none",
        "use_rslora": False,
        "use_dora": False,
        "modules_to_save": None,
        "rank_pattern": {},
        "alpha_pattern": {},
        "inference_mode": True,
    }
    cfg.update(kw)
    return cfg


def pattern_key(keys, name):
    for k in keys:
        if re.match(rf"(.*\.)?({k})$", name):
            return k
    return None


def r_alpha(cfg, module):
    rk = pattern_key(cfg["rank_pattern"].keys(), module)
    ak = pattern_key(cfg["alpha_pattern"].keys(), module)
    r = cfg["rank_pattern"][rk] if rk is not None else cfg["r"]
    alpha = cfg["alpha_pattern"][ak] if ak is not None else cfg["lora_alpha"]
    scaling = alpha / math.sqrt(r) if cfg["use_rslora"] else alpha / r
    return r, scaling


def merge_like_peft(base, cfg, adapter, load_dtype):
    """The model merge_and_unload leaves, as save_pretrained writes it (all floats in load_dtype)."""
    L = DTYPES[load_dtype]
    model = {k: (v.to(L, copy=True) if v.is_floating_point() else v.clone()) for k, v in base.items()}
    modules = sorted({re.sub(r"\.lora_(embedding_)?[AB](\.weight|\.bias)?$", "", k) for k in adapter if ".lora_" in k})
    for full in modules:
        m = full[len(PREFIX):]
        r, scaling = r_alpha(cfg, m)
        if f"{full}.lora_A.weight" in adapter:
            A = adapter[f"{full}.lora_A.weight"].to(torch.float32)  # autocast_adapter_dtype, then the copy
            B = adapter[f"{full}.lora_B.weight"].to(torch.float32)
            assert A.shape[0] == r and B.shape[1] == r
            delta = B @ A
            if cfg["fan_in_fan_out"]:
                delta = delta.T
            delta = delta * scaling
            w = model[f"{m}.weight"]
            w += delta  # in place: float32 sum, rounded to L
            if f"{full}.lora_B.bias" in adapter:
                model[f"{m}.bias"] += adapter[f"{full}.lora_B.bias"].to(torch.float32) * scaling
        else:
            A = adapter[f"{full}.lora_embedding_A"].to(torch.float32)
            B = adapter[f"{full}.lora_embedding_B"].to(torch.float32)
            assert A.shape[0] == r and B.shape[1] == r
            delta = (B @ A).T * scaling
            model[f"{m}.weight"] += delta.to(L)  # Embedding.merge casts the delta first
    for k, v in adapter.items():
        if ".lora_" not in k:  # modules_to_save: the trained copy replaces the module
            model[k[len(PREFIX):]] = v.to(L)
    return model


def main():
    for sub in ("base-bf16", "adapter", "adapter-bin", "adapter-extra", "expected"):  # README.md stays
        shutil.rmtree(OUT / sub, ignore_errors=True)
    base32 = load_file(str(MODELS / "base" / "model.safetensors"))
    config = json.loads((MODELS / "base" / "config.json").read_text())

    # The same base stored in bfloat16, its config saying so.
    base16 = {k: v.to(torch.bfloat16) for k, v in base32.items()}
    save(base16, OUT / "base-bf16" / "model.safetensors")
    write_json(OUT / "base-bf16" / "config.json", {**config, "torch_dtype": "bfloat16"})

    # adapter/: r=2, alpha=4 on q_proj and v_proj of every layer, float32 (as peft saves after training).
    cfg_a = adapter_config()
    ad_a = {}
    for i in range(config["num_hidden_layers"]):
        for p in ("q_proj", "v_proj"):
            key = f"{PREFIX}model.layers.{i}.self_attn.{p}"
            ad_a[f"{key}.lora_A.weight"] = randn(2, 8)
            ad_a[f"{key}.lora_B.weight"] = randn(8, 2)
    save(ad_a, OUT / "adapter" / "adapter_model.safetensors")
    write_json(OUT / "adapter" / "adapter_config.json", cfg_a)
    # adapter-bin/: the same adapter as peft wrote it before safetensors (torch.save, zip format).
    (OUT / "adapter-bin").mkdir(parents=True)
    torch.save({k: v.contiguous() for k, v in ad_a.items()}, str(OUT / "adapter-bin" / "adapter_model.bin"))
    write_json(OUT / "adapter-bin" / "adapter_config.json", cfg_a)

    # adapter-extra/: rsLoRA, a rank and an alpha pattern, LoRA on the embedding, lm_head in
    # modules_to_save, stored in bfloat16.
    cfg_b = adapter_config(
        use_rslora=True,
        target_modules=["q_proj", "v_proj", "embed_tokens"],
        rank_pattern={"layers.1.self_attn.q_proj": 3},
        alpha_pattern={"v_proj": 6},
        modules_to_save=["lm_head"],
    )
    ad_b = {}
    for i in range(config["num_hidden_layers"]):
        for p in ("q_proj", "v_proj"):
            m = f"model.layers.{i}.self_attn.{p}"
            r, _ = r_alpha(cfg_b, m)
            ad_b[f"{PREFIX}{m}.lora_A.weight"] = randn(r, 8).to(torch.bfloat16)
            ad_b[f"{PREFIX}{m}.lora_B.weight"] = randn(8, r).to(torch.bfloat16)
    ad_b[f"{PREFIX}model.embed_tokens.lora_embedding_A"] = randn(2, 16).to(torch.bfloat16)
    ad_b[f"{PREFIX}model.embed_tokens.lora_embedding_B"] = randn(8, 2).to(torch.bfloat16)
    ad_b[f"{PREFIX}lm_head.weight"] = (base32["lm_head.weight"] + randn(16, 8, scale=0.05)).to(torch.bfloat16)
    save(ad_b, OUT / "adapter-extra" / "adapter_model.safetensors")
    write_json(OUT / "adapter-extra" / "adapter_config.json", cfg_b)

    # Expected merged models: <base>-<adapter>[-<lora_merge_dtype>].
    cases = [
        ("f32-adapter", base32, cfg_a, ad_a, "float32"),
        ("bf16-adapter", base16, cfg_a, ad_a, "bfloat16"),
        ("f32-adapter-f16", base32, cfg_a, ad_a, "float16"),
        ("f32-extra", base32, cfg_b, ad_b, "float32"),
        ("bf16-extra", base16, cfg_b, ad_b, "bfloat16"),
    ]
    for name, base, cfg, ad, dtype in cases:
        save(merge_like_peft(base, cfg, ad, dtype), OUT / "expected" / name / "model.safetensors")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
