#!/usr/bin/python3
"""Export a DeepSeek-V3 or V3.2 checkpoint directory to GGUF for llama.cpp.

    export-gguf.py --model DIR --out FILE.gguf --type f32|bf16|q8_0|stored --gguf-py PATH

The architecture follows the checkpoint's config: model_type deepseek_v3 becomes
GGUF `deepseek2`, deepseek_v32 (V3.2, DSA) becomes `deepseek32`.

PATH is the gguf-py folder of a llama.cpp source tree (the node-llama-cpp npm
package carries one in its source bundle; tools/bench/llama-side-by-side.sh
unpacks it at run time), so nothing of llama.cpp is copied into this tree.

The mapping is the one llama.cpp's own converter applies to DeepSeek-V3:
FP8 weights dequantised with their block scales (tools/reference's decoder),
MLA's kv_b_proj split into attn_k_b (transposed per head) and attn_v_b,
routed experts stacked into [n_expert, ...] tensors, norms, router and router
bias in F32, the attention treated as MQA (head_count_kv = 1), and sigmoid
gating with the correction bias, top-k normalisation and the routed scale.
With power-of-two block scales (tools/bench/make-bench-model.py) `bf16` holds
exactly the checkpoint's weights; `q8_0` is llama.cpp's usual 8-bit format (MLA's
small attn_k_b/attn_v_b stay BF16, see below). `stored` keeps each matrix at its
width in the checkpoint: FP8 ones as Q8_0 (the 8-bit format nearest to FP8 with
block scales), BF16 ones (the embedding and the LM head) as BF16, i.e. exactly;
a decode step then reads about the bytes it reads in Mneme, whereas `q8_0`
halves the LM head's.
V3.2 adds, as llama.cpp's converter does (DeepseekV32Model), the keys
`deepseek32.attention.indexer.{head_count,key_length,top_k}` and per layer the
lightning indexer unchanged, no permutation (its heads are [rope | nope] and
llama.cpp ropes the first rope dims half-split, "NeoX", as DeepSeek's fixed
V3.2 code does): wq_b -> blk.N.indexer.attn_q_b, wk -> indexer.attn_k,
k_norm.{weight,bias} -> indexer.k_norm.{weight,bias} (F32), weights_proj ->
indexer.proj (always F32, as the converter keeps it).
The multi-token-prediction layer and YaRN scaling are not exported.
"""

import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))

