"""Exact number formats and small shared transforms, in float64.

Everything here is written from SPEC.md §0 and FORMATS.md §1/§5. Narrow
formats round to nearest, ties to even, and saturate (FORMATS §5.8). The
activation scale rules compute in float32 where the formats say so, because
the official kernels do and a different rounding of the scale would change
which power of two is chosen.
"""

import numpy as np

# ----------------------------------------------------------------------------
# Generic rounding to a small binary float format.


def round_to_format(x, mant_bits, min_exp, max_value):
    """Round float64 values to a float format, RNE, saturating at ±max_value.

    mant_bits: explicit mantissa bits; min_exp: exponent of the smallest
    normal binade (values below it are subnormal with the same quantum).
    The quantum of x is 2^(max(e, min_exp) - mant_bits) with e = floor(log2|x|);
    x / quantum is then an integer whose low bit is the mantissa's low bit, so
    np.rint (ties to even) gives exactly round-to-nearest-even.
    """
    x = np.clip(np.asarray(x, dtype=np.float64), -max_value, max_value)
    _, e = np.frexp(x)  # x = f * 2^e with f in [0.5, 1): floor(log2|x|) = e - 1
    quantum = np.ldexp(1.0, np.maximum(e - 1, min_exp) - mant_bits)
    return np.rint(x / quantum) * quantum


# ----------------------------------------------------------------------------
# float8 e4m3fn: 1 sign, 4 exponent (bias 7), 3 mantissa, no inf, 0x7F/0xFF NaN.

E4M3_MAX = 448.0


def _e4m3_table():
    codes = np.arange(256)
    sign = np.where(codes & 0x80, -1.0, 1.0)
    exp = (codes >> 3) & 0xF
    mant = codes & 0x7
    mag = np.where(exp == 0, mant / 8.0 * 2.0 ** -6, (1.0 + mant / 8.0) * 2.0 ** (exp - 7.0))
    value = sign * mag
    value[(codes & 0x7F) == 0x7F] = np.nan
    return value


E4M3_VALUES = _e4m3_table()
# Non-negative finite codes 0x00..0x7E sorted by value (they already are).
_E4M3_POS = E4M3_VALUES[:0x7F]


def e4m3_decode(codes):
    return E4M3_VALUES[np.asarray(codes, dtype=np.uint8)]


def e4m3_round(x):
    """Value of x after an RNE, saturating cast to e4m3 (as float64)."""
    return round_to_format(x, 3, -6, E4M3_MAX)


def e4m3_encode(x):
    """Codes (uint8) of x cast to e4m3, RNE, saturating. The sign bit follows
    the sign of x (so small negatives become -0, as a hardware cast does)."""
    x = np.asarray(x, dtype=np.float64)
    mag = np.abs(e4m3_round(x))
    code = np.searchsorted(_E4M3_POS, mag).astype(np.uint8)
    return np.where(np.signbit(x), code | 0x80, code).astype(np.uint8)


# ----------------------------------------------------------------------------
# e2m1 (FP4): nibble -> value LUT of FORMATS §1, element 2k in the low nibble.

E2M1_VALUES = np.array([0, 0.5, 1, 1.5, 2, 3, 4, 6, -0.0, -0.5, -1, -1.5, -2, -3, -4, -6],
                       dtype=np.float64)
E2M1_MAX = 6.0


def e2m1_round(x):
    return round_to_format(x, 1, 0, E2M1_MAX)


def e2m1_encode(x):
    """Nibbles (uint8 0..15) of x cast to e2m1, RNE, saturating."""
    x = np.asarray(x, dtype=np.float64)
    mag = np.abs(e2m1_round(x))
    code = np.searchsorted(E2M1_VALUES[:8], mag).astype(np.uint8)
    return np.where(np.signbit(x), code | 0x8, code).astype(np.uint8)


def e2m1_decode(nibbles):
    return E2M1_VALUES[np.asarray(nibbles, dtype=np.uint8) & 0xF]


def fp4_pack(nibbles):
    """[..., 2n] nibbles -> [..., n] int8 bytes, element 2k in the low nibble."""
    nib = np.asarray(nibbles, dtype=np.uint8)
    packed = nib[..., 0::2] | (nib[..., 1::2] << 4)
    return packed.astype(np.uint8).view(np.int8)


