"""Manifold-constrained hyper-connections as shipped in DeepSeek-V4 (SPEC §4.3).

The residual is n = hc_mult streams X [T, n, D]. Each sub-layer site derives
24 (for n = 4) mixing numbers per token from all n·D stream values:
[pre (n) | post (n) | comb (n·n, row-major)], in that order.
"""

import numpy as np

from layers import sigmoid, softmax


def _mixes(x, fn, norm_eps):
    """m = (fn · vec(X)) · rsqrt(mean(vec(X)²) + eps): RMS applied after the GEMV."""
    v = x.reshape(x.shape[0], -1)
    r = 1.0 / np.sqrt(np.mean(v * v, axis=-1, keepdims=True) + norm_eps)
    return (v @ fn.T) * r


def sinkhorn(logits, iters, eps):
    """Row softmax (+eps), column normalise, then iters-1 × (row, column).

    logits [..., n, n]; ends on a column normalisation, so column sums are
    1 - O(eps) while row sums are only approximately 1.
    """
    c = softmax(logits, axis=-1) + eps
    c = c / (np.sum(c, axis=-2, keepdims=True) + eps)
    for _ in range(iters - 1):
        c = c / (np.sum(c, axis=-1, keepdims=True) + eps)
        c = c / (np.sum(c, axis=-2, keepdims=True) + eps)
    return c


def coefficients(x, fn, scale, base, iters, hc_eps, norm_eps):
    """(pre [T, n], post [T, n], comb [T, n, n]) of one site."""
    n = x.shape[1]
    m = _mixes(x, fn, norm_eps)
    pre = sigmoid(m[:, :n] * scale[0] + base[:n]) + hc_eps
    post = 2.0 * sigmoid(m[:, n:2 * n] * scale[1] + base[n:2 * n])
    comb = (m[:, 2 * n:] * scale[2] + base[2 * n:]).reshape(-1, n, n)
    return pre, post, sinkhorn(comb, iters, hc_eps)


def collapse(x, pre):
    """Sub-layer input y = Σ_i pre_i X_i."""
    return np.einsum("ti,tid->td", pre, x)


def expand(z, x, post, comb):
    """New streams X'_j = post_j · z + Σ_i comb_ij X_i (i.e. combᵀ X)."""
    return post[:, :, None] * z[:, None, :] + np.einsum("tij,tid->tjd", comb, x)


def head(x, fn, scale, base, hc_eps, norm_eps):
    """Final collapse: w_i = sigmoid(m_i·scale + base_i) + eps, y = Σ w_i X_i."""
    w = sigmoid(_mixes(x, fn, norm_eps) * scale[0] + base) + hc_eps
    return collapse(x, w)