from numerics import bf16_decode  # noqa: E402
from safetensors_io import read_checkpoint  # noqa: E402
from weight_codec import decode_fp8_blocks  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--type", choices=["bf16", "q8_0", "f32", "stored"], default="q8_0")
    ap.add_argument("--gguf-py", required=True)
    a = ap.parse_args()
    sys.path.insert(0, a.gguf_py)
    import gguf  # noqa: E402
    from gguf.quants import quantize  # noqa: E402

    with open(os.path.join(a.model, "config.json")) as f:
        cfg = json.load(f)
    arch = {"deepseek_v3": "deepseek2", "deepseek_v32": "deepseek32"}.get(cfg.get("model_type"))
    if arch is None:
        sys.exit("only deepseek_v3 and deepseek_v32 checkpoints are exported")
    if cfg.get("n_group", 1) != 1 and cfg.get("topk_group", 1) != cfg.get("n_group", 1):
        print("warning: group-limited routing is exported as plain top-k", file=sys.stderr)
    block = cfg["quantization_config"]["weight_block_size"][0]
    ckpt = read_checkpoint(a.model)

    def value(name):
        """A tensor as float32, FP8 dequantised with its block scales."""
        dtype, arr = ckpt[name]
        if dtype == "F8_E4M3":
            _, scale = ckpt[name + "_scale_inv"]
            return decode_fp8_blocks(arr, scale, block).astype(np.float32)
        if dtype == "BF16":
            return bf16_decode(arr).astype(np.float32)
        return arr.astype(np.float32)

    qtype = {"bf16": gguf.GGMLQuantizationType.BF16, "q8_0": gguf.GGMLQuantizationType.Q8_0,
             "stored": gguf.GGMLQuantizationType.Q8_0, "f32": gguf.GGMLQuantizationType.F32}[a.type]
    ftype = {"bf16": gguf.LlamaFileType.MOSTLY_BF16, "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0,
             "stored": gguf.LlamaFileType.MOSTLY_Q8_0, "f32": gguf.LlamaFileType.ALL_F32}[a.type]
    w = gguf.GGUFWriter(a.out, arch)

    # This libllama build cannot schedule MLA's per-head attn_k_b/attn_v_b products when they are
    # Q8_0 in the CPU's repacked weight buffers (GGML_ASSERT in ggml_backend_sched_split_graph), so
    # those two small tensors stay BF16, which is exact for these weights anyway.
    keep_bf16 = ("attn_k_b", "attn_v_b")

    def put(name, x, keep_f32=False, source=None):
        """`source`: the checkpoint tensor x is, for `stored` (which keeps BF16 matrices BF16)."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        stored_bf16 = a.type == "stored" and source is not None and ckpt[source][0] == "BF16"
        if keep_f32 or x.ndim == 1 or qtype == gguf.GGMLQuantizationType.F32:
            w.add_tensor(name, x)
        elif stored_bf16 or (qtype == gguf.GGMLQuantizationType.Q8_0 and any(p in name for p in keep_bf16)):
            w.add_tensor(name, quantize(x, gguf.GGMLQuantizationType.BF16), raw_dtype=gguf.GGMLQuantizationType.BF16)
        else:
            w.add_tensor(name, quantize(x, qtype), raw_dtype=qtype)

    d, n_layers = cfg["hidden_size"], cfg["num_hidden_layers"]
    heads, nope, vd = cfg["num_attention_heads"], cfg["qk_nope_head_dim"], cfg["v_head_dim"]
    kv_lora, rope = cfg["kv_lora_rank"], cfg["qk_rope_head_dim"]
    n_exp = cfg["n_routed_experts"]

    w.add_block_count(n_layers)
    w.add_context_length(4096)
    w.add_embedding_length(d)
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(heads)
    w.add_head_count_kv(1)  # MLA runs as MQA over the latent
    w.add_rope_freq_base(float(cfg["rope_theta"]))
    w.add_layer_norm_rms_eps(float(cfg["rms_norm_eps"]))
    w.add_leading_dense_block_count(cfg["first_k_dense_replace"])
    w.add_vocab_size(cfg["vocab_size"])
    w.add_q_lora_rank(cfg["q_lora_rank"])
    w.add_kv_lora_rank(kv_lora)
    w.add_key_length(kv_lora + rope)
    w.add_value_length(kv_lora)
    w.add_key_length_mla(nope + rope)
    w.add_value_length_mla(vd)
    w.add_expert_feed_forward_length(cfg["moe_intermediate_size"])
    w.add_expert_count(n_exp)
    w.add_expert_used_count(cfg["num_experts_per_tok"])
    w.add_expert_shared_count(cfg["n_shared_experts"])
    w.add_expert_weights_scale(float(cfg["routed_scaling_factor"]))
    w.add_expert_weights_norm(bool(cfg["norm_topk_prob"]))
    w.add_expert_gating_func(gguf.ExpertGatingFuncType.SIGMOID)
    w.add_rope_dimension_count(rope)
    if arch == "deepseek32":
        w.add_indexer_head_count(cfg["index_n_heads"])
        w.add_indexer_key_length(cfg["index_head_dim"])
        w.add_indexer_top_k(cfg["index_topk"])
    w.add_file_type(ftype)
    w.add_tokenizer_model("none")  # token ids only: llama.cpp adds vocab_size placeholder tokens

    put("token_embd.weight", value("model.embed_tokens.weight"), source="model.embed_tokens.weight")
    put("output_norm.weight", value("model.norm.weight"))
    put("output.weight", value("lm_head.weight"), source="lm_head.weight")
    for i in range(n_layers):
        p, b = f"model.layers.{i}.", f"blk.{i}."
        put(b + "attn_norm.weight", value(p + "input_layernorm.weight"))
        put(b + "ffn_norm.weight", value(p + "post_attention_layernorm.weight"))
        s = p + "self_attn."
        put(b + "attn_q_a.weight", value(s + "q_a_proj.weight"))
        put(b + "attn_q_a_norm.weight", value(s + "q_a_layernorm.weight"))
        put(b + "attn_q_b.weight", value(s + "q_b_proj.weight"))
        put(b + "attn_kv_a_mqa.weight", value(s + "kv_a_proj_with_mqa.weight"))
        put(b + "attn_kv_a_norm.weight", value(s + "kv_a_layernorm.weight"))
        kv_b = value(s + "kv_b_proj.weight").reshape(heads, nope + vd, kv_lora)
        put(b + "attn_k_b.weight", kv_b[:, :nope, :].transpose(0, 2, 1))  # [H, kv_lora, nope]
        put(b + "attn_v_b.weight", kv_b[:, nope:, :])                     # [H, v, kv_lora]
        put(b + "attn_output.weight", value(s + "o_proj.weight"))
        if arch == "deepseek32":
            ix = s + "indexer."
            put(b + "indexer.attn_q_b.weight", value(ix + "wq_b.weight"))
            put(b + "indexer.attn_k.weight", value(ix + "wk.weight"))
            put(b + "indexer.k_norm.weight", value(ix + "k_norm.weight"))
            put(b + "indexer.k_norm.bias", value(ix + "k_norm.bias"))
            put(b + "indexer.proj.weight", value(ix + "weights_proj.weight"), keep_f32=True)
        m = p + "mlp."
        if i < cfg["first_k_dense_replace"]:
            for hf, gg in (("gate_proj", "ffn_gate"), ("up_proj", "ffn_up"), ("down_proj", "ffn_down")):
                put(b + gg + ".weight", value(m + hf + ".weight"))
            continue
        put(b + "ffn_gate_inp.weight", value(m + "gate.weight"), keep_f32=True)
        put(b + "exp_probs_b.bias", value(m + "gate.e_score_correction_bias"))
        for hf, gg in (("gate_proj", "ffn_gate"), ("up_proj", "ffn_up"), ("down_proj", "ffn_down")):
            put(b + gg + "_exps.weight", np.stack([value(f"{m}experts.{e}.{hf}.weight") for e in range(n_exp)]))
            put(b + gg + "_shexp.weight", value(f"{m}shared_experts.{hf}.weight"))

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"{a.out}: {os.path.getsize(a.out) / 2**20:.1f} MiB ({a.type})")


if __name__ == "__main__":
    main()
