#!/usr/bin/python3
"""Self-tests of the float64 reference. Run: /usr/bin/python3 tools/reference/test_reference.py

Plain asserts, no test framework. Each test_* function checks one property
that the reference (and so every fixture) relies on.
"""

import json
import os
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numerics as nx  # noqa: E402
import safetensors_io as st  # noqa: E402
from weight_codec import decode_fp4, decode_fp8_blocks, encode_fp4, encode_fp8_blocks  # noqa: E402

GOLDEN = os.path.join(HERE, "..", "..", "tests", "golden")


# --- codecs -------------------------------------------------------------------

def test_e4m3_codes():
    v = nx.E4M3_VALUES
    assert np.isnan(v[0x7F]) and np.isnan(v[0xFF])
    assert v[0x7E] == 448.0 and v[0xFE] == -448.0
    assert v[0x01] == 2.0 ** -9 and v[0x08] == 2.0 ** -6 and v[0x07] == 7 / 8 * 2.0 ** -6
    assert v[0x38] == 1.0 and v[0x80] == 0.0 and np.signbit(v[0x80])
    finite = [c for c in range(256) if (c & 0x7F) != 0x7F]
    # Every finite code survives decode -> encode, including -0.
    assert np.array_equal(nx.e4m3_encode(v[finite]), np.array(finite, dtype=np.uint8))


def test_e4m3_rounding():
    pos = nx.E4M3_VALUES[:0x7F]
    mids = (pos[:-1] + pos[1:]) / 2
    codes = nx.e4m3_encode(mids)
    # An exact midpoint rounds to the neighbour with an even code (even mantissa).
    assert np.all(codes % 2 == 0)
    assert np.all((codes == np.arange(0x7E)) | (codes == np.arange(1, 0x7F)))
    # Just off the midpoint rounds to the nearer neighbour.
    assert np.array_equal(nx.e4m3_encode(np.nextafter(mids, 0)), np.arange(0x7E, dtype=np.uint8))
    assert np.array_equal(nx.e4m3_encode(np.nextafter(mids, 1e9)), np.arange(1, 0x7F, dtype=np.uint8))
    # Saturation, not NaN, above 448.
    assert list(nx.e4m3_round([449.0, 470.0, 1e9, -1e9])) == [448.0, 448.0, 448.0, -448.0]
    assert nx.e4m3_encode(-1e9) == 0xFE


def test_e2m1_codes_and_rounding():
    v = nx.E2M1_VALUES
    assert np.array_equal(nx.e2m1_encode(v), np.arange(16, dtype=np.uint8))
    pos = v[:8]
    mids = (pos[:-1] + pos[1:]) / 2  # 0.25 0.75 1.25 1.75 2.5 3.5 5
    assert list(nx.e2m1_round(mids)) == [0.0, 1.0, 1.0, 2.0, 2.0, 4.0, 4.0]
    assert list(nx.e2m1_round([6.5, 100.0, -7.0])) == [6.0, 6.0, -6.0]
    nib = np.arange(16, dtype=np.uint8)
    packed = nx.fp4_pack(nib)
    assert packed.view(np.uint8)[0] == 0x10  # element 0 low nibble, element 1 high
    assert np.array_equal(nx.fp4_unpack(packed), nib)


def test_e8m0_and_bf16():
    assert nx.e8m0_decode(127) == 1.0 and nx.e8m0_decode(0) == 2.0 ** -127
    assert np.isnan(nx.e8m0_decode(255))
    assert np.array_equal(nx.e8m0_encode(nx.e8m0_decode(np.arange(255))), np.arange(255))
    bits = np.arange(0, 65536, 7, dtype=np.uint16)
    vals = nx.bf16_decode(bits)
    ok = np.isfinite(vals) & ~((vals == 0) & (bits != 0) & (bits != 0x8000))
    assert np.array_equal(nx.bf16_encode(vals[ok]), bits[ok])
    # Ties to even: 1 + 2^-8 is half a bf16 ulp above 1.
    assert nx.bf16_round(1 + 2.0 ** -8) == 1.0
    assert nx.bf16_round(1 + 3 * 2.0 ** -8) == 1 + 2.0 ** -6


