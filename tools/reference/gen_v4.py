"""Tensors of a tiny DeepSeek-V4 checkpoint, optionally with Engram.

Names, dtypes and shapes follow FORMATS §4 (V4 release names: no `model.`
prefix, short module names) and ENGRAM_FORMAT.md §2.
"""

import numpy as np

from engram_hash import multipliers, table_primes
from tensor_factory import TensorFactory
from weight_codec import encode_fp8_rows


def _hc_site(f, p, hc, d):
    """One mHC site: fn [(2+hc)·hc, hc·D] and base [(2+hc)·hc], scale [3].

    The comb part of the base is diagonal-heavy, so the Sinkhorn matrix stays
    close to the identity and each stream mostly keeps its own history."""
    n_mix = (2 + hc) * hc
    f.f32(p + "_fn", f.rng(p + "_fn").standard_normal((n_mix, hc * d)) / np.sqrt(hc * d))
    r = f.rng(p + "_base")
    base = np.concatenate([r.normal(0.0, 1.0, hc), r.normal(0.0, 0.5, hc),
                           (3.0 * np.eye(hc) + r.normal(0.0, 0.5, (hc, hc))).ravel()])
    f.f32(p + "_base", base)
    f.f32(p + "_scale", f.rng(p + "_scale").uniform(0.3, 1.0, 3))


def _hc_head(f, p, hc, d):
    f.f32(p + "hc_head_fn", f.rng(p + "hc_head_fn").standard_normal((hc, hc * d)) / np.sqrt(hc * d))
    f.f32(p + "hc_head_base", f.rng(p + "hc_head_base").normal(0.0, 0.5, hc))
    f.f32(p + "hc_head_scale", f.rng(p + "hc_head_scale").uniform(0.3, 1.0, 1))


def _compressor(f, p, ratio, width, d):
    c = 2 if ratio == 4 else 1  # ratio 4 overlaps consecutive blocks
    f.f32(p + "ape", f.rng(p + "ape").normal(0.0, 0.5, (ratio, c * width)))
    f.dense_bf16(p + "wkv.weight", c * width, d)
    f.dense_bf16(p + "wgate.weight", c * width, d)
    f.norm(p + "norm.weight", width)


