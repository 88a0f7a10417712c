#!/usr/bin/python3
"""Write a trained model as a Mneme/DeepSeek-V4 checkpoint directory and check it.

    export.py --ckpt RUN/model.pt --tokenizer DIR --out assets/models/mneme-demo-v4e

Storage follows FORMATS §4 / ENGRAM_FORMAT §2 through tools/reference's codecs:
FP8 e4m3 + 128×128 e8m0 `.scale` for dense linears, FP4 + per-32 e8m0 for
routed experts, FP8 rows + per-32 e8m0 for Engram tables, BF16 for plain
weights, F32 for mHC / sink / ape / router bias. The float weights are taken
in float32 (the training precision), which is what the fake-quant path of
model.py rounds from, so the stored bytes equal what training saw.

Verification: the reference forward (tools/reference/model_v4.py, float64)
on the written checkpoint vs model.py in float64 with qat on.
"""

import argparse
import json
import os
import shutil

import numpy as np
import torch

import refpath  # noqa: F401
from numerics import bf16_encode, e8m0_encode  # tools/reference
from safetensors_io import write_checkpoint
from weight_codec import encode_fp4, encode_fp8_blocks, encode_fp8_rows
from engram_hash import multipliers


def tensors_of(model):
    cfg = model.cfg
    out = {}
    for name, p in model.named().items():
        kind = model.kinds[name]
        w = p.detach().float().double().numpy()
        stem = name[:-len(".weight")] if name.endswith(".weight") else name
        if kind == "fp8":
            codes, scale = encode_fp8_blocks(w, 128, pow2=True)
            out[name] = ("F8_E4M3", codes)
            out[stem + ".scale"] = ("F8_E8M0", e8m0_encode(scale))
        elif kind == "fp4":
            packed, scale = encode_fp4(w, 32)
            out[name] = ("I8", packed)
            out[stem + ".scale"] = ("F8_E8M0", scale)
        elif kind == "table":
            codes, scale = encode_fp8_rows(w, 32)
            out[name] = ("F8_E4M3", codes)
            out[stem + ".scale"] = ("F8_E8M0", scale)
        elif kind == "bf16":
            out[name] = ("BF16", bf16_encode(w))
        else:
            out[name] = ("F32", w.astype(np.float32))
    for i in range(cfg["num_hash_layers"]):
        out[f"layers.{i}.ffn.gate.tid2eid"] = ("I64", model.tid2eid.numpy().astype(np.int64))
    if cfg.get("engram_layer_ids"):
        out["engram.canonical_ids"] = ("I32", model.canonical_ids.numpy().astype(np.int32))
        m = np.stack([multipliers(cfg["engram_seed"], l, cfg["engram_max_ngram_size"],
                                  cfg["engram_compressed_vocab_size"]) for l in cfg["engram_layer_ids"]])
        out["engram.hash_multipliers"] = ("I64", m.astype(np.int64))
    return out


def write(model, out_dir, tokenizer_dir=None, max_position=None):
    os.makedirs(out_dir, exist_ok=True)
    write_checkpoint(out_dir, tensors_of(model))
    cfg = dict(model.cfg)
    if max_position:  # an honest context limit instead of the releases' 1M (no effect on the math)
        cfg["max_position_embeddings"] = max_position
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    if tokenizer_dir:
        for n in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copy(os.path.join(tokenizer_dir, n), os.path.join(out_dir, n))


def verify(model, out_dir, tokens):
    """max |ref - ours| / max |ref| of the logits, plus top-1 agreement."""
    from model_v4 import V4Model  # tools/reference
    import data
    ref = V4Model(out_dir).forward(tokens)
    m64 = model.double()
    m64.qat, was_training = True, m64.training
    m64.eval()
    with torch.no_grad():
        t = torch.tensor([tokens])
        rows = data.engram_rows_for(model.cfg, model.canonical_ids.numpy(), np.asarray(tokens))
        ours = m64(t, {l: torch.tensor(r[None]) for l, r in rows.items()})[0][0].numpy()
    model.float()
    model.train(was_training)
    rel = float(np.max(np.abs(ours - ref)) / np.max(np.abs(ref)))
    top1 = float(np.mean(ours.argmax(-1) == ref.argmax(-1)))
    return rel, top1


def main():
    import train  # noqa: F401  (model construction lives with training)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--verify-tokens", type=int, default=1024)
    ap.add_argument("--max-position", type=int, default=8192, help="config max_position_embeddings")
    a = ap.parse_args()
    model = train.load_model(a.ckpt)
    write(model, a.out, a.tokenizer, a.max_position)
    size = sum(os.path.getsize(os.path.join(a.out, n)) for n in os.listdir(a.out))
    print(f"wrote {a.out}: {size / 1e6:.2f} MB")
    if a.verify_tokens:
        from tokenizer import Tokenizer
        import tasks
        tok = Tokenizer(os.path.join(a.tokenizer, "tokenizer.json"))
        text = tasks.sample_verification_text()
        ids = tok.encode(text, bos=True)[:a.verify_tokens]
        rel, top1 = verify(model, a.out, ids)
        print(f"export check on {len(ids)} tokens: max rel error {rel:.3e}, top-1 agreement {top1:.4f}")
        with open(os.path.join(os.path.dirname(a.ckpt), "export_check.json"), "w") as f:
            json.dump({"tokens": len(ids), "max_rel": rel, "top1": top1}, f)


if __name__ == "__main__":
    main()
