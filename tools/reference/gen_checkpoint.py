#!/usr/bin/python3
"""Write a tiny random checkpoint directory in the published HF format.

    gen_checkpoint.py --family v3|v32|v4|v4e --seed N --out DIR
                      [--shards K] [--index-topk N] [--layers L] [--shapes NAME]
                      [--engram-conv K]

The output is deterministic per (family, shapes, seed): config.json plus
model.safetensors, or K shards and model.safetensors.index.json.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gen_v3 import v3_tensors  # noqa: E402
from gen_v4 import v4_tensors  # noqa: E402
from safetensors_io import write_checkpoint  # noqa: E402
from tiny_configs import v3_config  # noqa: E402
from tiny_configs_v4 import v4_config  # noqa: E402

DEFAULT_SHAPES = {"v3": "a", "v32": "dsa", "v4": "a", "v4e": "e"}


def build(family, seed, shapes=None, index_topk=None, layers=None, engram_conv=None):
    """Return (config dict, {name: (dtype, array)})."""
    shapes = shapes or DEFAULT_SHAPES[family]
    if family in ("v3", "v32"):
        cfg = v3_config(family, shapes, index_topk=index_topk, num_hidden_layers=layers)
        return cfg, v3_tensors(cfg, seed)
    if family in ("v4", "v4e"):
        cfg = v4_config(family, shapes, index_topk=index_topk, num_hidden_layers=layers,
                        engram_conv=engram_conv)
        return cfg, v4_tensors(cfg, seed)
    raise ValueError(f"unknown family {family}")


def write(out, cfg, tensors, shards=1):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    write_checkpoint(out, tensors, shards=shards)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--family", required=True, choices=sorted(DEFAULT_SHAPES))
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--shards", type=int, default=1)
    ap.add_argument("--index-topk", type=int, default=None)
    ap.add_argument("--layers", type=int, default=None, help="num_hidden_layers override")
    ap.add_argument("--shapes", default=None, help="shape set name (see tiny_configs*.py)")
    ap.add_argument("--engram-conv", type=int, default=None, help="v4e: engram_conv_kernel (0 = off)")
    a = ap.parse_args(argv)
    cfg, tensors = build(a.family, a.seed, a.shapes, a.index_topk, a.layers, a.engram_conv)
    write(a.out, cfg, tensors, a.shards)


if __name__ == "__main__":
    main()