def _attention(f, cfg, p, ratio):
    d, h, hd = cfg["hidden_size"], cfg["num_attention_heads"], cfg["head_dim"]
    q_lora, g, o_lora = cfg["q_lora_rank"], cfg["o_groups"], cfg["o_lora_rank"]
    f.fp8_linear(p + "wq_a", q_lora, d, style="v4")
    f.norm(p + "q_norm.weight", q_lora)
    f.fp8_linear(p + "wq_b", h * hd, q_lora, style="v4")
    f.fp8_linear(p + "wkv", hd, d, style="v4")
    f.norm(p + "kv_norm.weight", hd)
    f.fp8_linear(p + "wo_a", g * o_lora, h * hd // g, style="v4")
    f.fp8_linear(p + "wo_b", d, g * o_lora, style="v4")
    f.f32(p + "attn_sink", f.rng(p + "attn_sink").standard_normal(h))
    if ratio > 0:
        _compressor(f, p + "compressor.", ratio, hd, d)
    if ratio == 4:
        hi, di = cfg["index_n_heads"], cfg["index_head_dim"]
        f.fp8_linear(p + "indexer.wq_b", hi * di, q_lora, style="v4")
        f.dense_bf16(p + "indexer.weights_proj.weight", hi, d)
        _compressor(f, p + "indexer.compressor.", 4, di, d)


def _ffn(f, cfg, p, hashed):
    d, e, k = cfg["hidden_size"], cfg["n_routed_experts"], cfg["num_experts_per_tok"]
    inter = cfg["moe_intermediate_size"]
    f.dense_bf16(p + "gate.weight", e, d)
    if hashed:
        r = f.rng(p + "gate.tid2eid")
        table = np.stack([r.permutation(e)[:k] for _ in range(cfg["vocab_size"])])
        f.int_table(p + "gate.tid2eid", table, "I64")
    else:
        f.f32(p + "gate.bias", 0.3 * f.rng(p + "gate.bias").standard_normal(e))
    for j in range(e):
        q = f"{p}experts.{j}."
        f.fp4_linear(q + "w1", inter, d)
        f.fp4_linear(q + "w3", inter, d)
        f.fp4_linear(q + "w2", d, inter)
    for name, (o, i) in (("w1", (inter, d)), ("w3", (inter, d)), ("w2", (d, inter))):
        f.fp8_linear(f"{p}shared_experts.{name}", o, i, style="v4")


def _block(f, cfg, p, ratio, hashed):
    d, hc = cfg["hidden_size"], cfg["hc_mult"]
    f.norm(p + "attn_norm.weight", d)
    f.norm(p + "ffn_norm.weight", d)
    _hc_site(f, p + "hc_attn", hc, d)
    _hc_site(f, p + "hc_ffn", hc, d)
    _attention(f, cfg, p + "attn.", ratio)
    _ffn(f, cfg, p + "ffn.", hashed)


def _canonical_ids(f, vocab):
    """A random many-to-one token map, dense ids in first-occurrence order
    (what the demo's tokenizer normalisation produces)."""
    r = f.rng("engram.canonical_ids")
    canon, nxt = np.zeros(vocab, dtype=np.int64), 0
    for v in range(vocab):
        if v > 8 and r.random() < 0.25:
            canon[v] = canon[r.integers(0, v)]
        else:
            canon[v], nxt = nxt, nxt + 1
    return canon, nxt


def _engram(f, cfg):
    d, hc, vocab = cfg["hidden_size"], cfg["hc_mult"], cfg["vocab_size"]
    n_max, k, de = cfg["engram_max_ngram_size"], cfg["engram_n_heads"], cfg["engram_head_dim"]
    layers = cfg["engram_layer_ids"]
    canon, vprime = _canonical_ids(f, vocab)
    f.int_table("engram.canonical_ids", canon, "I32")
    mults = np.stack([multipliers(cfg["engram_seed"], layer, n_max, vprime) for layer in layers])
    f.int_table("engram.hash_multipliers", mults, "I64")
    primes = table_primes(layers, n_max, k, cfg["engram_vocab_size"])
    width = (n_max - 1) * k * de
    for layer in layers:
        p = f"layers.{layer}.engram."
        rows = sum(primes[layer])
        codes, scale = encode_fp8_rows(f.rng(p + "embed").standard_normal((rows, de))
                                       * 2.0 ** f.rng(p + "embed#gain").uniform(-3, 3, (rows, 1)))
        f.raw(p + "embed.weight", "F8_E4M3", codes)
        f.raw(p + "embed.scale", "F8_E8M0", scale)
        f.fp8_linear(p + "wkv", (hc + 1) * d, width, gain=0.5, style="v4")
        f.bf16(p + "q_weight", 1.0 + 0.1 * f.rng(p + "q_weight").standard_normal((hc, d)))
        f.bf16(p + "k_weight", 1.0 + 0.1 * f.rng(p + "k_weight").standard_normal((hc, d)))
        if cfg["engram_conv_kernel"] > 0:
            kern = cfg["engram_conv_kernel"]
            f.bf16(p + "conv.weight", 0.5 * f.rng(p + "conv.weight").standard_normal((hc * d, 1, kern)))
            f.bf16(p + "conv_norm.weight", 1.0 + 0.1 * f.rng(p + "conv_norm.weight").standard_normal((hc, d)))
    cfg["engram_num_embeddings"] = [int(sum(primes[layer])) for layer in layers]
    cfg["engram_compressed_vocab_size"] = int(vprime)


def v4_tensors(cfg, seed):
    """{name: (dtype, array)} for a V4 config; fills in the derived Engram
    config fields (engram_num_embeddings, engram_compressed_vocab_size)."""
    f = TensorFactory(seed, block=cfg["quantization_config"]["weight_block_size"][0])
    d, vocab, hc = cfg["hidden_size"], cfg["vocab_size"], cfg["hc_mult"]
    n_layers = cfg["num_hidden_layers"]
    ratios = cfg["compress_ratios"]
    f.bf16("embed.weight", f.rng("embed.weight").standard_normal((vocab, d)))
    f.dense_bf16("head.weight", vocab, d, gain=2.0)
    f.norm("norm.weight", d)
    _hc_head(f, "", hc, d)
    for i in range(n_layers):
        _block(f, cfg, f"layers.{i}.", ratios[i], hashed=i < cfg["num_hash_layers"])
    for m in range(cfg["num_nextn_predict_layers"]):
        p = f"mtp.{m}."
        _block(f, cfg, p, ratios[n_layers + m], hashed=False)
        f.fp8_linear(p + "e_proj", d, d, style="v4")
        f.fp8_linear(p + "h_proj", d, d, style="v4")
        for name in ("enorm", "hnorm", "norm"):
            f.norm(p + name + ".weight", d)
        _hc_head(f, p, hc, d)
    if cfg.get("engram_layer_ids"):
        _engram(f, cfg)
    return f.tensors
