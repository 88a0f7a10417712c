"""Load a checkpoint directory and hand out tensors as float64.

Quantised weights are decoded exactly as FORMATS §1 says (see
weight_codec.py); the float64 arrays are cached because layers reuse them.
"""

import json
import os

import numpy as np

from numerics import bf16_decode, e8m0_decode
from safetensors_io import read_checkpoint
from weight_codec import decode_fp4, decode_fp8_blocks, decode_fp8_rows


class Checkpoint:
    def __init__(self, directory):
        with open(os.path.join(directory, "config.json")) as f:
            self.config = json.load(f)
        self.raw = read_checkpoint(directory)
        q = self.config.get("quantization_config", {})
        self.block = tuple(q.get("weight_block_size", [128, 128]))
        self.ue8m0 = q.get("scale_fmt") == "ue8m0"
        self._cache = {}

    def has(self, name):
        return name in self.raw

    def dtype(self, name):
        return self.raw[name][0]

    def tensor(self, name):
        """A plain (not block-quantised) tensor as float64: BF16, F32, F64."""
        dtype, a = self.raw[name]
        if dtype == "BF16":
            return bf16_decode(a)
        if dtype in ("F32", "F64"):
            return a.astype(np.float64)
        raise TypeError(f"{name}: {dtype} is not a plain float tensor")

    def ints(self, name):
        dtype, a = self.raw[name]
        if dtype not in ("I32", "I64"):
            raise TypeError(f"{name}: {dtype} is not an integer table")
        return a.astype(np.int64)

    def is_quantised(self, prefix):
        """True when `prefix.weight` is FP8 or FP4 (its input gets activation
        quantisation in the ue8m0 families)."""
        return self.raw[prefix + ".weight"][0] in ("F8_E4M3", "I8")

    def weight(self, prefix):
        """Dequantised `prefix.weight` as float64, whatever its storage."""
        if prefix in self._cache:
            return self._cache[prefix]
        dtype, w = self.raw[prefix + ".weight"]
        if dtype == "F8_E4M3":
            if prefix + ".weight_scale_inv" in self.raw:
                sdtype, scale = self.raw[prefix + ".weight_scale_inv"]
                if sdtype != "F32":
                    raise TypeError(f"{prefix}.weight_scale_inv must be F32")
                value = decode_fp8_blocks(w, scale, self.block)
            else:
                value = decode_fp8_blocks(w, self._e8m0(prefix + ".scale"), self.block)
        elif dtype == "I8":
            value = decode_fp4(w, self.raw[prefix + ".scale"][1])
        else:
            value = self.tensor(prefix + ".weight")
        self._cache[prefix] = value
        return value

    def fp8_table(self, prefix, block=32):
        """An FP8 table with one e8m0 scale per `block` values of a row."""
        if prefix not in self._cache:
            self._cache[prefix] = decode_fp8_rows(self.raw[prefix + ".weight"][1],
                                                  self.raw[prefix + ".scale"][1], block)
        return self._cache[prefix]

    def _e8m0(self, name):
        dtype, s = self.raw[name]
        if dtype != "F8_E8M0":
            raise TypeError(f"{name} must be F8_E8M0")
        return e8m0_decode(s)
