"""DeepSeek-V4 attention: one 512-style KV head over a sliding window plus
compressed entries, with an attention sink (SPEC §6.5, FORMATS §5.6).

K and V are the same entry vector, which carries rotated rope dims, so the
output gets the inverse rotation before the grouped low-rank projection.
"""

import numpy as np

import compressor_v4 as comp
from layers import rms_norm
from numerics import fp8_roundtrip, rope_angles, rope_inv_freq, yarn_inv_freq


def inv_freq_for(cfg, ratio):
    """Window-only layers: rope_theta, no YaRN. Compressed layers:
    compress_rope_theta with YaRN (and no softmax m² factor)."""
    rope = cfg["qk_rope_head_dim"]
    if ratio == 0:
        return rope_inv_freq(rope, cfg["rope_theta"])
    rs = cfg["rope_scaling"]
    return yarn_inv_freq(rope, cfg["compress_rope_theta"], rs["factor"],
                         rs["original_max_position_embeddings"], rs["beta_fast"], rs["beta_slow"])


def _kv_roundtrip(kv, rope):
    """QAT simulation on stored entries: FP8, block 64, on the non-rope dims."""
    return np.concatenate([fp8_roundtrip(kv[..., :-rope], 64), kv[..., -rope:]], axis=-1)


def _sink_attention(q, keys, allowed, sink, scale):
    """o_h = Σ_u e^(s-M) kv_u / (Σ_u e^(s-M) + e^(sink_h - M)), M = max_u s.

    q [T, H, hd], keys [U, hd], allowed [T, U]. The sink joins the
    denominator only, not the running max.
    """
    s = np.einsum("thd,ud->htu", q, keys) * scale
    s = np.where(allowed[None], s, -np.inf)
    m = np.max(s, axis=-1, keepdims=True)
    e = np.exp(s - m)
    denom = np.sum(e, axis=-1, keepdims=True) + np.exp(sink[:, None, None] - m)
    return np.einsum("htu,ud->thd", e / denom, keys)


def attention(lin, ck, p, x, ratio):
    """Attention output [T, D] for the normed sub-layer input x [T, D]."""
    cfg = ck.config
    eps = cfg["rms_norm_eps"]
    h, hd, rope = cfg["num_attention_heads"], cfg["head_dim"], cfg["qk_rope_head_dim"]
    g, o_lora = cfg["o_groups"], cfg["o_lora_rank"]
    t = x.shape[0]
    inv = inv_freq_for(cfg, ratio)
    angles_fn = lambda pos: rope_angles(pos, inv)  # noqa: E731
    ang = angles_fn(np.arange(t))

    qr = rms_norm(lin(x, p + "wq_a"), ck.tensor(p + "q_norm.weight"), eps)
    q = lin(qr, p + "wq_b").reshape(t, h, hd)
    q = q / np.sqrt(np.mean(q * q, axis=-1, keepdims=True) + eps)  # weightless per-head RMS norm
    q = comp.rope_tail(q, ang, rope)

    kv = rms_norm(lin(x, p + "wkv"), ck.tensor(p + "kv_norm.weight"), eps)
    keys = _kv_roundtrip(comp.rope_tail(kv, ang, rope), rope)
    pos = np.arange(t)
    allowed = (pos[None, :] <= pos[:, None]) & (pos[None, :] > pos[:, None] - cfg["sliding_window"])

    if ratio > 0:
        n_blocks = t // ratio
        ck_entries = comp.pool(ck, p + "compressor.", x, ratio, hd)
        ck_entries = comp.rope_tail(ck_entries, comp.block_angles(angles_fn, n_blocks, ratio), rope)
        ck_entries = _kv_roundtrip(ck_entries, rope)
        visible = (pos[:, None] + 1) // ratio > np.arange(n_blocks)[None, :]
        if ratio == 4:
            visible &= comp.select_blocks(lin, ck, p + "indexer.", x, qr, angles_fn, ang)
        keys = np.concatenate([keys, ck_entries])
        allowed = np.concatenate([allowed, visible], axis=1)

    o = _sink_attention(q, keys, allowed, ck.tensor(p + "attn_sink"), hd ** -0.5)
    o = comp.rope_tail(o, -ang, rope)  # inverse rotation at the query position
    # Grouped low-rank output: group k of H/G heads uses rows [k·o_lora, (k+1)·o_lora) of wo_a.
    wo_a = ck.weight(p + "wo_a").reshape(g, o_lora, h * hd // g)
    low = np.einsum("tgi,goi->tgo", o.reshape(t, g, h * hd // g), wo_a).reshape(t, g * o_lora)
    return lin(low, p + "wo_b")
