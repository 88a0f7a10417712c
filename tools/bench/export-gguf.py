#!/usr/bin/python3
"""Export a DeepSeek-V3, V3.2 or V4 checkpoint directory to GGUF for llama.cpp.

    export-gguf.py --model DIR --out FILE.gguf --type f32|bf16|q8_0|stored --gguf-py PATH

The architecture follows the checkpoint's config: model_type deepseek_v3 becomes
GGUF `deepseek2`, deepseek_v32 (V3.2, DSA) becomes `deepseek32`, deepseek_v4
becomes `deepseek4` (see "DeepSeek-V4" below).

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
For V3/V3.2 the multi-token-prediction layer and YaRN scaling are not exported.

DeepSeek-V4 (`deepseek4`; the keys and tensor names are the ones llama.cpp's
loader reads, learnt from its DeepseekV4Model converter, our own code): the
checkpoint's official names (embed, head, hc_head_*, layers.N.attn.*, .ffn.*,
hc_attn_*, hc_ffn_*) map one to one, no split or permutation: wq_a/wq_b/
q_norm -> attn_q_a/attn_q_b/attn_q_a_norm, wkv/kv_norm -> attn_kv/
attn_kv_a_norm, wo_a/wo_b -> attn_output_a/_b (wo_a as stored, [G*o_lora,
H*hd/G]; llama.cpp views it per group), attn_sink -> attn_sinks, the
compressor and the ratio-4 layers' indexer (wq_b, weights_proj and its own
compressor) -> attn_compressor_{kv,gate,ape,norm}, indexer.{attn_q_b,proj},
indexer_compressor_{kv,gate,ape,norm}; router gate.weight -> ffn_gate_inp,
gate.bias -> exp_probs_b.bias (the hash-routed layers have none), tid2eid ->
ffn_gate_tid2eid as I32, shared experts -> ffn_*_shexp, routed experts
stacked into ffn_{gate,up,down}_exps (w1, w3, w2). Hyper-parameters: the V4
keys (compress ratios and their rope base, o_groups and o_lora_rank, hc_mult,
sinkhorn iterations and hc_eps, hash layer count, index heads/dim/top-k, the
sliding window, the per-layer SwiGLU clamp for routed and shared experts,
embedding_length_out = hc_mult * hidden), sqrt-softplus gating, and YaRN
(factor, original context, beta fast/slow), which llama.cpp, like DeepSeek,
applies to the compressed layers only with compress_rope_theta.
Types: tensors stored in F32 (mHC, sinks, APE) stay F32, and so do every
vector, the router and the indexer's weights_proj; FP8 matrices are
dequantised with their e8m0 128x128 block scales and written per --type
(`stored`: Q8_0), BF16 matrices (embedding, head, compressors) likewise
(`stored`: BF16). The routed experts are FP4 e2m1 with one e8m0 scale per 32
weights of a row, which is exactly ggml's MXFP4 block: for `stored` and
`q8_0` they are repacked bit for bit (per block of 32: the scale byte, then
16 bytes whose byte j holds element j low and element j+16 high; the
checkpoint packs elements 2k/2k+1 in a byte's low/high nibble), checked
against gguf-py's MXFP4 dequantiser on expert 0 of every expert tensor;
`f32` and `bf16` write them decoded, which is exact in both. So `f32`/`bf16`
hold exactly the checkpoint's weights, and `stored` holds them at their
stored widths (MXFP4 and BF16 exactly, FP8 as Q8_0). V4's multi-token-
prediction block (mtp.*) is not exported; any other tensor left unmapped is
an error.
"""

import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))

from numerics import bf16_decode, e8m0_decode, fp4_unpack  # noqa: E402
from safetensors_io import read_checkpoint  # noqa: E402
from weight_codec import decode_fp4, decode_fp8_blocks  # noqa: E402


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
    if cfg.get("model_type") == "deepseek_v4":
        export_v4(a, cfg, gguf, quantize)
        return
    arch = {"deepseek_v3": "deepseek2", "deepseek_v32": "deepseek32"}.get(cfg.get("model_type"))
    if arch is None:
        sys.exit("only deepseek_v3, deepseek_v32 and deepseek_v4 checkpoints are exported")
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


