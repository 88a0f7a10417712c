#!/usr/bin/python3
"""Float64 forward pass of DeepSeek-V4, with Engram when the config has
engram_layer_ids (FORMATS §4-5, SPEC §4.3, §6.5-6.6, ENGRAM_FORMAT.md).

Prefill semantics: row t of the result is the logits after token t. The MTP
block (`mtp.*`) is not part of this path.

    model_v4.py --model DIR --tokens 1,2,3 [--out logits.npy]
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import attention_v4  # noqa: E402
import engram  # noqa: E402
import mhc  # noqa: E402
from checkpoint import Checkpoint  # noqa: E402
from layers import Linears, rms_norm  # noqa: E402
from models import parse_tokens  # noqa: E402
from moe_v4 import moe  # noqa: E402


class V4Model:
    def __init__(self, ckpt):
        self.ck = ckpt if isinstance(ckpt, Checkpoint) else Checkpoint(ckpt)
        self.cfg = self.ck.config
        self.lin = Linears(self.ck)
        self.engram = engram.EngramTables(self.ck) if self.cfg.get("engram_layer_ids") else None

    def _site(self, x, p, norm, fn):
        """One mHC-wrapped sub-layer: collapse the streams, run fn on the
        normed input, mix the result back into the streams."""
        cfg, ck = self.cfg, self.ck
        pre, post, comb = mhc.coefficients(x, ck.tensor(p + "_fn"), ck.tensor(p + "_scale"),
                                           ck.tensor(p + "_base"), cfg["hc_sinkhorn_iters"],
                                           cfg["hc_eps"], cfg["rms_norm_eps"])
        z = fn(rms_norm(mhc.collapse(x, pre), ck.tensor(norm), cfg["rms_norm_eps"]))
        return mhc.expand(z, x, post, comb)

    def forward(self, tokens):
        cfg, ck, lin = self.cfg, self.ck, self.lin
        tokens = np.asarray(tokens, dtype=np.int64)
        hc = cfg["hc_mult"]
        h = ck.tensor("embed.weight")[tokens]
        x = np.repeat(h[:, None, :], hc, axis=1)  # X_0 = [h, h, ..., h]
        for i in range(cfg["num_hidden_layers"]):
            p = f"layers.{i}."
            ratio = cfg["compress_ratios"][i]
            if self.engram is not None and i in self.engram.layers:
                x = engram.apply(lin, ck, self.engram, i, x, tokens)
            x = self._site(x, p + "hc_attn", p + "attn_norm.weight",
                           lambda a: attention_v4.attention(lin, ck, p + "attn.", a, ratio))
            x = self._site(x, p + "hc_ffn", p + "ffn_norm.weight",
                           lambda f: moe(lin, ck, p + "ffn.", f, tokens, i < cfg["num_hash_layers"]))
        y = mhc.head(x, ck.tensor("hc_head_fn"), ck.tensor("hc_head_scale"), ck.tensor("hc_head_base"),
                     cfg["hc_eps"], cfg["rms_norm_eps"])
        y = rms_norm(y, ck.tensor("norm.weight"), cfg["rms_norm_eps"])
        return y @ ck.tensor("head.weight").T


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--out")
    a = ap.parse_args(argv)
    logits = V4Model(a.model).forward(parse_tokens(a.tokens))
    if a.out:
        np.save(a.out, logits)
    else:
        print(logits)


if __name__ == "__main__":
    main()
