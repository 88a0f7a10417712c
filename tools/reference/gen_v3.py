"""Tensors of a tiny DeepSeek-V3 / V3.2 checkpoint (FORMATS §2, §3).

Names, dtypes and shapes are exactly those of the published releases,
including the MTP layer `model.layers.{L}.*`, which the logits path ignores.
"""

from tensor_factory import TensorFactory


def _attention(f, cfg, p, style):
    d, h = cfg["hidden_size"], cfg["num_attention_heads"]
    nope, rope, v = cfg["qk_nope_head_dim"], cfg["qk_rope_head_dim"], cfg["v_head_dim"]
    q_lora, kv_lora = cfg["q_lora_rank"], cfg["kv_lora_rank"]
    if q_lora:
        f.fp8_linear(p + "q_a_proj", q_lora, d, style=style)
        f.norm(p + "q_a_layernorm.weight", q_lora)
        f.fp8_linear(p + "q_b_proj", h * (nope + rope), q_lora, style=style)
    else:
        f.fp8_linear(p + "q_proj", h * (nope + rope), d, style=style)
    f.fp8_linear(p + "kv_a_proj_with_mqa", kv_lora + rope, d, style=style)
    f.norm(p + "kv_a_layernorm.weight", kv_lora)
    f.fp8_linear(p + "kv_b_proj", h * (nope + v), kv_lora, style=style)
    f.fp8_linear(p + "o_proj", d, h * v, style=style)
    if "index_topk" in cfg:
        hi, di = cfg["index_n_heads"], cfg["index_head_dim"]
        q = p + "indexer."
        f.fp8_linear(q + "wq_b", hi * di, q_lora, style=style)
        f.fp8_linear(q + "wk", di, d, style=style)
        f.norm(q + "k_norm.weight", di)
        f.bf16(q + "k_norm.bias", 0.1 * f.rng(q + "k_norm.bias").standard_normal(di))
        f.dense_bf16(q + "weights_proj.weight", hi, d)


def _swiglu(f, p, inter, d, style):
    f.fp8_linear(p + "gate_proj", inter, d, style=style)
    f.fp8_linear(p + "up_proj", inter, d, style=style)
    f.fp8_linear(p + "down_proj", d, inter, style=style)


def _mlp(f, cfg, i, p, style):
    d = cfg["hidden_size"]
    if i < cfg["first_k_dense_replace"]:
        _swiglu(f, p, cfg["intermediate_size"], d, style)
        return
    e, inter = cfg["n_routed_experts"], cfg["moe_intermediate_size"]
    f.dense_bf16(p + "gate.weight", e, d)
    # A bias comparable to the spread of sigmoid scores, so it changes choices.
    f.f32(p + "gate.e_score_correction_bias",
          0.15 * f.rng(p + "gate.e_score_correction_bias").standard_normal(e))
    for j in range(e):
        _swiglu(f, f"{p}experts.{j}.", inter, d, style)
    _swiglu(f, p + "shared_experts.", cfg["n_shared_experts"] * inter, d, style)


def v3_tensors(cfg, seed):
    """{name: (dtype, array)} for a V3 (or V3.2 when cfg has index_topk) config."""
    style = "v32" if cfg.get("quantization_config", {}).get("scale_fmt") == "ue8m0" else "v3"
    f = TensorFactory(seed, block=cfg["quantization_config"]["weight_block_size"][0])
    d, vocab = cfg["hidden_size"], cfg["vocab_size"]
    n_layers = cfg["num_hidden_layers"]
    f.bf16("model.embed_tokens.weight", f.rng("model.embed_tokens.weight").standard_normal((vocab, d)))
    f.norm("model.norm.weight", d)
    f.dense_bf16("lm_head.weight", vocab, d, gain=2.0)
    for i in range(n_layers + cfg["num_nextn_predict_layers"]):
        p = f"model.layers.{i}."
        f.norm(p + "input_layernorm.weight", d)
        f.norm(p + "post_attention_layernorm.weight", d)
        _attention(f, cfg, p + "self_attn.", style)
        _mlp(f, cfg, i, p + "mlp.", style)
        if i >= n_layers:  # multi-token-prediction module
            f.bf16(p + "embed_tokens.weight", f.rng(p + "embed_tokens.weight").standard_normal((vocab, d)))
            f.norm(p + "enorm.weight", d)
            f.norm(p + "hnorm.weight", d)
            f.fp8_linear(p + "eh_proj", d, 2 * d, style=style)
            f.norm(p + "shared_head.norm.weight", d)
            f.dense_bf16(p + "shared_head.head.weight", vocab, d, gain=2.0)
    return f.tensors
