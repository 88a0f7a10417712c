"""DeepSeek-V4 MoE: sqrt-softplus router, hash-routed first layers, clamped
SwiGLU, FP4 routed experts (SPEC §6.6, FORMATS §5.6)."""

import numpy as np

from layers import silu
from numerics import topk_lower_index


def clamped_swiglu(lin, p, x, limit, weight=None):
    """w2(silu(min(w1 x, L)) · clamp(w3 x, -L, L)); the routing weight
    multiplies the hidden before w2 (so before its activation quantisation)."""
    gate = lin(x, p + "w1")
    up = lin(x, p + "w3")
    if limit:
        gate = np.minimum(gate, limit)
        up = np.clip(up, -limit, limit)
    hidden = silu(gate) * up
    if weight is not None:
        hidden = hidden * weight[:, None]
    return lin(hidden, p + "w2")


def route(ck, p, x, tokens, hashed):
    cfg = ck.config
    k = cfg["num_experts_per_tok"]
    z = x @ ck.tensor(p + "gate.weight").T
    scores = np.sqrt(np.logaddexp(0.0, z))  # sqrt(softplus(z))
    if hashed:
        idx = ck.ints(p + "gate.tid2eid")[np.asarray(tokens)]
    else:
        idx = topk_lower_index(scores + ck.tensor(p + "gate.bias")[None, :], k)
    weight = np.take_along_axis(scores, idx, axis=-1)
    weight = weight / weight.sum(axis=-1, keepdims=True)
    return idx, weight * cfg["routed_scaling_factor"]


def moe(lin, ck, p, x, tokens, hashed):
    limit = ck.config.get("swiglu_limit", 0.0)
    idx, weight = route(ck, p, x, tokens, hashed)
    y = clamped_swiglu(lin, p + "shared_experts.", x, limit)
    for e in range(ck.config["n_routed_experts"]):
        rows, slot = np.nonzero(idx == e)
        if rows.size:
            np.add.at(y, rows, clamped_swiglu(lin, f"{p}experts.{e}.", x[rows], limit, weight[rows, slot]))
    return y
