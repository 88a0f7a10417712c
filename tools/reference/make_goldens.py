#!/usr/bin/python3
"""Regenerate the golden fixtures under tests/golden/.

    make_goldens.py [--out tests/golden] [--only NAME ...]

Each fixture directory holds a tiny random checkpoint (config.json +
safetensors), tokens.txt (comma-separated ids), logits.f64.npy ([n_tokens,
vocab] float64 from the reference, row t = logits after token t) and a
one-line README.md. Everything is deterministic.
"""

import argparse
import os
import shutil
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gen_checkpoint  # noqa: E402
import models  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

# name: generator arguments, sequence length, and what the fixture is for.
FIXTURES = {
    "v3-tiny": dict(family="v3", seed=1, tokens=48,
                    why="DeepSeek-V3, single model.safetensors"),
    "v3-tiny-sharded": dict(family="v3", seed=2, shapes="b", shards=2, tokens=48,
                            why="DeepSeek-V3, second shape set, 2 shards + index.json"),
    "v32-tiny": dict(family="v32", seed=3, index_topk=20, tokens=144,
                     why="DeepSeek-V3.2, index_topk 20 << 144 tokens, so DSA drops tokens"),
    "v32-tiny-dense": dict(family="v32", seed=3, index_topk=4096, tokens=64,
                           why="same weights as v32-tiny, index_topk >= tokens: equals dense MLA"),
    "v4-tiny": dict(family="v4", seed=4, tokens=96,
                    why="DeepSeek-V4: window / ratio-4 CSA with indexer / ratio-16 HCA layers, "
                        "hash + biased MoE with FP4 experts, mHC, MTP block"),
    "v4e-tiny": dict(family="v4e", seed=5, tokens=96,
                     why="DeepSeek-V4 + Engram at layers 0 and 1 (N = 3), no short conv"),
    "v4e-conv-tiny": dict(family="v4e", seed=6, engram_conv=4, tokens=96,
                          why="DeepSeek-V4 + Engram with the demo's short conv (kernel 4, dilation 3)"),
}


def make_tokens(vocab, n, seed):
    """Random ids with one repeated stretch, so n-grams recur (Engram hits)."""
    rng = np.random.default_rng([seed, 7919])
    ids = rng.integers(0, vocab, n)
    span = min(16, n // 4)
    ids[n // 2:n // 2 + span] = ids[:span]
    return [int(v) for v in ids]


def make_fixture(name, spec, out_root):
    out = os.path.join(out_root, name)
    shutil.rmtree(out, ignore_errors=True)
    cfg, tensors = gen_checkpoint.build(spec["family"], spec["seed"], spec.get("shapes"),
                                        spec.get("index_topk"), spec.get("layers"),
                                        spec.get("engram_conv"))
    gen_checkpoint.write(out, cfg, tensors, spec.get("shards", 1))
    tokens = make_tokens(cfg["vocab_size"], spec["tokens"], spec["seed"])
    with open(os.path.join(out, "tokens.txt"), "w") as f:
        f.write(",".join(map(str, tokens)) + "\n")
    logits = models.reference_logits(out, tokens)
    np.save(os.path.join(out, "logits.f64.npy"), logits)
    args = f"--family {spec['family']} --seed {spec['seed']}"
    for key in ("shapes", "shards", "index_topk", "layers", "engram_conv"):
        if spec.get(key) is not None:
            args += f" --{key.replace('_', '-')} {spec[key]}"
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write(f"{spec['why']}. Made by `tools/reference/make_goldens.py` "
                f"(gen_checkpoint.py {args}; {len(tokens)} tokens; float64 reference logits).\n")
    return sum(os.path.getsize(os.path.join(out, n)) for n in os.listdir(out)), len(tokens)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "golden"))
    ap.add_argument("--only", nargs="*")
    a = ap.parse_args(argv)
    for name, spec in FIXTURES.items():
        if not a.only or name in a.only:
            size, n = make_fixture(name, spec, a.out)
            print(f"{name:18s} {size / 1e6:6.2f} MB  tokens {n}")


if __name__ == "__main__":
    main()
