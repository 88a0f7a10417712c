"""DeepSeek-V3.2 lightning indexer: which past tokens each query attends to.

FORMATS §5.3 / SPEC §1.3, in the fixed (Nov 2025) form: half-split RoPE on the
first rope dims, Hadamard, FP8 round trip with one ue8m0 scale per head
vector, float weights_proj, ReLU before the head sum.
"""

import numpy as np

from layers import layer_norm
from numerics import fp8_roundtrip, hadamard, rope_half_split, topk_lower_index


def _rope_first(x, angles, rope):
    """Half-split RoPE on the first `rope` dims of the last axis."""
    return np.concatenate([rope_half_split(x[..., :rope], angles), x[..., rope:]], axis=-1)


def index_scores(lin, ck, p, x, qr, angles):
    """I[t, s] for every query t and key s (before masking), float64 [T, T]."""
    cfg = ck.config
    hi, di, rope = cfg["index_n_heads"], cfg["index_head_dim"], cfg["qk_rope_head_dim"]
    t = x.shape[0]
    q = lin(qr, p + "wq_b").reshape(t, hi, di)
    k = layer_norm(lin(x, p + "wk"), ck.tensor(p + "k_norm.weight"), ck.tensor(p + "k_norm.bias"), 1e-6)
    q = fp8_roundtrip(hadamard(_rope_first(q, angles, rope)), di)  # one scale per head vector
    k = fp8_roundtrip(hadamard(_rope_first(k, angles, rope)), di)
    w = lin(x, p + "weights_proj") * hi ** -0.5 * di ** -0.5
    # The dot of two FP8 vectors with power-of-two scales is exact in float64,
    # so the ReLU decisions (and hence exact-zero ties) are order independent.
    dots = np.einsum("thd,sd->ths", q, k)
    return np.einsum("th,ths->ts", w, np.maximum(dots, 0.0))


def select(lin, ck, p, x, qr, angles, index_topk):
    """Boolean [T, T] mask: causal and among the top-k index scores of row t.

    Row t keeps min(index_topk, t+1) positions; equal scores are broken
    towards the earlier position (Mneme rule, FORMATS §5.7). The causal mask
    is applied before and after the selection, as the reference does.
    """
    t = x.shape[0]
    scores = index_scores(lin, ck, p, x, qr, angles)
    causal = np.tril(np.ones((t, t), dtype=bool))
    scores = np.where(causal, scores, -np.inf)
    allowed = np.zeros((t, t), dtype=bool)
    for row in range(t):
        allowed[row, topk_lower_index(scores[row], min(index_topk, row + 1))] = True
    return allowed & causal
