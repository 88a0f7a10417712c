"""Random tensors in checkpoint storage form, reproducible per (seed, name).

Each tensor draws from its own generator seeded by (seed, crc32(name)), so a
tensor's values do not depend on which other tensors exist: two checkpoints
that differ only in config switches (e.g. index_topk) share their weights.

Values are chosen to keep a randomly initialised network well conditioned:
linear weights have std gain/sqrt(fan_in), so every projection roughly
preserves the activation scale, and each 128×128 block gets its own random
gain in [1/2, 2] so that neighbouring blocks have clearly different scales
(a loader that applies the wrong block's scale produces a visible error).
"""

import zlib

import numpy as np

from numerics import bf16_encode, e8m0_encode
from weight_codec import encode_fp4, encode_fp8_blocks


class TensorFactory:
    def __init__(self, seed, block=128):
        self.seed = seed
        self.block = block
        self.tensors = {}

    def rng(self, name):
        return np.random.default_rng([self.seed, zlib.crc32(name.encode())])

    def _normal(self, name, shape, std):
        return self.rng(name).standard_normal(shape) * std

    def _block_gains(self, name, shape):
        b = self.block
        grid = (-(-shape[0] // b), -(-shape[1] // b))
        gains = 2.0 ** self.rng(name + "#gain").uniform(-1.0, 1.0, grid)
        return np.repeat(np.repeat(gains, b, axis=0), b, axis=1)[:shape[0], :shape[1]]

    def linear_values(self, name, out_dim, in_dim, gain=1.0):
        w = self._normal(name, (out_dim, in_dim), gain / np.sqrt(in_dim))
        return w * self._block_gains(name, w.shape)

    # -- storage forms -------------------------------------------------------

    def bf16(self, name, values):
        self.tensors[name] = ("BF16", bf16_encode(values))

    def f32(self, name, values):
        self.tensors[name] = ("F32", np.asarray(values, dtype=np.float32))

    def int_table(self, name, values, dtype="I64"):
        self.tensors[name] = (dtype, np.asarray(values, dtype=np.int64 if dtype == "I64" else np.int32))

    def raw(self, name, dtype, array):
        self.tensors[name] = (dtype, array)

    def norm(self, name, dim, spread=0.1):
        """RMSNorm / LayerNorm gain: 1 + small noise, bf16."""
        self.bf16(name, 1.0 + self._normal(name, (dim,), spread))

    def dense_bf16(self, name, out_dim, in_dim, gain=1.0):
        self.bf16(name, self._normal(name, (out_dim, in_dim), gain / np.sqrt(in_dim)))

    def fp8_linear(self, prefix, out_dim, in_dim, gain=1.0, style="v3"):
        """An FP8 block-quantised linear.

        style 'v3':  F32 weight_scale_inv = amax/448 (any float32 value);
        style 'v32': F32 weight_scale_inv, powers of two (ue8m0 checkpoints);
        style 'v4':  F8_E8M0 `.scale`, powers of two.
        """
        w = self.linear_values(prefix + ".weight", out_dim, in_dim, gain)
        codes, scale = encode_fp8_blocks(w, self.block, pow2=(style != "v3"))
        self.tensors[prefix + ".weight"] = ("F8_E4M3", codes)
        if style == "v4":
            self.tensors[prefix + ".scale"] = ("F8_E8M0", e8m0_encode(scale))
        else:
            self.tensors[prefix + ".weight_scale_inv"] = ("F32", scale.astype(np.float32))

    def fp4_linear(self, prefix, out_dim, in_dim, gain=1.0):
        """An FP4 (e2m1) linear with one e8m0 scale per 32 inputs of a row."""
        w = self.linear_values(prefix + ".weight", out_dim, in_dim, gain)
        packed, scale = encode_fp4(w)
        self.tensors[prefix + ".weight"] = ("I8", packed)
        self.tensors[prefix + ".scale"] = ("F8_E8M0", scale)
