#!/usr/bin/python3
"""Compare Mneme's logits (.npy from `mneme-cli logits`) with llama.cpp's (raw float32 rows).

    compare-logits.py MNEME.npy LLAMA.f32 [--label NAME]

Prints one JSON object: positions, top-1 agreement (share of positions whose argmax matches),
the largest |difference| relative to that row's largest |logit|, and the mean of that ratio.
"""

import argparse
import json

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mneme")
    ap.add_argument("llama")
    ap.add_argument("--label", default="")
    a = ap.parse_args()
    ours = np.load(a.mneme).astype(np.float64)
    theirs = np.fromfile(a.llama, dtype=np.float32).astype(np.float64).reshape(ours.shape)
    scale = np.max(np.abs(ours), axis=1)
    rel = np.max(np.abs(ours - theirs), axis=1) / scale
    top1 = np.mean(np.argmax(ours, axis=1) == np.argmax(theirs, axis=1))
    print(json.dumps({"label": a.label, "positions": int(ours.shape[0]), "vocab": int(ours.shape[1]),
                      "top1_agreement": float(top1), "max_rel_error": float(np.max(rel)),
                      "mean_rel_error": float(np.mean(rel))}))


if __name__ == "__main__":
    main()
