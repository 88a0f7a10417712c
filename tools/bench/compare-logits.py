#!/usr/bin/python3
"""Compare Mneme's logits (.npy from `mneme-cli logits`) with llama.cpp's (raw float32 rows).

    compare-logits.py MNEME.npy LLAMA.f32 [--label NAME] [--sparse-from K]

Prints one JSON object: positions, top-1 agreement (share of positions whose argmax matches),
the largest |difference| relative to that row's largest |logit|, the mean of that ratio, and the
first position whose ratio exceeds 1e-4 (-1 if none) with the largest ratio before it: a discrete
decision taken differently (a top-k selection at a near-tie) shows as agreement to float32
rounding up to some position and an error of a different order from there on.
With --sparse-from K the same figures are added for the positions t >= K alone: for a V3.2 model
K = index_topk, the queries whose attention sees only K of their t+1 causal positions; for V4
K = 4 * index_topk + 3, the queries whose ratio-4 layers see only index_topk of their compressed
blocks.
"""

import argparse
import json

import numpy as np


def figures(ours, theirs):
    scale = np.max(np.abs(ours), axis=1)
    rel = np.max(np.abs(ours - theirs), axis=1) / scale
    top1 = np.mean(np.argmax(ours, axis=1) == np.argmax(theirs, axis=1))
    beyond = np.nonzero(rel > 1e-4)[0]
    first = int(beyond[0]) if beyond.size else -1
    return {"positions": int(ours.shape[0]), "top1_agreement": float(top1), "max_rel_error": float(np.max(rel)),
            "mean_rel_error": float(np.mean(rel)), "first_beyond_1e-4": first,
            "max_rel_error_before": float(np.max(rel[:first])) if first > 0 else None,
            "positions_beyond_1e-4": int(beyond.size)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mneme")
    ap.add_argument("llama")
    ap.add_argument("--label", default="")
    ap.add_argument("--sparse-from", type=int, default=0)
    a = ap.parse_args()
    ours = np.load(a.mneme).astype(np.float64)
    theirs = np.fromfile(a.llama, dtype=np.float32).astype(np.float64).reshape(ours.shape)
    out = {"label": a.label, "vocab": int(ours.shape[1]), **figures(ours, theirs)}
    if 0 < a.sparse_from < ours.shape[0]:
        out["sparse_from"] = a.sparse_from
        out["sparse"] = figures(ours[a.sparse_from:], theirs[a.sparse_from:])
        if out["sparse"]["first_beyond_1e-4"] >= 0:
            out["sparse"]["first_beyond_1e-4"] += a.sparse_from
    print(json.dumps(out))


if __name__ == "__main__":
    main()
