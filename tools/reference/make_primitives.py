#!/usr/bin/python3
"""Write small primitive test vectors for C++ unit tests (tests/golden/primitives/).

    make_primitives.py [--out tests/golden/primitives]

JSON files, float64 values written with 17 significant digits (exact round
trip), int64 values as JSON integers. Everything is deterministic.
  codecs.json      e4m3 / e2m1 / e8m0 / bf16 cases, activation scales and round trips
  transforms.json  Hadamard, YaRN inverse frequencies, both RoPE layouts
  sinkhorn.json    Sinkhorn-Knopp inputs and outputs (n = 4, 20 iterations)
  mhc.json         one mHC site (pre / post / comb / collapse / expand) and hc_head
  engram_hash.json multipliers, primes + offsets, row ids for a token sequence
"""

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import engram_hash as eh  # noqa: E402
import mhc  # noqa: E402
import numerics as nx  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def _plain(v):
    """numpy -> JSON-ready Python values (NaN becomes null)."""
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, np.ndarray):
        return _plain(v.tolist())
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return None if np.isnan(v) else float(v)
    return v


def _dump(path, obj):
    with open(path, "w") as f:
        json.dump(_plain(obj), f, indent=1, allow_nan=False)
        f.write("\n")


def codecs():
    rng = np.random.default_rng(11)
    pos = nx.E4M3_VALUES[:0x7F]
    e4m3_inputs = np.concatenate([
        (pos[:-1] + pos[1:]) / 2,                    # every exact tie (rounds to even code)
        [449.0, 464.0, 1e6, -1e6, -1e-9, 2.0 ** -10, 3 * 2.0 ** -11],
        rng.standard_normal(24) * 30.0,
    ])
    e2m1_inputs = np.array([0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0, 6.5, -0.1, -2.5, 0.3, 4.9])
    bf16_inputs = np.array([1 + 2.0 ** -8, 1 + 3 * 2.0 ** -8, -3.14159265358979, 1e-40, 65504.0])
    amax = np.array([0.0, 1e-6, 1e-4, 0.3, 1.0, 224.0, 448.0, 448.0 * (1 + 2.0 ** -20), 1000.0])
    x = rng.standard_normal((2, 160)) * np.array([[1.0], [40.0]])
    y = rng.standard_normal((2, 64))
    return {
        "e4m3_decode": nx.E4M3_VALUES,
        "e4m3_encode": {"input": e4m3_inputs, "code": nx.e4m3_encode(e4m3_inputs)},
        "e2m1_decode": nx.E2M1_VALUES,
        "e2m1_encode": {"input": e2m1_inputs, "nibble": nx.e2m1_encode(e2m1_inputs)},
        "bf16_encode": {"input": bf16_inputs, "bits": nx.bf16_encode(bf16_inputs)},
        "fp8_act_scale": {"amax": amax, "scale": nx.fp8_act_scale(amax),
                          "rule": "2^ceil(log2(f32(max(amax,1e-4)) * f32(1/448)))"},
        "fp4_act_scale": {"amax": amax, "scale": nx.fp4_act_scale(amax),
                          "rule": "2^ceil(log2(f32(max(amax,6*2^-126)) / 6))"},
        "fp8_roundtrip_block128": {"note": "width 160: blocks [0,128) and the partial [128,160)",
                                   "x": x, "y": nx.fp8_roundtrip(x, 128)},
        "fp8_roundtrip_block64": {"x": y, "y": nx.fp8_roundtrip(y, 64)},
        "fp4_roundtrip_block32": {"x": y, "y": nx.fp4_roundtrip(y, 32)},
    }


def transforms():
    rng = np.random.default_rng(12)
    x = rng.standard_normal((2, 16))
    r = 16
    inv_v3 = nx.yarn_inv_freq(64, 10000, 40, 4096, 32, 1)
    inv_v4 = nx.yarn_inv_freq(64, 160000, 16, 65536, 32, 1)
    inv_small = nx.yarn_inv_freq(r, 10000, 40, 4096, 32, 1)
    pos = np.array([0, 1, 7, 100])
    xr = rng.standard_normal((4, r))
    ang = nx.rope_angles(pos, inv_small)
    return {
        "hadamard16": {"x": x, "y": nx.hadamard(x)},
        "yarn_v3": {"rope_dim": 64, "base": 10000, "factor": 40, "original_max_pos": 4096,
                    "beta_fast": 32, "beta_slow": 1, "low_high": [10, 23], "inv_freq": inv_v3,
                    "softmax_scale_192": 192 ** -0.5 * nx.yarn_mscale(40, 1.0) ** 2},
        "yarn_v4_compressed": {"rope_dim": 64, "base": 160000, "factor": 16, "original_max_pos": 65536,
                               "beta_fast": 32, "beta_slow": 1, "low_high": [15, 25], "inv_freq": inv_v4},
        "rope": {"rope_dim": r, "inv_freq": inv_small, "positions": pos, "x": xr,
                 "interleaved": nx.rope_interleaved(xr[:, None, :], ang)[:, 0],
                 "half_split": nx.rope_half_split(xr[:, None, :], ang)[:, 0]},
    }


