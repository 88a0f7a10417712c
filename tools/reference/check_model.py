#!/usr/bin/python3
"""Compare a logits file with the float64 reference.

    check_model.py --model DIR --tokens 1,2,3|tokens.txt --logits got.npy
                   [--ref ref.npy] [--max-rel X] [--min-top1 F] [--max-kl K]

Prints the max relative error max|got - ref| / max|ref|, top-1 agreement
(fraction of rows whose argmax matches) and the mean KL(ref || got) of the
softmax distributions. The reference is computed from the checkpoint unless
--ref names a precomputed one (e.g. a fixture's logits.f64.npy). With any
threshold given, the exit status is 1 when a threshold is missed.
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from models import parse_tokens, reference_logits  # noqa: E402


def log_softmax(x):
    m = np.max(x, axis=-1, keepdims=True)
    return x - m - np.log(np.sum(np.exp(x - m), axis=-1, keepdims=True))


def compare(got, ref):
    got = np.asarray(got, dtype=np.float64)
    if got.shape != ref.shape:
        raise ValueError(f"shape {got.shape} differs from the reference {ref.shape}")
    rel = np.max(np.abs(got - ref)) / np.max(np.abs(ref))
    top1 = np.mean(np.argmax(got, axis=-1) == np.argmax(ref, axis=-1))
    lp_ref, lp_got = log_softmax(ref), log_softmax(got)
    kl = np.mean(np.sum(np.exp(lp_ref) * (lp_ref - lp_got), axis=-1))
    return {"max_rel": float(rel), "top1": float(top1), "mean_kl": float(kl)}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--logits", required=True)
    ap.add_argument("--ref")
    ap.add_argument("--max-rel", type=float)
    ap.add_argument("--min-top1", type=float)
    ap.add_argument("--max-kl", type=float)
    a = ap.parse_args(argv)
    tokens = parse_tokens(a.tokens)
    ref = np.load(a.ref) if a.ref else reference_logits(a.model, tokens)
    r = compare(np.load(a.logits), ref)
    print(f"rows {ref.shape[0]}  vocab {ref.shape[1]}")
    print(f"max relative error {r['max_rel']:.3e}")
    print(f"top-1 agreement    {r['top1']:.4f}")
    print(f"mean KL(ref||got)  {r['mean_kl']:.3e}")
    ok = ((a.max_rel is None or r["max_rel"] <= a.max_rel)
          and (a.min_top1 is None or r["top1"] >= a.min_top1)
          and (a.max_kl is None or r["mean_kl"] <= a.max_kl))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