def fp4_unpack(packed):
    b = np.asarray(packed).view(np.uint8)
    out = np.empty(b.shape[:-1] + (b.shape[-1] * 2,), dtype=np.uint8)
    out[..., 0::2] = b & 0xF
    out[..., 1::2] = b >> 4
    return out


# ----------------------------------------------------------------------------
# e8m0: unsigned power of two, 2^(b - 127); 0xFF is NaN.


def e8m0_decode(codes):
    b = np.asarray(codes, dtype=np.uint8).astype(np.int64)
    return np.where(b == 0xFF, np.nan, np.ldexp(1.0, b - 127))


def e8m0_encode(values):
    """Codes of exact powers of two (raises if a value is not one)."""
    v = np.asarray(values, dtype=np.float64)
    f, e = np.frexp(v)
    if np.any(f != 0.5):
        raise ValueError("e8m0 can only hold powers of two")
    b = e - 1 + 127
    if np.any((b < 0) | (b > 254)):
        raise ValueError("power of two outside the e8m0 range")
    return b.astype(np.uint8)


# ----------------------------------------------------------------------------
# bfloat16: the high half of an f32.


def bf16_round(x):
    return round_to_format(x, 7, -126, float(np.finfo(np.float32).max))


def bf16_encode(x):
    """uint16 bits of x rounded (RNE, directly from float64) to bfloat16."""
    v = bf16_round(x).astype(np.float32)  # exact: a bf16 value is an f32 value
    return (v.view(np.uint32) >> 16).astype(np.uint16)


def bf16_decode(bits):
    b = np.asarray(bits, dtype=np.uint16).astype(np.uint32) << 16
    with np.errstate(invalid="ignore"):  # NaN payloads convert fine; numpy just warns
        return b.view(np.float32).astype(np.float64)


def f32_round(x):
    return np.asarray(x, dtype=np.float64).astype(np.float32).astype(np.float64)


# ----------------------------------------------------------------------------
# Power-of-two ("ue8m0") activation scales.


def pow2_ceil_f32(p):
    """2^ceil(log2 p) for positive normal float32 p, read from its bits:
    the unbiased exponent, plus one when any mantissa bit is set (SPEC §0.5).
    """
    bits = np.asarray(p, dtype=np.float32).view(np.uint32).astype(np.int64)
    exp = ((bits >> 23) & 0xFF) - 127 + ((bits & 0x7FFFFF) != 0)
    return np.ldexp(1.0, exp)


_INV_448_F32 = np.float32(1.0 / 448.0)


def fp8_act_scale(amax):
    """s = 2^ceil(log2(f32(max(amax, 1e-4)) * f32(1/448))), product in float32
    (FORMATS §5.3)."""
    a = np.maximum(np.asarray(amax, dtype=np.float64), 1e-4).astype(np.float32)
    return pow2_ceil_f32(a * _INV_448_F32)


def fp4_act_scale(amax):
    """s = 2^ceil(log2(f32(max(amax, 6·2^-126)) / 6)), quotient in float32
    (FORMATS §5.6; the lower clamp is SPEC §0.6)."""
    a = np.maximum(np.asarray(amax, dtype=np.float64), 6.0 * 2.0 ** -126).astype(np.float32)
    return pow2_ceil_f32(a / np.float32(6.0))


def _blockwise(x, block, fn):
    """Apply fn to each block of `block` channels along the last axis.

    Mneme convention: when the width is not a multiple of the block, the final
    partial block is quantised on its own, using only the channels present
    (equivalent to zero padding, since padded zeros never raise the amax).
    """
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    for start in range(0, x.shape[-1], block):
        out[..., start:start + block] = fn(x[..., start:start + block])
    return out


def fp8_roundtrip(x, block=128):
    """Activation FP8 quantise-dequantise with ue8m0 scales (SPEC §0.5):
    per token (all leading axes), per `block` channels of the last axis."""
    def one(blk):
        s = fp8_act_scale(np.max(np.abs(blk), axis=-1, keepdims=True))
        return e4m3_round(blk / s) * s
    return _blockwise(x, block, one)


def fp4_roundtrip(x, block=32):
    """Activation FP4 (e2m1) quantise-dequantise with ue8m0 scales per 32."""
    def one(blk):
        s = fp4_act_scale(np.max(np.abs(blk), axis=-1, keepdims=True))
        return e2m1_round(blk / s) * s
    return _blockwise(x, block, one)