def test_activation_scales():
    assert nx.fp8_act_scale(448.0) == 1.0          # f32(448)·f32(1/448) rounds to exactly 1
    assert nx.fp8_act_scale(224.0) == 0.5
    assert nx.fp8_act_scale(448.0 * (1 + 2.0 ** -20)) == 2.0
    assert nx.fp8_act_scale(0.0) == 2.0 ** -22      # amax clamped to 1e-4
    assert nx.fp4_act_scale(6.0) == 1.0 and nx.fp4_act_scale(6.0001) == 2.0
    assert nx.fp4_act_scale(0.0) == 2.0 ** -126


def test_fp8_roundtrip_blocks():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 160))
    y = nx.fp8_roundtrip(x)
    # Idempotent: an FP8 block re-quantised with its own ue8m0 scale is unchanged.
    assert np.array_equal(nx.fp8_roundtrip(y), y)
    # The partial last block (channels 128..159) is scaled from its own channels only.
    x2 = x.copy()
    x2[:, 0] = 1e4
    assert np.array_equal(nx.fp8_roundtrip(x2)[:, 128:], y[:, 128:])
    assert np.array_equal(nx.fp8_roundtrip(x[:, 128:]), y[:, 128:])
    assert np.max(np.abs(y - x)) < 0.07 * np.max(np.abs(x))


def test_weight_codecs():
    rng = np.random.default_rng(1)
    w = rng.standard_normal((200, 136))
    for pow2 in (False, True):
        codes, scale = encode_fp8_blocks(w, 128, pow2)
        assert scale.shape == (2, 2)
        deq = decode_fp8_blocks(codes, scale.astype(np.float32), 128)
        assert np.max(np.abs(deq - w)) < 0.07 * np.max(np.abs(w))
        if pow2:
            assert np.all(np.frexp(scale)[0] == 0.5)
    packed, s = encode_fp4(w[:, :128])
    assert packed.shape == (200, 64) and s.shape == (200, 4)
    assert np.max(np.abs(decode_fp4(packed, s) - w[:, :128])) < 0.35 * np.max(np.abs(w))


# --- transforms ---------------------------------------------------------------

def test_hadamard():
    h4 = nx.hadamard_matrix(4)
    assert np.array_equal(h4[1], [1, -1, 1, -1]) and np.array_equal(h4[2], [1, 1, -1, -1])
    for n in (2, 16, 64, 128):
        h = nx.hadamard_matrix(n)
        assert np.array_equal(h @ h.T, n * np.eye(n))
    x = np.random.default_rng(2).standard_normal((3, 128))
    assert np.allclose(nx.hadamard(nx.hadamard(x)), x, rtol=0, atol=1e-14)
    assert np.allclose(np.linalg.norm(nx.hadamard(x), axis=-1), np.linalg.norm(x, axis=-1))


def test_yarn_numbers():
    assert nx.yarn_correction_range(64, 10000, 4096, 32, 1) == (10, 23)
    assert nx.yarn_correction_range(64, 160000, 65536, 32, 1) == (15, 25)
    m = nx.yarn_mscale(40, 1.0)
    assert abs(m - 1.36889) < 1e-5
    assert abs(192 ** -0.5 * m * m - 0.135234) < 1e-6
    inv = nx.yarn_inv_freq(64, 10000, 40, 4096, 32, 1)
    theta = nx.rope_inv_freq(64, 10000)
    assert np.array_equal(inv[:11], theta[:11])          # i <= low: unchanged
    assert np.allclose(inv[23:], theta[23:] / 40, rtol=1e-15)  # i >= high: divided by s
    assert np.all((inv[11:23] < theta[11:23]) & (inv[11:23] > theta[11:23] / 40))


