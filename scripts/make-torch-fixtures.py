"""
Writes the PyTorch checkpoint fixtures of test/io/torch.test.ts and test/cli/torch-bin.test.ts
into test/fixtures/torch/ with the real torch.save, next to their safetensors twins (written with
safetensors.torch.save_file). The files are committed; tests only read them, so CI needs no torch.

    /work/mk/env/venv/bin/python scripts/make-torch-fixtures.py   # torch 1.13 and safetensors

The malicious fixtures are only ever written here, never loaded: loading one with torch.load
(without weights_only=True) would run its payload.
"""
import builtins
import json
import os
import pickle
import shutil
import sys
from collections import OrderedDict

import torch
from safetensors.torch import save_file

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "torch")
# The payloads would create this file; the tests check that it never appears.
PWNED = "/tmp/merge-lab-pwned-by-pickle"


def state_dict():
    g = torch.Generator().manual_seed(1234)
    big = torch.randn(4, 6, generator=g)
    shared = torch.randn(3, 5, generator=g)
    tied = torch.randn(2, 3, generator=g)
    sd = OrderedDict()
    sd["f32"] = torch.randn(3, 4, generator=g)
    sd["f16"] = torch.randn(2, 5, generator=g).half()
    sd["bf16"] = torch.randn(5, 2, generator=g).bfloat16()
    sd["f64"] = torch.randn(3, generator=g).double()
    sd["i64"] = torch.arange(-3, 3, dtype=torch.int64).reshape(2, 3) * 1_000_000_007
    sd["i32"] = torch.tensor([-2**31, 7, 2**31 - 1], dtype=torch.int32)
    sd["i16"] = torch.tensor([[-32768, 1], [2, 32767]], dtype=torch.int16)
    sd["i8"] = torch.tensor([-128, 0, 127], dtype=torch.int8)
    sd["u8"] = torch.tensor([0, 128, 255], dtype=torch.uint8)
    sd["bool"] = torch.tensor([True, False, True, True])
    sd["scalar"] = torch.tensor(2.5)
    sd["num_batches_tracked"] = torch.tensor(17)
    sd["empty"] = torch.zeros(0, 3)
    # Views saved with their whole storage: an offset slice, a transpose, a strided slice.
    sd["offset_view"] = big[1:3]
    sd["transposed"] = big.t()
    sd["strided"] = big[:, 1::2]
    # Two views of one storage, and one tensor under two names (tied weights).
    sd["shared.row0"] = shared[0]
    sd["shared.rows12"] = shared[1:]
    sd["tied.embed"] = tied
    sd["tied.lm_head"] = tied
    return sd


def twin(sd):
    # safetensors refuses shared or non-contiguous tensors: the twin holds compact copies.
    return {k: v.contiguous().clone() for k, v in sd.items()}


class SystemPayload:
    def __reduce__(self):
        return (os.system, ("touch " + PWNED,))


class ExecPayload:
    def __reduce__(self):
        return (builtins.exec, ("open(%r, 'w').close()" % PWNED,))


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(2, 2)


def cli_model(seed):
    g = torch.Generator().manual_seed(seed)
    embed = torch.randn(6, 4, generator=g)
    wide = torch.randn(4, 8, generator=g)
    sd = OrderedDict()
    sd["model.embed_tokens.weight"] = embed
    sd["model.layers.0.mlp.weight"] = wide.t()  # a non-contiguous view
    sd["model.layers.1.mlp.weight"] = torch.randn(4, 4, generator=g).half()
    sd["model.norm.weight"] = torch.randn(4, generator=g).bfloat16()
    sd["lm_head.weight"] = embed  # tied to the embeddings
    return sd


def write_sharded(sd, folder, legacy_second=False):
    names = list(sd)
    half = len(names) // 2
    parts = [names[:half], names[half:]]
    weight_map = {}
    for i, part in enumerate(parts):
        fname = "pytorch_model-%05d-of-%05d.bin" % (i + 1, len(parts))
        legacy = legacy_second and i == 1
        torch.save(OrderedDict((n, sd[n]) for n in part), os.path.join(folder, fname), _use_new_zipfile_serialization=not legacy)
        weight_map.update({n: fname for n in part})
    total = sum(v.numel() * v.element_size() for v in sd.values())
    with open(os.path.join(folder, "pytorch_model.bin.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    p = lambda *a: os.path.join(OUT, *a)
    sd = state_dict()

    torch.save(sd, p("sd-zip.bin"))
    torch.save(sd, p("sd-legacy.bin"), _use_new_zipfile_serialization=False)
    # Protocol 4 and 5 bring FRAME, STACK_GLOBAL, MEMOIZE and SHORT_BINUNICODE.
    torch.save(sd, p("sd-proto4.pt"), pickle_protocol=4)
    torch.save(sd, p("sd-legacy-proto5.pt"), _use_new_zipfile_serialization=False, pickle_protocol=5)
    # A training checkpoint: the weights under "model", beside plain values.
    torch.save({"model": sd, "epoch": 3, "best": 0.25, "note": "run 7"}, p("nested.pt"))
    # Parameters rather than tensors (a dict built from named_parameters()).
    torch.save({k: torch.nn.Parameter(v, requires_grad=False) for k, v in sd.items() if v.is_floating_point()}, p("params.pt"))
    save_file(twin(sd), p("sd.safetensors"))

    os.makedirs(p("sharded"))
    write_sharded(sd, p("sharded"), legacy_second=True)

    # Refused: payloads that would create PWNED, and a whole pickled nn.Module.
    torch.save({"weight": torch.ones(2), "evil": SystemPayload()}, p("evil-system.bin"))
    torch.save({"evil": ExecPayload(), "weight": torch.ones(2)}, p("evil-exec.bin"), _use_new_zipfile_serialization=False)
    with open(p("evil-raw.pkl"), "wb") as f:
        pickle.dump(SystemPayload(), f, protocol=2)
    torch.save(Tiny(), p("whole-module.pt"))

    # CLI: three models as .bin (zip, legacy, sharded) and as safetensors.
    kinds = {"base": "zip", "ft-a": "legacy", "ft-b": "sharded"}
    for i, (name, kind) in enumerate(kinds.items()):
        msd = cli_model(100 + i)
        os.makedirs(p("cli", "bin", name))
        os.makedirs(p("cli", "st", name))
        if kind == "sharded":
            write_sharded(msd, p("cli", "bin", name))
        else:
            torch.save(msd, p("cli", "bin", name, "pytorch_model.bin"), _use_new_zipfile_serialization=kind == "zip")
        save_file(twin(msd), p("cli", "st", name, "model.safetensors"))
    print("torch", torch.__version__, "->", os.path.normpath(OUT), file=sys.stderr)


if __name__ == "__main__":
    main()
