"""Block-quantised weight storage: FP8 with per-block scales, FP4 with e8m0.

Encoding is used by the checkpoint generator, decoding by the reference
loader. Decoding follows FORMATS §1 exactly: an FP8 weight is the float32
product f32(e4m3) × f32(scale) (rounded once to float32, then used in
float64); an FP4 weight is e2m1 × 2^(e - 127), exact in any precision.
"""

import numpy as np

from numerics import (e2m1_decode, e2m1_encode, e4m3_decode, e4m3_encode, e8m0_decode,
                      e8m0_encode, fp4_pack, fp4_unpack)


def _pair(block):
    return (block, block) if np.isscalar(block) else tuple(block)


def scale_grid_shape(shape, block):
    br, bc = _pair(block)
    return (-(-shape[0] // br), -(-shape[1] // bc))


def _block_amax(w, block):
    br, bc = _pair(block)
    nr, nc = scale_grid_shape(w.shape, block)
    amax = np.zeros((nr, nc))
    for i in range(nr):
        for j in range(nc):
            amax[i, j] = np.max(np.abs(w[i * br:(i + 1) * br, j * bc:(j + 1) * bc]))
    return amax


def _expand(scale, block, shape):
    """Broadcast a block-scale grid back to the full weight shape."""
    br, bc = _pair(block)
    if scale.shape != scale_grid_shape(shape, block):
        raise ValueError(f"scale grid {scale.shape} does not fit weight {shape} with block {block}")
    full = np.repeat(np.repeat(scale, br, axis=0), bc, axis=1)
    return full[:shape[0], :shape[1]]


def encode_fp8_blocks(w, block=128, pow2=False):
    """Quantise a float weight [out, in] to e4m3 codes and a scale grid.

    The scale of a block is amax/448 (V3: any float32) or that value rounded
    up to a power of two (V3.2/V4 ue8m0 checkpoints). A ragged edge block is
    scaled from the elements it has, as if zero padded.
    Returns (codes uint8 [out, in], scale float64 [ceil(out/b), ceil(in/b)]).
    """
    amax = np.maximum(_block_amax(w, block), 1e-12)
    if pow2:
        scale = np.ldexp(1.0, np.ceil(np.log2(amax / 448.0)).astype(np.int64))
    else:
        scale = (amax / 448.0).astype(np.float32).astype(np.float64)
    codes = e4m3_encode(w / _expand(scale, block, w.shape))
    return codes, scale


def decode_fp8_blocks(codes, scale, block=128):
    """W[i, j] = f32(e4m3(codes[i, j]) · scale[i//b, j//b]) as float64."""
    q = e4m3_decode(codes).astype(np.float32)
    s = _expand(np.asarray(scale, dtype=np.float32), block, codes.shape)
    return (q * s).astype(np.float64)  # float32 multiply: one rounding, as specified


def encode_fp4(w, block=32):
    """Quantise [out, in] to packed e2m1 (int8 [out, in/2]) and e8m0 scales
    [out, in/32], scale = 2^ceil(log2(amax/6)) per 32 inputs of a row."""
    rows, cols = w.shape
    blocks = w.reshape(rows, cols // block, block)
    amax = np.maximum(np.max(np.abs(blocks), axis=-1), 1e-12)
    scale = np.ldexp(1.0, np.ceil(np.log2(amax / 6.0)).astype(np.int64))
    nib = e2m1_encode(blocks / scale[..., None]).reshape(rows, cols)
    return fp4_pack(nib), e8m0_encode(scale)


def decode_fp4(packed, scale_codes, block=32):
    vals = e2m1_decode(fp4_unpack(packed))
    if scale_codes.shape != (vals.shape[0], vals.shape[1] // block):
        raise ValueError(f"FP4 scale shape {scale_codes.shape} does not fit weight {vals.shape}")
    s = np.repeat(e8m0_decode(scale_codes), block, axis=1)
    return vals * s


def encode_fp8_rows(w, block=32):
    """FP8 rows with one e8m0 scale per `block` values of a row (Engram tables)."""
    rows, cols = w.shape
    blocks = w.reshape(rows, cols // block, block)
    amax = np.maximum(np.max(np.abs(blocks), axis=-1), 1e-12)
    scale = np.ldexp(1.0, np.ceil(np.log2(amax / 448.0)).astype(np.int64))
    codes = e4m3_encode(blocks / scale[..., None]).reshape(rows, cols)
    return codes, e8m0_encode(scale)


def decode_fp8_rows(codes, scale_codes, block=32):
    if scale_codes.shape != (codes.shape[0], codes.shape[1] // block):
        raise ValueError(f"row scale shape {scale_codes.shape} does not fit table {codes.shape}")
    return e4m3_decode(codes) * np.repeat(e8m0_decode(scale_codes), block, axis=1)