def test_rope_layouts():
    rng = np.random.default_rng(3)
    r = 16
    inv = nx.yarn_inv_freq(r, 10000, 40, 4096, 32, 1)
    ang = nx.rope_angles(np.arange(7), inv)
    x = rng.standard_normal((7, 2, r))
    # Interleaved pairs (2i, 2i+1) and half-split pairs (i, i+R/2) are the
    # same rotation under the permutation that de-interleaves.
    perm = np.concatenate([np.arange(0, r, 2), np.arange(1, r, 2)])
    assert np.allclose(nx.rope_interleaved(x, ang)[..., perm], nx.rope_half_split(x[..., perm], ang),
                       rtol=0, atol=1e-15)
    # Explicit pair check: y0 = x0 cos - x1 sin, y1 = x0 sin + x1 cos.
    y = nx.rope_interleaved(x, ang)
    c, s = np.cos(ang[3, 1]), np.sin(ang[3, 1])
    assert np.isclose(y[3, 0, 2], x[3, 0, 2] * c - x[3, 0, 3] * s)
    assert np.isclose(y[3, 0, 3], x[3, 0, 2] * s + x[3, 0, 3] * c)
    y = nx.rope_half_split(x, ang)
    assert np.isclose(y[3, 0, 1], x[3, 0, 1] * c - x[3, 0, 1 + r // 2] * s)
    assert np.isclose(y[3, 0, 1 + r // 2], x[3, 0, 1 + r // 2] * c + x[3, 0, 1] * s)
    # Inverse rotation restores; scores depend only on relative position.
    assert np.allclose(nx.rope_interleaved(nx.rope_interleaved(x, ang), -ang), x, atol=1e-15)
    q, k = rng.standard_normal(r), rng.standard_normal(r)
    a = nx.rope_angles(np.array([5, 2, 9, 6]), inv)
    rot = nx.rope_interleaved(np.stack([q, k, q, k])[:, None, :], a)[:, 0]
    assert np.isclose(rot[0] @ rot[1], rot[2] @ rot[3], rtol=1e-13)


def test_topk_ties():
    s = np.array([1.0, 3.0, 3.0, 0.0, 3.0, 0.0])
    assert list(nx.topk_lower_index(s, 2)) == [1, 2]
    assert list(nx.topk_lower_index(s, 5)) == [1, 2, 4, 0, 3]
    assert list(nx.topk_lower_index(np.array([-np.inf, 0.0, -0.0]), 2)) == [1, 2]


def test_engram_hash_numbers():
    """SPEC §5.3 numbers: demo/V4.1 multipliers and table sizes."""
    import engram_hash as eh
    assert list(eh.multipliers(0, 1, 4, 99092)) == [76632096046245, 4839876093313, 35959672319349,
                                                     73987337458391]
    assert list(eh.multipliers(0, 14, 4, 99092)) == [67716810739261, 51510806800915, 30921347202721,
                                                      82619226485591]
    p = eh.table_primes([1, 14], 4, 8, 16000000)
    assert [sum(p[1]), sum(p[14])] == [384006168, 384016682]
    p = eh.table_primes([1, 15], 3, 8, [129280 * 5] * 2)
    assert [sum(p[1]), sum(p[15])] == [10344164, 10348242] and p[1][:3] == [646403, 646411, 646421]
    assert len(set(p[1]) | set(p[15])) == 32


def test_engram_rows():
    import engram_hash as eh
    canon = np.array([0, 1, 2, 1, 3, 0, 4])
    primes = eh.table_primes([2], 3, 2, [11, 13])[2]
    mults = eh.multipliers(0, 2, 3, 5)
    tokens = [4, 1, 5, 6, 4, 3, 5, 6]   # canonical 3 1 0 4 3 1 0 4: the trigram at 6 repeats 2
    rows = eh.row_ids(tokens, canon, 2, mults, primes, 3, 2)
    off = eh.offsets(primes)
    assert rows.shape == (8, 4)
    assert np.all((rows >= off) & (rows < off + np.array(primes)))
    assert np.array_equal(rows[6], rows[2]) and np.array_equal(rows[7], rows[3])
    # Position 0 hashes the pad id (canonical of token 2) as its history.
    pad = canon[2]
    h2 = (canon[4] * mults[0]) ^ (pad * mults[1])
    assert rows[0, 0] == h2 % primes[0] and rows[0, 3] == (h2 ^ (pad * mults[2])) % primes[3] + off[3]


def test_sinkhorn():
    import mhc
    logits = np.random.default_rng(5).standard_normal((6, 4, 4)) * 3
    c = mhc.sinkhorn(logits, 20, 1e-6)
    assert np.all(c > 0)
    assert np.allclose(c.sum(axis=-2), 1.0, atol=1e-5)
    assert np.allclose(c.sum(axis=-1), 1.0, atol=0.05)
    one = mhc.sinkhorn(np.zeros((4, 4)), 20, 0.0)
    assert np.allclose(one, 0.25, rtol=0, atol=1e-15)


def test_mhc_identity_mix():
    """With comb = I and post = 0 the streams pass through unchanged."""
    import mhc
    x = np.random.default_rng(6).standard_normal((3, 4, 8))
    comb = np.broadcast_to(np.eye(4), (3, 4, 4))
    assert np.array_equal(mhc.expand(np.ones((3, 8)), x, np.zeros((3, 4)), comb), x)


# --- file format --------------------------------------------------------------

def test_safetensors_roundtrip():
    rng = np.random.default_rng(4)
    tensors = {
        "a.bf16": ("BF16", rng.integers(0, 65535, (3, 5)).astype(np.uint16)),
        "b.f32": ("F32", rng.standard_normal((7,)).astype(np.float32)),
        "c.f8": ("F8_E4M3", rng.integers(0, 255, (3, 3)).astype(np.uint8)),
        "d.e8m0": ("F8_E8M0", rng.integers(100, 150, (2, 1)).astype(np.uint8)),
        "e.i8": ("I8", rng.integers(-128, 127, (4, 3)).astype(np.int8)),
        "f.i32": ("I32", rng.integers(-9, 9, (5,)).astype(np.int32)),
        "g.i64": ("I64", rng.integers(-2 ** 62, 2 ** 62, (2, 3)).astype(np.int64)),
    }
    blob = st.encode(tensors)
    n = int.from_bytes(blob[:8], "little")
    assert (8 + n) % 8 == 0
    with tempfile.TemporaryDirectory() as d:
        for shards in (1, 3):
            sub = os.path.join(d, str(shards))
            st.write_checkpoint(sub, tensors, shards=shards)
            back = st.read_checkpoint(sub)
            assert set(back) == set(tensors)
            for name, (dtype, a) in tensors.items():
                assert back[name][0] == dtype and np.array_equal(back[name][1], a)
        assert os.path.exists(os.path.join(d, "3", "model.safetensors.index.json"))


# --- models -------------------------------------------------------------------

def _fixture(name):
    path = os.path.join(GOLDEN, name)
    if not os.path.exists(os.path.join(path, "logits.f64.npy")):
        return None, None
    from models import parse_tokens
    return path, parse_tokens(os.path.join(path, "tokens.txt"))


def test_mla_absorbed_equals_mha():
    from model_v3 import V3Model
    for name in ("v3-tiny", "v3-tiny-sharded", "v32-tiny"):
        path, tokens = _fixture(name)
        if path is None:
            continue
        m = V3Model(path)
        a, b = m.forward(tokens[:40]), m.forward(tokens[:40], absorbed=True)
        assert np.max(np.abs(a - b)) / np.max(np.abs(a)) < 1e-12, name


def test_dsa_large_topk_equals_dense():
    from model_v3 import V3Model
    path, tokens = _fixture("v32-tiny")
    if path is None:
        return
    m = V3Model(path)
    sparse = m.forward(tokens)
    assert np.max(np.abs(sparse - m.forward(tokens, sparse=False))) > 1e-3  # DSA really drops tokens
    m.cfg["index_topk"] = len(tokens)
    assert np.array_equal(m.forward(tokens), m.forward(tokens, sparse=False))
    path, tokens = _fixture("v32-tiny-dense")
    if path is not None:
        # The committed logits came from another machine: NumPy picks its float64 loops by CPU
        # feature, so summation order (and the last bit) may differ there; 1e-12 is far below
        # anything a wrong forward pass could produce.
        dense = V3Model(path).forward(tokens, sparse=False)
        golden = np.load(os.path.join(path, "logits.f64.npy"))
        assert np.max(np.abs(golden - dense)) / np.max(np.abs(golden)) < 1e-12


def test_prefix_consistency():
    """Causality: the logits of a prefix equal the first rows of the full pass
    (no future token leaks through DSA, compressors, indexers, Engram conv)."""
    import make_goldens
    import models
    for name in make_goldens.FIXTURES:
        path, tokens = _fixture(name)
        if path is None:
            continue
        full = np.load(os.path.join(path, "logits.f64.npy"))
        k = len(tokens) * 2 // 3 + 1
        part = models.reference_logits(path, tokens[:k])
        assert np.max(np.abs(part - full[:k])) <= 1e-9 * np.max(np.abs(full)), name


def test_goldens_reproduce():
    """The committed fixtures are what the generator and reference produce now."""
    import make_goldens
    import models
    for name, spec in make_goldens.FIXTURES.items():
        path, tokens = _fixture(name)
        if path is None:
            continue
        with tempfile.TemporaryDirectory() as d:
            make_goldens.make_fixture(name, spec, d)
            for fname in os.listdir(os.path.join(d, name)):
                if fname.endswith((".safetensors", ".json", ".txt")):
                    with open(os.path.join(d, name, fname), "rb") as f1, \
                            open(os.path.join(path, fname), "rb") as f2:
                        assert f1.read() == f2.read(), f"{name}/{fname} differs"
        ref = np.load(os.path.join(path, "logits.f64.npy"))
        assert np.max(np.abs(models.reference_logits(path, tokens) - ref)) <= 1e-12 * np.max(np.abs(ref))
    prim = os.path.join(GOLDEN, "primitives")
    if os.path.isdir(prim):
        import make_primitives
        with tempfile.TemporaryDirectory() as d:
            make_primitives.main(["--out", d])
            for fname in os.listdir(d):
                with open(os.path.join(d, fname), "rb") as f1, open(os.path.join(prim, fname), "rb") as f2:
                    made, kept = f1.read(), f2.read()
                if fname.endswith(".json") and made != kept:
                    # Computed float64 values may differ in the last bit on another CPU (NumPy
                    # chooses its loops by CPU feature); everything else must be identical.
                    _assert_close_json(json.loads(made), json.loads(kept), f"primitives/{fname}")
                else:
                    assert made == kept, f"primitives/{fname} differs"


def _assert_close_json(a, b, where):
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for key in a:
            _assert_close_json(a[key], b[key], f"{where}/{key}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_close_json(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert abs(a - b) <= 1e-12 * max(1.0, abs(a), abs(b)), f"{where}: {a} vs {b}"
    else:
        assert a == b, f"{where}: {a!r} vs {b!r}"


def main():
    tests = [(n, f) for n, f in sorted(globals().items()) if n.startswith("test_") and callable(f)]
    only = sys.argv[1:]
    for name, fn in tests:
        if only and not any(o in name for o in only):
            continue
        fn()
        print(f"ok  {name}")
    print(f"{len(tests)} tests passed" if not only else "done")


if __name__ == "__main__":
    main()