# ----------------------------------------------------------------------------
# Hadamard rotation (SPEC §0.7).


def hadamard_matrix(n):
    """Sylvester Hadamard matrix in natural order (H_2k = [[H, H], [H, -H]])."""
    if n < 1 or n & (n - 1):
        raise ValueError("Hadamard size must be a power of two")
    h = np.ones((1, 1))
    while h.shape[0] < n:
        h = np.block([[h, h], [h, -h]])
    return h


def hadamard(x):
    """y = x · H_n · n^-1/2 along the last axis."""
    n = x.shape[-1]
    return (np.asarray(x, dtype=np.float64) @ hadamard_matrix(n)) * n ** -0.5


# ----------------------------------------------------------------------------
# Rotary embeddings (SPEC §0.3, §0.4). Tables are built in float64.


def rope_inv_freq(rope_dim, base):
    """theta_i = base^(-2i/R), i = 0..R/2-1, as 1 / base^(2i/R)."""
    return 1.0 / (float(base) ** (np.arange(0, rope_dim, 2, dtype=np.float64) / rope_dim))


def yarn_correction_range(rope_dim, base, original_max_pos, beta_fast, beta_slow):
    def dimcorr(r):
        return rope_dim * np.log(original_max_pos / (2.0 * np.pi * r)) / (2.0 * np.log(base))
    low = max(int(np.floor(dimcorr(beta_fast))), 0)
    high = min(int(np.ceil(dimcorr(beta_slow))), rope_dim - 1)
    return low, high


def yarn_inv_freq(rope_dim, base, factor, original_max_pos, beta_fast, beta_slow):
    """DeepSeek YaRN: theta' = theta/s·gamma + theta·(1-gamma) with the linear
    ramp gamma over the correction range [low, high]."""
    theta = rope_inv_freq(rope_dim, base)
    low, high = yarn_correction_range(rope_dim, base, original_max_pos, beta_fast, beta_slow)
    hi = high + 0.001 if low == high else high
    gamma = np.clip((np.arange(rope_dim // 2, dtype=np.float64) - low) / (hi - low), 0.0, 1.0)
    smooth = 1.0 - gamma
    return theta / factor * (1.0 - smooth) + theta * smooth


def yarn_mscale(factor, mscale):
    return 0.1 * mscale * np.log(factor) + 1.0 if factor > 1.0 else 1.0


def rope_angles(positions, inv_freq):
    """angle[p, i] = p · inv_freq[i], in float64."""
    return np.asarray(positions, dtype=np.float64)[:, None] * inv_freq[None, :]


def rope_interleaved(x, angles):
    """Rotate pairs (x[2i], x[2i+1]) by angles[..., i] (GPT-J layout).

    x: [T, ..., R]; angles: [T, R/2], broadcast over the middle axes.
    """
    ang = angles.reshape(angles.shape[:1] + (1,) * (x.ndim - 2) + angles.shape[1:])
    cos, sin = np.cos(ang), np.sin(ang)
    a, b = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x, dtype=np.float64)
    out[..., 0::2] = a * cos - b * sin
    out[..., 1::2] = a * sin + b * cos
    return out


def rope_half_split(x, angles):
    """Rotate pairs (x[i], x[i+R/2]) by angles[..., i] (NeoX layout)."""
    ang = angles.reshape(angles.shape[:1] + (1,) * (x.ndim - 2) + angles.shape[1:])
    cos, sin = np.cos(ang), np.sin(ang)
    half = x.shape[-1] // 2
    a, b = x[..., :half], x[..., half:]
    return np.concatenate([a * cos - b * sin, b * cos + a * sin], axis=-1)


# ----------------------------------------------------------------------------
# Deterministic top-k.


def topk_lower_index(scores, k, axis=-1):
    """Indices of the k largest scores along `axis`, ties to the lower index.

    A stable sort of -score keeps equal scores in index order, which is the
    Mneme tie rule (FORMATS §5.7). Returned in rank order.
    """
    order = np.argsort(-np.asarray(scores, dtype=np.float64), axis=axis, kind="stable")
    return np.take(order, np.arange(k), axis=axis)