def mxfp4_blocks(packed, scale):
    """FP4 experts as stored ([rows, cols/2] bytes, element 2k low nibble, 2k+1 high; e8m0 codes
    [rows, cols/32]) -> ggml MXFP4 bytes [rows, cols/32 * 17]: per 32 weights the scale byte, then
    16 bytes, byte j = element j (low nibble) | element j+16 (high nibble). The e2m1 codes are the
    same 4-bit codes in both; nothing is rounded."""
    rows = packed.shape[0]
    codes = fp4_unpack(packed).reshape(rows, -1, 32)           # [rows, blocks, 32] nibbles, in order
    qs = (codes[..., :16] | (codes[..., 16:] << 4)).astype(np.uint8)
    s = np.asarray(scale, dtype=np.uint8).reshape(rows, -1, 1)
    if s.shape[1] != codes.shape[1]:
        raise ValueError(f"FP4 scale grid {scale.shape} does not fit {packed.shape}")
    return np.concatenate([s, qs], axis=-1).reshape(rows, -1)


def export_v4(a, cfg, gguf, quantize):
    """DeepSeek-V4 -> GGUF `deepseek4` (module docstring)."""
    ckpt = read_checkpoint(a.model)
    block = cfg["quantization_config"]["weight_block_size"][0]
    Q = gguf.GGMLQuantizationType
    n_layers, hc = cfg["num_hidden_layers"], cfg["hc_mult"]
    n_exp, n_hash = cfg["n_routed_experts"], cfg.get("num_hash_layers", 0)
    ratios = list(cfg["compress_ratios"])

    def value(name):
        dtype, arr = ckpt[name]
        if dtype == "F8_E4M3":
            scale_dtype, scale = ckpt[name[: -len(".weight")] + ".scale"]
            assert scale_dtype == "F8_E8M0", (name, scale_dtype)
            return decode_fp8_blocks(arr, e8m0_decode(scale), block).astype(np.float32)
        if dtype == "BF16":
            return bf16_decode(arr).astype(np.float32)
        return arr.astype(np.float32)

    ftype = {"f32": gguf.LlamaFileType.ALL_F32, "bf16": gguf.LlamaFileType.MOSTLY_BF16,
             "q8_0": gguf.LlamaFileType.MOSTLY_MXFP4_MOE, "stored": gguf.LlamaFileType.MOSTLY_MXFP4_MOE}[a.type]
    w = gguf.GGUFWriter(a.out, "deepseek4")
    used = set()

    def put(name, source, keep_f32=False):
        """One matrix or vector: F32 sources, vectors and keep_f32 ones as F32, else per --type
        (`stored`: FP8 -> Q8_0, BF16 -> BF16)."""
        used.add(source)
        if source.endswith(".weight"):
            used.add(source[: -len(".weight")] + ".scale")
        x = np.ascontiguousarray(value(source), dtype=np.float32)
        src_dtype = ckpt[source][0]
        if keep_f32 or x.ndim == 1 or src_dtype == "F32" or a.type == "f32":
            w.add_tensor(name, x)
            return
        t = {"bf16": Q.BF16, "q8_0": Q.Q8_0, "stored": Q.BF16 if src_dtype == "BF16" else Q.Q8_0}[a.type]
        w.add_tensor(name, quantize(x, t), raw_dtype=t)

    def put_experts(name, p, proj):
        """Routed experts [n_exp, out, in]: MXFP4 bit for bit (q8_0/stored) or decoded (f32/bf16)."""
        ws, ss = [], []
        for e in range(n_exp):
            wn, sn = f"{p}experts.{e}.{proj}.weight", f"{p}experts.{e}.{proj}.scale"
            (wd, wa), (sd, sa) = ckpt[wn], ckpt[sn]
            assert wd == "I8" and sd == "F8_E8M0", (wn, wd, sd)
            ws.append(wa)
            ss.append(sa)
            used.update((wn, sn))
        if a.type in ("f32", "bf16"):
            x = np.stack([decode_fp4(wa, sa) for wa, sa in zip(ws, ss)]).astype(np.float32)
            if a.type == "f32":
                w.add_tensor(name, x)
            else:
                w.add_tensor(name, quantize(x, Q.BF16), raw_dtype=Q.BF16)
            return
        raw = np.stack([mxfp4_blocks(wa, sa) for wa, sa in zip(ws, ss)])
        # Expert 0 through gguf-py's own MXFP4 dequantiser must be our FP4 decoder's weights exactly.
        mine = decode_fp4(ws[0], ss[0]).astype(np.float32)
        theirs = gguf.quants.dequantize(raw[0], Q.MXFP4)
        if theirs.shape != mine.shape or not np.array_equal(theirs, mine):
            sys.exit(f"{name}: MXFP4 repack disagrees with the FP4 decoder")
        w.add_tensor(name, raw, raw_dtype=Q.MXFP4)

    d = cfg["hidden_size"]
    rs = cfg.get("rope_scaling") or {}
    w.add_block_count(n_layers)
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(d)
    w.add_embedding_length_out(d * hc)
    w.add_head_count(cfg["num_attention_heads"])
    w.add_head_count_kv(cfg["num_key_value_heads"])
    w.add_key_length(cfg["head_dim"])
    w.add_value_length(cfg["head_dim"])
    w.add_rope_dimension_count(cfg["qk_rope_head_dim"])
    w.add_rope_freq_base(float(cfg["rope_theta"]))
    if rs.get("type", rs.get("rope_type")) == "yarn":
        w.add_rope_scaling_type(gguf.RopeScalingType.YARN)
        w.add_rope_scaling_factor(float(rs["factor"]))
        w.add_rope_scaling_orig_ctx_len(int(rs["original_max_position_embeddings"]))
        w.add_rope_scaling_yarn_beta_fast(float(rs["beta_fast"]))
        w.add_rope_scaling_yarn_beta_slow(float(rs["beta_slow"]))
    w.add_layer_norm_rms_eps(float(cfg["rms_norm_eps"]))
    w.add_vocab_size(cfg["vocab_size"])
    w.add_q_lora_rank(cfg["q_lora_rank"])
    w.add_sliding_window(cfg["sliding_window"])
    w.add_expert_count(n_exp)
    w.add_expert_used_count(cfg["num_experts_per_tok"])
    w.add_expert_feed_forward_length(cfg["moe_intermediate_size"])
    w.add_expert_shared_count(cfg["n_shared_experts"])
    w.add_expert_weights_scale(float(cfg["routed_scaling_factor"]))
    w.add_expert_weights_norm(bool(cfg["norm_topk_prob"]))
    if cfg.get("scoring_func", "sqrtsoftplus") != "sqrtsoftplus":
        sys.exit("llama.cpp's deepseek4 takes sqrt-softplus routing only")
    w.add_expert_gating_func(gguf.ExpertGatingFuncType.SQRTSOFTPLUS)
    limit = float(cfg.get("swiglu_limit", 0.0))
    w.add_swiglu_clamp_exp([limit] * n_layers)
    w.add_swiglu_clamp_shexp([limit] * n_layers)
    w.add_indexer_head_count(cfg["index_n_heads"])
    w.add_indexer_key_length(cfg["index_head_dim"])
    w.add_indexer_top_k(cfg["index_topk"])
    w.add_attention_output_group_count(cfg["o_groups"])
    w.add_attention_output_lora_rank(cfg["o_lora_rank"])
    w.add_attention_compress_ratios(ratios)
    w.add_attention_compress_rope_freq_base(float(cfg["compress_rope_theta"]))
    w.add_hyper_connection_count(hc)
    w.add_hyper_connection_sinkhorn_iterations(cfg["hc_sinkhorn_iters"])
    w.add_hyper_connection_epsilon(float(cfg["hc_eps"]))
    w.add_hash_layer_count(n_hash)
    w.add_file_type(ftype)
    w.add_tokenizer_model("none")  # token ids only: llama.cpp adds vocab_size placeholder tokens

    put("token_embd.weight", "embed.weight")
    put("output_norm.weight", "norm.weight")
    put("output.weight", "head.weight")
    for hf, gg in (("fn", "fn"), ("base", "base"), ("scale", "scale")):
        put(f"output_hc_{gg}.weight", f"hc_head_{hf}")
    for i in range(n_layers):
        p, b = f"layers.{i}.", f"blk.{i}."
        put(b + "attn_norm.weight", p + "attn_norm.weight")
        put(b + "ffn_norm.weight", p + "ffn_norm.weight")
        for site in ("attn", "ffn"):
            for part in ("fn", "base", "scale"):
                put(f"{b}hc_{site}_{part}.weight", f"{p}hc_{site}_{part}")
        s = p + "attn."
        put(b + "attn_sinks.weight", s + "attn_sink")
        put(b + "attn_q_a.weight", s + "wq_a.weight")
        put(b + "attn_q_a_norm.weight", s + "q_norm.weight")
        put(b + "attn_q_b.weight", s + "wq_b.weight")
        put(b + "attn_kv.weight", s + "wkv.weight")
        put(b + "attn_kv_a_norm.weight", s + "kv_norm.weight")
        put(b + "attn_output_a.weight", s + "wo_a.weight")
        put(b + "attn_output_b.weight", s + "wo_b.weight")
        if ratios[i]:
            c = s + "compressor."
            put(b + "attn_compressor_kv.weight", c + "wkv.weight")
            put(b + "attn_compressor_gate.weight", c + "wgate.weight")
            put(b + "attn_compressor_ape.weight", c + "ape")
            put(b + "attn_compressor_norm.weight", c + "norm.weight")
        if ratios[i] == 4:
            ix = s + "indexer."
            put(b + "indexer.attn_q_b.weight", ix + "wq_b.weight")
            put(b + "indexer.proj.weight", ix + "weights_proj.weight", keep_f32=True)
            put(b + "indexer_compressor_kv.weight", ix + "compressor.wkv.weight")
            put(b + "indexer_compressor_gate.weight", ix + "compressor.wgate.weight")
            put(b + "indexer_compressor_ape.weight", ix + "compressor.ape")
            put(b + "indexer_compressor_norm.weight", ix + "compressor.norm.weight")
        f = p + "ffn."
        put(b + "ffn_gate_inp.weight", f + "gate.weight", keep_f32=True)
        if i < n_hash:
            tid2eid = ckpt[f + "gate.tid2eid"][1]
            used.add(f + "gate.tid2eid")
            w.add_tensor(b + "ffn_gate_tid2eid.weight", np.ascontiguousarray(tid2eid.astype(np.int32)))
        else:
            put(b + "exp_probs_b.bias", f + "gate.bias")
        for proj, gg in (("w1", "ffn_gate"), ("w3", "ffn_up"), ("w2", "ffn_down")):
            put_experts(b + gg + "_exps.weight", f, proj)
            put(b + gg + "_shexp.weight", f"{f}shared_experts.{proj}.weight")

    left = sorted(n for n in ckpt if n not in used and not n.startswith("mtp."))
    if left:
        sys.exit(f"checkpoint tensors not exported: {left[:8]}{' ...' if len(left) > 8 else ''}")
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"{a.out}: {os.path.getsize(a.out) / 2**20:.1f} MiB ({a.type}, deepseek4)")


if __name__ == "__main__":
    main()
