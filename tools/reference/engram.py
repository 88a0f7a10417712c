"""Engram conditional memory on V4 residual streams (ENGRAM_FORMAT.md §3-4).

At an Engram layer, before that layer's attention hc_pre, every stream m of
X [T, hc, D] gets X_m += Y_m, where Y is a gated value read from hashed
n-gram table rows.
"""

import numpy as np

import engram_hash
from layers import rms_norm, sigmoid, silu


class EngramTables:
    """Per-checkpoint hashing setup, checked against the shipped tensors."""

    def __init__(self, ck):
        cfg = ck.config
        self.layers = list(cfg["engram_layer_ids"])
        self.n_max, self.n_heads = cfg["engram_max_ngram_size"], cfg["engram_n_heads"]
        self.canon = ck.ints("engram.canonical_ids")
        vprime = cfg["engram_compressed_vocab_size"]
        if vprime != int(self.canon.max()) + 1:
            raise ValueError("engram_compressed_vocab_size != max(canonical_ids) + 1")
        self.primes = engram_hash.table_primes(self.layers, self.n_max, self.n_heads,
                                               cfg["engram_vocab_size"])
        shipped = ck.ints("engram.hash_multipliers")
        self.mults = {}
        for i, layer in enumerate(self.layers):
            m = engram_hash.multipliers(cfg["engram_seed"], layer, self.n_max, vprime)
            if not np.array_equal(m, shipped[i]):
                raise ValueError(f"hash_multipliers of layer {layer} do not match engram_seed")
            if sum(self.primes[layer]) != cfg["engram_num_embeddings"][i]:
                raise ValueError(f"engram_num_embeddings of layer {layer} does not match its primes")
            self.mults[layer] = m
        self.pad = cfg["engram_pad_token_id"]

    def rows(self, layer, tokens):
        return engram_hash.row_ids(tokens, self.canon, self.pad, self.mults[layer],
                                   self.primes[layer], self.n_max, self.n_heads)


def _short_conv(ck, p, v, kernel, dilation, eps):
    """Causal depthwise conv over all hc·D channels of RMSNorm_m(v~_m):
    y[t, c] = Σ_i w[c, 0, i] · u[t - (k-1-i)·dil, c], zero before position 0."""
    t, hc, d = v.shape
    u = rms_norm(v, ck.tensor(p + "conv_norm.weight")[None], eps).reshape(t, hc * d)
    w = ck.tensor(p + "conv.weight")[:, 0, :]  # [hc·D, k]
    y = np.zeros_like(u)
    for i in range(kernel):
        shift = (kernel - 1 - i) * dilation
        if shift < t:
            y[shift:] += w[:, i] * u[:t - shift]
    return y.reshape(t, hc, d)


def apply(lin, ck, tables, layer, x, tokens):
    """Streams x [T, hc, D] after the Engram of `layer`."""
    cfg = ck.config
    t, hc, d = x.shape
    eps = cfg["rms_norm_eps"]
    p = f"layers.{layer}.engram."
    table = ck.fp8_table(p + "embed", 32)
    if table.shape[0] != sum(tables.primes[layer]):
        raise ValueError(f"{p}embed has {table.shape[0]} rows, primes need {sum(tables.primes[layer])}")
    e = table[tables.rows(layer, tokens)].reshape(t, -1)
    kv = lin(e, p + "wkv")  # FP8 linear: e is quantised per 128 channels first
    keys = kv[:, :hc * d].reshape(t, hc, d)
    value = kv[:, hc * d:]
    k_n = rms_norm(keys, ck.tensor(p + "k_weight")[None], eps)
    q_n = rms_norm(x, ck.tensor(p + "q_weight")[None], eps)
    g = np.sum(k_n * q_n, axis=-1) / np.sqrt(d)
    g = np.sign(g) * np.sqrt(np.maximum(np.abs(g), 1e-6))
    v = sigmoid(g)[:, :, None] * value[:, None, :]
    kernel = cfg.get("engram_conv_kernel", 0)
    if kernel > 0:
        dilation = cfg.get("engram_conv_dilation", cfg["engram_max_ngram_size"])
        conv_eps = cfg.get("engram_conv_norm_eps", 1e-5)
        v = v + silu(_short_conv(ck, p, v, kernel, dilation, conv_eps))
    return x + v
