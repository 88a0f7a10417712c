"""Fake quantisation in PyTorch with straight-through gradients.

Each function reproduces one round trip of FORMATS §1/§5 bit for bit when run
in float64 (the same formulas as tools/reference/numerics.py and
weight_codec.py), so a model trained with them exports without surprise.
The forward value is the quantised one; the gradient passes through as if
the round trip were the identity (straight-through estimator).
"""

import torch


def _ste(x, q):
    return x + (q - x).detach()


def round_to_format(x, mant_bits, min_exp, max_value):
    """RNE rounding to a small binary float, saturating (numerics.round_to_format)."""
    x = x.clamp(-max_value, max_value)
    _, e = torch.frexp(x)
    quantum = torch.pow(2.0, (torch.clamp(e - 1, min=min_exp) - mant_bits).to(x.dtype))
    return torch.round(x / quantum) * quantum  # torch.round is half-to-even


def e4m3(x):
    return round_to_format(x, 3, -6, 448.0)


def e2m1(x):
    return round_to_format(x, 1, 0, 6.0)


def _pow2_ceil_f32(p):
    """2^ceil(log2 p) for positive float32 p, exact (reads the binary exponent)."""
    m, e = torch.frexp(p)
    return torch.pow(2.0, (e - (m == 0.5).to(e.dtype)).to(torch.float64))


def _blocks(x, block):
    """View the last axis as [n_blocks, block] (the last block may be partial:
    it is zero padded, which never raises its amax)."""
    n = x.shape[-1]
    pad = (-n) % block
    if pad:
        x = torch.nn.functional.pad(x, (0, pad))
    return x.reshape(*x.shape[:-1], (n + pad) // block, block), n


def _unblocks(xb, n):
    return xb.reshape(*xb.shape[:-2], -1)[..., :n]


def fp8_act(x, block=128):
    """Activation FP8 round trip with ue8m0 scales per token per `block` channels:
    s = 2^ceil(log2(f32(max(amax, 1e-4)) · f32(1/448)))."""
    with torch.no_grad():
        xb, n = _blocks(x.detach(), block)
        amax = xb.abs().amax(-1, keepdim=True).clamp_min(1e-4).float()
        s = _pow2_ceil_f32(amax * torch.tensor(1.0 / 448.0, dtype=torch.float32)).to(x.dtype)
        q = _unblocks(e4m3(xb / s) * s, n)
    return _ste(x, q)


def fp4_act(x, block=32):
    """Activation FP4 round trip: s = 2^ceil(log2(f32(max(amax, 6·2^-126)) / 6))."""
    with torch.no_grad():
        xb, n = _blocks(x.detach(), block)
        amax = xb.abs().amax(-1, keepdim=True).clamp_min(6.0 * 2.0 ** -126).float()
        s = _pow2_ceil_f32(amax / torch.tensor(6.0, dtype=torch.float32)).to(x.dtype)
        q = _unblocks(e2m1(xb / s) * s, n)
    return _ste(x, q)


def _pow2_scale(amax, qmax):
    """Weight scale 2^ceil(log2(amax/qmax)) (weight_codec's pow2 rule), amax ≥ 1e-12."""
    a = amax.clamp_min(1e-12).double() / qmax
    m, e = torch.frexp(a)
    return torch.pow(2.0, (e - (m == 0.5).to(e.dtype)).double())


def fp8_weight(w, block=128):
    """FP8 e4m3 weight with one power-of-two scale per block×block tile."""
    with torch.no_grad():
        o, i = w.shape
        po, pi = (-o) % block, (-i) % block
        wp = torch.nn.functional.pad(w.detach(), (0, pi, 0, po))
        t = wp.reshape((o + po) // block, block, (i + pi) // block, block)
        s = _pow2_scale(t.abs().amax(dim=(1, 3), keepdim=True), 448.0).to(w.dtype)
        q = (e4m3(t / s) * s).reshape(o + po, i + pi)[:o, :i]
    return _ste(w, q)


def fp8_weight_scales(w, block=128):
    o, i = w.shape
    wp = torch.nn.functional.pad(w.detach(), (0, (-i) % block, 0, (-o) % block))
    t = wp.reshape(wp.shape[0] // block, block, wp.shape[1] // block, block)
    return _pow2_scale(t.abs().amax(dim=(1, 3)), 448.0)


def fp4_weight(w, block=32):
    """FP4 e2m1 weight with one power-of-two scale per 32 inputs of a row."""
    with torch.no_grad():
        o, i = w.shape
        t = w.detach().reshape(o, i // block, block)
        s = _pow2_scale(t.abs().amax(-1, keepdim=True), 6.0).to(w.dtype)
        q = (e2m1(t / s) * s).reshape(o, i)
    return _ste(w, q)


def fp8_rows(w, block=32):
    """FP8 table rows with one power-of-two scale per 32 values (Engram tables)."""
    with torch.no_grad():
        o, i = w.shape
        t = w.detach().reshape(o, i // block, block)
        s = _pow2_scale(t.abs().amax(-1, keepdim=True), 448.0).to(w.dtype)
        q = (e4m3(t / s) * s).reshape(o, i)
    return _ste(w, q)


def bf16(w):
    """Round to bfloat16 (the storage of plain weights)."""
    with torch.no_grad():
        q = w.detach().float().to(torch.bfloat16).to(w.dtype)
    return _ste(w, q)
