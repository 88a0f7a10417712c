"""Small float64 building blocks shared by every model family."""

import numpy as np

from numerics import fp8_roundtrip


def rms_norm(x, weight, eps):
    """y = w ⊙ x · rsqrt(mean(x²) + eps) over the last axis (SPEC §0.1)."""
    return weight * x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps)


def layer_norm(x, weight, bias, eps):
    """LayerNorm with learned gain and bias, population variance (SPEC §0.2)."""
    mean = np.mean(x, axis=-1, keepdims=True)
    var = np.mean((x - mean) ** 2, axis=-1, keepdims=True)
    return weight * (x - mean) / np.sqrt(var + eps) + bias


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def silu(x):
    return x * sigmoid(x)


def softmax(x, axis=-1):
    """Softmax that tolerates rows of -inf entries mixed with finite ones."""
    m = np.max(x, axis=axis, keepdims=True)
    e = np.exp(x - m)
    return e / np.sum(e, axis=axis, keepdims=True)


class Linears:
    """Applies a checkpoint's linear layers with its activation semantics.

    In ue8m0 checkpoints (V3.2, V4) a linear whose weight is FP8 or FP4
    quantises its input first: FP8 round trip per token per 128 channels
    (FORMATS §5.3, §5.6). Plain float weights (BF16/F32) never do, and V3
    (no scale_fmt) never does: it is the demo's bf16-GEMM path (§5.2).
    """

    def __init__(self, ckpt):
        self.ckpt = ckpt
        self.act_quant = ckpt.ue8m0

    def __call__(self, x, prefix, quantise_input=None):
        w = self.ckpt.weight(prefix)
        if quantise_input is None:
            quantise_input = self.act_quant and self.ckpt.is_quantised(prefix)
        if quantise_input:
            x = fp8_roundtrip(x, 128)
        return x @ w.T
