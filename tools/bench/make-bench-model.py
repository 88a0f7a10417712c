#!/usr/bin/python3
"""Write a random DeepSeek-V3-shaped checkpoint large enough to leave the CPU caches.

    make-bench-model.py --out DIR [--preset v3-0.5g|v3-1.5g|v3-mini|v32-0.5g|v32-mini|v4-0.5g] [--seed N]

Speed does not need trained weights, so the tensors come from tools/reference's
generator (the published layout: FP8 e4m3 linears with float32 128x128
`weight_scale_inv` blocks, BF16 embeddings/head/router/norms, an F32 router
bias), at shapes scaled down from DeepSeek-V3 (hidden 7168 -> 1024, 256 -> 64
experts of width 2048 -> 512, top-8, one shared expert, first layer dense).

Two deliberate choices keep the model comparable with llama.cpp:
  * block scales are powers of two (the UE8M0 form of V3.1/V3.2 releases), so
    every weight is exactly representable in BF16 and a BF16 GGUF export holds
    the very same numbers (the logits check then compares arithmetic only);
  * one expert group (n_group = topk_group = 1) and no YaRN rope scaling, which
    both implementations then treat identically.
The multi-token-prediction layer is left out (num_nextn_predict_layers = 0).

The v32-* presets are DeepSeek-V3.2 checkpoints (model_type deepseek_v32, DSA):
the same shapes plus a lightning indexer in every layer. v32-0.5g has 16 index
heads of 64 dims (V3.2: 64 of 128): 1024 multiply-adds per cached key, about 22%
of dense MLA's 4608 here against 6% in V3.2, so a comparison with dense attention
is, if anything, conservative. Sixteen heads, not fewer: with random weights an
index score is exactly 0 whenever every head's dot is negative (ReLU), which has
probability 2^-heads, and with 8 heads such exact ties fell on the top-k boundary
a few times in 512 tokens; tie order is unspecified (DeepSeek's torch.topk,
llama.cpp's partial sort; Mneme takes the lower position), so the logits check
against llama.cpp diverged there. 64 dims equal the rope width, so the whole index
head is roped; v32-mini keeps a [rope | nope] split (32 | 32). index_topk is 256
instead of 2048, so that a prompt of a few hundred tokens already exercises sparse
selection.

The v4-0.5g preset is a DeepSeek-V4 checkpoint (model_type deepseek_v4) from
tools/reference's V4 generator, sized like v3-0.5g: hidden 1024, 6 layers whose
attention kinds repeat the release's (window only, CSA ratio 4 with the
indexer, HCA ratio 128), 96 routed FP4 experts of width 512 per layer (top-6,
the first layer hash-routed) plus one FP8 shared expert, a 16384-token BF16
embedding and head. A decode step then reads ~70 MiB, a quarter of it FP4
experts, so the FP4 kernels are timed where they leave the caches.

The result (~0.5 GB for v3-0.5g) goes to DIR, normally outside the source tree
(e.g. build/bench-models/v3-0.5g); it is data, never committed.
"""

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))

import tiny_configs  # noqa: E402
import tiny_configs_v4  # noqa: E402
from gen_checkpoint import write  # noqa: E402
from gen_v3 import v3_tensors  # noqa: E402
from gen_v4 import v4_tensors  # noqa: E402