def sinkhorn():
    rng = np.random.default_rng(13)
    cases = []
    for spread in (0.5, 2.0, 6.0):
        logits = rng.standard_normal((4, 4)) * spread
        cases.append({"logits": logits, "out": mhc.sinkhorn(logits, 20, 1e-6)})
    return {"iters": 20, "eps": 1e-6,
            "rule": "row softmax + eps; column normalise; 19 x (row, column); x / (sum + eps)",
            "cases": cases}


def mhc_site():
    rng = np.random.default_rng(14)
    t, n, d = 3, 4, 8
    x = rng.standard_normal((t, n, d))
    fn = rng.standard_normal(((2 + n) * n, n * d)) / np.sqrt(n * d)
    base = rng.standard_normal((2 + n) * n)
    scale = rng.uniform(0.3, 1.0, 3)
    pre, post, comb = mhc.coefficients(x, fn, scale, base, 20, 1e-6, 1e-6)
    z = rng.standard_normal((t, d))
    head_fn = rng.standard_normal((n, n * d)) / np.sqrt(n * d)
    head_base = rng.standard_normal(n)
    head_scale = rng.uniform(0.3, 1.0, 1)
    return {
        "hc_mult": n, "dim": d, "sinkhorn_iters": 20, "hc_eps": 1e-6, "rms_norm_eps": 1e-6,
        "x": x, "fn": fn, "scale": scale, "base": base,
        "pre": pre, "post": post, "comb": comb,
        "collapse": mhc.collapse(x, pre),
        "z": z, "expand": mhc.expand(z, x, post, comb),
        "head_fn": head_fn, "head_scale": head_scale, "head_base": head_base,
        "head_out": mhc.head(x, head_fn, head_scale, head_base, 1e-6, 1e-6),
    }


def engram_vectors():
    mult_cases = []
    for seed, layer, n_max, vprime in [(0, 1, 4, 99092), (0, 14, 4, 99092), (0, 1, 3, 129280),
                                       (0, 15, 3, 129280), (7, 0, 3, 200), (123, 2, 4, 37),
                                       (0, 3, 2, 1), (2 ** 20, 61, 4, 16000000)]:
        mult_cases.append({"seed": seed, "layer": layer, "n_max": n_max, "compressed_vocab": vprime,
                           "multipliers": eh.multipliers(seed, layer, n_max, vprime)})
    prime_cases = []
    for layers, n_max, k, vocab in [([0, 2], 3, 2, [31, 37]), ([1, 5], 4, 3, 50),
                                    ([1, 14], 4, 8, 16000000)]:
        primes = eh.table_primes(layers, n_max, k, vocab)
        prime_cases.append({"layer_ids": layers, "n_max": n_max, "n_heads": k, "vocab_size": vocab,
                            "primes": primes, "offsets": {l: eh.offsets(p) for l, p in primes.items()},
                            "num_embeddings": [int(sum(primes[l])) for l in layers]})
    rng = np.random.default_rng(15)
    canon = np.concatenate([np.arange(20), rng.integers(0, 20, 12)])  # vocab 32 -> V' = 20
    tokens = rng.integers(0, 32, 24)
    tokens[12:18] = tokens[0:6]
    layer, n_max, k = 3, 4, 2
    vprime = int(canon.max()) + 1
    mults = eh.multipliers(0, layer, n_max, vprime)
    primes = eh.table_primes([layer], n_max, k, [23, 29, 31])[layer]
    return {
        "multipliers": mult_cases,
        "primes": prime_cases,
        "row_ids": {"canonical_ids": canon, "pad_token_id": 2, "tokens": tokens, "layer": layer,
                    "seed": 0, "n_max": n_max, "n_heads": k, "vocab_size": [23, 29, 31],
                    "multipliers": mults, "primes": primes,
                    "rows": eh.row_ids(tokens, canon, 2, mults, primes, n_max, k)},
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "golden", "primitives"))
    a = ap.parse_args(argv)
    os.makedirs(a.out, exist_ok=True)
    for name, make in (("codecs", codecs), ("transforms", transforms), ("sinkhorn", sinkhorn),
                       ("mhc", mhc_site), ("engram_hash", engram_vectors)):
        _dump(os.path.join(a.out, name + ".json"), make())
    with open(os.path.join(a.out, "README.md"), "w") as f:
        f.write("Primitive test vectors for C++ unit tests, made by "
                "`tools/reference/make_primitives.py` from the float64 reference.\n")


if __name__ == "__main__":
    main()
