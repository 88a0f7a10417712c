#!/usr/bin/python3
"""Random-seed exactness check of mneme-cli against this reference.

    cross_check.py --cli PATH/mneme-cli --family v3|v32|v4|v4e --seeds 10-14
                   [--tokens N] [--modes prefill,decode,chunked:5] [--max-rel 1e-9]

For every seed: generate a tiny checkpoint, compute the float64 reference
logits of a random token sequence, run `mneme-cli logits --precision f64
--dtype f64` in each mode, and require max|got - ref| / max|ref| <= max-rel.
Prints one line per (seed, mode) and a closing "N passed, M failed" line.
"""

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gen_checkpoint  # noqa: E402
from check_model import compare  # noqa: E402
from models import reference_logits  # noqa: E402


def seed_range(text):
    if "-" in text:
        lo, hi = text.split("-")
        return list(range(int(lo), int(hi) + 1))
    return [int(s) for s in text.split(",")]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cli", required=True)
    ap.add_argument("--family", required=True)
    ap.add_argument("--seeds", default="10-12")
    ap.add_argument("--tokens", type=int, default=40)
    ap.add_argument("--modes", default="prefill,decode,chunked:5")
    ap.add_argument("--max-rel", type=float, default=1e-9)
    ap.add_argument("--index-topk", type=int, default=None)
    a = ap.parse_args(argv)

    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="mneme-cross-") as tmp:
        for seed in seed_range(a.seeds):
            model_dir = os.path.join(tmp, f"{a.family}-{seed}")
            cfg, tensors = gen_checkpoint.build(a.family, seed, index_topk=a.index_topk)
            gen_checkpoint.write(model_dir, cfg, tensors, shards=1 + seed % 2)
            rng = np.random.default_rng(1000 + seed)
            tokens = rng.integers(0, cfg["vocab_size"], size=a.tokens).tolist()
            ref = reference_logits(model_dir, tokens)
            for mode in a.modes.split(","):
                out = os.path.join(tmp, "got.npy")
                cmd = [a.cli, "logits", "--model", model_dir, "--tokens", ",".join(map(str, tokens)),
                       "--out", out, "--mode", mode, "--precision", "f64", "--dtype", "f64"]
                run = subprocess.run(cmd, capture_output=True, text=True)
                if run.returncode != 0:
                    print(f"FAIL {a.family} seed {seed} {mode}: mneme-cli exited {run.returncode}: {run.stderr.strip()}")
                    failed += 1
                    continue
                r = compare(np.load(out), ref)
                ok = r["max_rel"] <= a.max_rel
                print(f"{'ok  ' if ok else 'FAIL'} {a.family} seed {seed} {mode}: max relative error {r['max_rel']:.3e}")
                passed += ok
                failed += not ok
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
