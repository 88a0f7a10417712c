"""Multi-head latent attention (SPEC §2), in both of its exact forms.

The MHA ("naive") form expands the latent c through kv_b_proj into per-head
keys and values; the absorbed ("MQA") form folds kv_b_proj into the query and
the output instead. They are equal in exact arithmetic; the reference uses
the MHA form for logits and keeps the absorbed form to test that equality.
"""

import numpy as np

from layers import rms_norm, softmax
from numerics import fp8_roundtrip, rope_interleaved


def project(lin, ck, p, x, angles, latent_roundtrip):
    """Everything MLA derives from the normed hidden x [T, D].

    Returns a dict: qr (query latent, None without q_lora), q_nope [T,H,nope],
    q_pe [T,H,R] (roped), c [T,kv_lora] (the cached latent), k_pe [T,R] (roped).
    """
    cfg = ck.config
    eps = cfg["rms_norm_eps"]
    h, nope, rope = cfg["num_attention_heads"], cfg["qk_nope_head_dim"], cfg["qk_rope_head_dim"]
    kv_lora = cfg["kv_lora_rank"]
    t = x.shape[0]
    qr = None
    if cfg.get("q_lora_rank"):
        qr = rms_norm(lin(x, p + "q_a_proj"), ck.tensor(p + "q_a_layernorm.weight"), eps)
        q = lin(qr, p + "q_b_proj")
    else:
        q = lin(x, p + "q_proj")
    q = q.reshape(t, h, nope + rope)
    kv = lin(x, p + "kv_a_proj_with_mqa")
    c = rms_norm(kv[:, :kv_lora], ck.tensor(p + "kv_a_layernorm.weight"), eps)
    if latent_roundtrip:
        # V3.2 caches the latent as FP8 (QAT simulation, FORMATS §5.3).
        c = fp8_roundtrip(c, 128)
    return {
        "qr": qr,
        "q_nope": q[..., :nope],
        "q_pe": rope_interleaved(q[..., nope:], angles),
        "c": c,
        "k_pe": rope_interleaved(kv[:, kv_lora:], angles),
    }


def _masked_softmax(scores, allowed):
    """scores [H, T, S], allowed [T, S] bool -> probabilities."""
    return softmax(np.where(allowed[None], scores, -np.inf), axis=-1)


def attend_mha(lin, ck, p, proj, allowed, scale):
    cfg = ck.config
    h, nope, v = cfg["num_attention_heads"], cfg["qk_nope_head_dim"], cfg["v_head_dim"]
    t = proj["c"].shape[0]
    kv = lin(proj["c"], p + "kv_b_proj").reshape(t, h, nope + v)
    k_nope, values = kv[..., :nope], kv[..., nope:]
    scores = (np.einsum("thn,shn->hts", proj["q_nope"], k_nope)
              + np.einsum("thr,sr->hts", proj["q_pe"], proj["k_pe"])) * scale
    probs = _masked_softmax(scores, allowed)
    out = np.einsum("hts,shv->thv", probs, values).reshape(t, h * v)
    return lin(out, p + "o_proj")


def attend_absorbed(lin, ck, p, proj, allowed, scale):
    """Same attention with kv_b_proj absorbed: one shared 576-style key
    [c; k_pe] and one shared value c for all heads (SPEC §2.4). kv_b_proj is
    used as a dequantised matrix, without activation quantisation."""
    cfg = ck.config
    h, nope, v = cfg["num_attention_heads"], cfg["qk_nope_head_dim"], cfg["v_head_dim"]
    t = proj["c"].shape[0]
    w = ck.weight(p + "kv_b_proj").reshape(h, nope + v, cfg["kv_lora_rank"])
    w_uk, w_uv = w[:, :nope, :], w[:, nope:, :]
    q_lat = np.einsum("thn,hnc->thc", proj["q_nope"], w_uk)
    scores = (np.einsum("thc,sc->hts", q_lat, proj["c"])
              + np.einsum("thr,sr->hts", proj["q_pe"], proj["k_pe"])) * scale
    probs = _masked_softmax(scores, allowed)
    o_lat = np.einsum("hts,sc->thc", probs, proj["c"])
    out = np.einsum("thc,hvc->thv", o_lat, w_uv).reshape(t, h * v)
    return lin(out, p + "o_proj")