PRESETS = {
    # ~466 M parameters: ~0.43 GB of FP8 weights + 64 MiB of BF16 embedding and head.
    "v3-0.5g": dict(vocab_size=16384, hidden_size=1024, intermediate_size=2816, moe_intermediate_size=512,
                    num_hidden_layers=5, first_k_dense_replace=1, num_attention_heads=8,
                    q_lora_rank=384, kv_lora_rank=256, qk_nope_head_dim=128, qk_rope_head_dim=64,
                    v_head_dim=128, n_routed_experts=64, n_shared_experts=1, num_experts_per_tok=8,
                    n_group=1, topk_group=1),
    # The same per-token work with 3x the experts (~1.27 G parameters, ~1.2 GB): total weights well
    # beyond a large server L3, as in real MoE models, while a decode step reads what v3-0.5g reads.
    "v3-1.5g": dict(vocab_size=16384, hidden_size=1024, intermediate_size=2816, moe_intermediate_size=512,
                    num_hidden_layers=5, first_k_dense_replace=1, num_attention_heads=8,
                    q_lora_rank=384, kv_lora_rank=256, qk_nope_head_dim=128, qk_rope_head_dim=64,
                    v_head_dim=128, n_routed_experts=192, n_shared_experts=1, num_experts_per_tok=8,
                    n_group=1, topk_group=1),
    # DeepSeek-V3.2 (DSA): v3-0.5g plus the lightning indexer (16 heads x 64 dims, top-256).
    "v32-0.5g": dict(vocab_size=16384, hidden_size=1024, intermediate_size=2816, moe_intermediate_size=512,
                     num_hidden_layers=5, first_k_dense_replace=1, num_attention_heads=8,
                     q_lora_rank=384, kv_lora_rank=256, qk_nope_head_dim=128, qk_rope_head_dim=64,
                     v_head_dim=128, n_routed_experts=64, n_shared_experts=1, num_experts_per_tok=8,
                     n_group=1, topk_group=1, index_n_heads=16, index_head_dim=64, index_topk=256),
    # A few MB, for trying the scripts quickly.
    "v3-mini": dict(vocab_size=512, hidden_size=256, intermediate_size=512, moe_intermediate_size=128,
                    num_hidden_layers=3, first_k_dense_replace=1, num_attention_heads=4,
                    q_lora_rank=128, kv_lora_rank=128, qk_nope_head_dim=64, qk_rope_head_dim=32,
                    v_head_dim=64, n_routed_experts=16, n_shared_experts=1, num_experts_per_tok=4,
                    n_group=1, topk_group=1),
    "v32-mini": dict(vocab_size=512, hidden_size=256, intermediate_size=512, moe_intermediate_size=128,
                     num_hidden_layers=3, first_k_dense_replace=1, num_attention_heads=4,
                     q_lora_rank=128, kv_lora_rank=128, qk_nope_head_dim=64, qk_rope_head_dim=32,
                     v_head_dim=64, n_routed_experts=16, n_shared_experts=1, num_experts_per_tok=4,
                     n_group=1, topk_group=1, index_n_heads=16, index_head_dim=64, index_topk=32),
}

# DeepSeek-V4 presets (tools/reference/tiny_configs_v4.py's fields).
V4_PRESETS = {
    # ~520 M parameters: ~0.27 GB of FP4 experts, ~0.13 GB of FP8 and BF16 attention and shared
    # experts, 64 MiB of BF16 embedding and head.
    "v4-0.5g": dict(vocab_size=16384, hidden_size=1024, num_hidden_layers=6, num_attention_heads=8,
                    head_dim=256, qk_rope_head_dim=64, q_lora_rank=384, o_groups=2, o_lora_rank=256,
                    n_routed_experts=96, num_experts_per_tok=6, moe_intermediate_size=512,
                    num_hash_layers=1, index_n_heads=16, index_head_dim=64, index_topk=512,
                    sliding_window=128, compress_ratios=[0, 4, 128, 0, 4, 128], num_nextn_predict_layers=0),
}


def bench_config(preset):
    if preset in V4_PRESETS:
        tiny_configs_v4.V4_SHAPES[preset] = V4_PRESETS[preset]
        cfg = tiny_configs_v4.v4_config("v4", preset)
        cfg["swiglu_limit"] = 10.0  # the releases' clamp
        return cfg
    tiny_configs.V3_SHAPES[preset] = PRESETS[preset]
    cfg = tiny_configs.v3_config("v32" if "index_topk" in PRESETS[preset] else "v3", preset)
    cfg.pop("rope_scaling")
    cfg["num_nextn_predict_layers"] = 0
    cfg["quantization_config"]["scale_fmt"] = "ue8m0"  # power-of-two block scales (see above)
    return cfg


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--preset", default="v3-0.5g", choices=sorted(PRESETS) + sorted(V4_PRESETS))
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    t0 = time.time()
    cfg = bench_config(a.preset)
    tensors = v4_tensors(cfg, a.seed) if a.preset in V4_PRESETS else v3_tensors(cfg, a.seed)
    write(a.out, cfg, tensors)
    size = sum(arr.nbytes for _, arr in tensors.values())
    params = sum(arr.size * (1 if dt != "I8" else 2) for name, (dt, arr) in tensors.items()
                 if not name.endswith("scale_inv"))
    print(f"{a.out}: {len(tensors)} tensors, {params / 1e6:.1f} M parameters, {size / 2**20:.1f} MiB "
          f"({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
