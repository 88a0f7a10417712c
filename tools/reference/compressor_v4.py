"""DeepSeek-V4 token compressor and lightning indexer (SPEC §6.5 steps 3-4).

A compressor pools each complete block of r tokens into one entry with a
per-channel softmax over gate scores. Ratio 4 overlaps: block j pools the
first half of the channels of block j-1's tokens together with the second
half of block j's own tokens (2r candidates per channel).
"""

import numpy as np

from layers import rms_norm
from numerics import fp4_roundtrip, hadamard, rope_interleaved, topk_lower_index


def pool(ck, p, x, ratio, width):
    """Normalised (not yet rotated) entries [T // ratio, width] of the
    complete blocks. compressor wkv/wgate are plain float linears."""
    eps = ck.config["rms_norm_eps"]
    a = x @ ck.weight(p + "wkv").T
    b = x @ ck.weight(p + "wgate").T
    t = x.shape[0]
    b = b + ck.tensor(p + "ape")[np.arange(t) % ratio]
    n_blocks = t // ratio
    out = np.zeros((n_blocks, width))
    for j in range(n_blocks):
        cur = slice(j * ratio, (j + 1) * ratio)
        if ratio == 4:
            cand_a, cand_b = a[cur, width:], b[cur, width:]
            if j > 0:
                prev = slice((j - 1) * ratio, j * ratio)
                cand_a = np.concatenate([a[prev, :width], cand_a])
                cand_b = np.concatenate([b[prev, :width], cand_b])
        else:
            cand_a, cand_b = a[cur], b[cur]
        w = np.exp(cand_b - cand_b.max(axis=0))
        out[j] = np.sum(cand_a * w, axis=0) / np.sum(w, axis=0)
    return rms_norm(out, ck.tensor(p + "norm.weight"), eps)


def rope_tail(x, angles, rope):
    """Interleaved RoPE on the last `rope` dims (V4 places rope last)."""
    return np.concatenate([x[..., :-rope], rope_interleaved(x[..., -rope:], angles)], axis=-1)


def block_angles(angles_fn, n_blocks, ratio):
    """Compressed entries are rotated at their block's start position."""
    return angles_fn(np.arange(n_blocks) * ratio)


def select_blocks(lin, ck, p, x, qr, angles_fn, t_angles):
    """Indexer of a ratio-4 layer: boolean [T, T//4], block j visible to
    query t only if complete (j < (t+1) div 4) and among the top
    min(index_topk, (t+1) div 4) index scores (ties to the lower block)."""
    cfg = ck.config
    hi, di, rope = cfg["index_n_heads"], cfg["index_head_dim"], cfg["qk_rope_head_dim"]
    t = x.shape[0]
    q = lin(qr, p + "wq_b").reshape(t, hi, di)
    q = fp4_roundtrip(hadamard(rope_tail(q, t_angles, rope)), 32)
    n_blocks = t // 4
    k = pool(ck, p + "compressor.", x, 4, di)
    k = fp4_roundtrip(hadamard(rope_tail(k, block_angles(angles_fn, n_blocks, 4), rope)), 32)
    w = lin(x, p + "weights_proj") * di ** -0.5 * hi ** -0.5
    scores = np.einsum("th,thj->tj", w, np.maximum(np.einsum("thd,jd->thj", q, k), 0.0))
    done = (np.arange(t)[:, None] + 1) // 4 > np.arange(n_blocks)[None, :]
    scores = np.where(done, scores, -np.inf)
    chosen = np.zeros((t, n_blocks), dtype=bool)
    for row in range(t):
        n_done = (row + 1) // 4
        if n_done:
            chosen[row, topk_lower_index(scores[row], min(cfg["index_topk"], n_done))] = True
    return chosen & done
