#!/usr/bin/python3
"""Float64 forward pass of DeepSeek-V3 and V3.2 (FORMATS §5, SPEC §1-3).

Prefill semantics: the whole token sequence is one pass and row t of the
result is the logits after token t. The MTP layer is not part of this path.

    model_v3.py --model DIR --tokens 1,2,3 [--out logits.npy]
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import dsa_indexer  # noqa: E402
import mla  # noqa: E402
from checkpoint import Checkpoint  # noqa: E402
from layers import Linears, rms_norm  # noqa: E402
from moe_v3 import moe, swiglu  # noqa: E402
from models import parse_tokens  # noqa: E402
from numerics import rope_angles, rope_inv_freq, yarn_inv_freq, yarn_mscale  # noqa: E402


def rope_setup(cfg):
    """(inv_freq, softmax_scale) of MLA. YaRN is applied whenever the config
    asks for it (no max_seq_len gate, FORMATS §5.4): frequencies corrected and
    the softmax scaled by m²."""
    rope = cfg["qk_rope_head_dim"]
    scale = (cfg["qk_nope_head_dim"] + rope) ** -0.5
    rs = cfg.get("rope_scaling") or {}
    if rs.get("type", rs.get("rope_type")) != "yarn":
        return rope_inv_freq(rope, cfg["rope_theta"]), scale
    if rs.get("mscale", 1.0) != rs.get("mscale_all_dim", 1.0):
        # HF would then also rescale cos/sin; the demos assume equal values.
        raise NotImplementedError("mscale != mscale_all_dim is not modelled")
    inv = yarn_inv_freq(rope, cfg["rope_theta"], rs["factor"], rs["original_max_position_embeddings"],
                        rs["beta_fast"], rs["beta_slow"])
    m = yarn_mscale(rs["factor"], rs.get("mscale_all_dim", 1.0))
    return inv, scale * m * m


def is_moe_layer(cfg, i):
    return i >= cfg["first_k_dense_replace"] and i % cfg.get("moe_layer_freq", 1) == 0


class V3Model:
    def __init__(self, ckpt):
        self.ck = ckpt if isinstance(ckpt, Checkpoint) else Checkpoint(ckpt)
        self.cfg = self.ck.config
        self.lin = Linears(self.ck)
        self.inv_freq, self.softmax_scale = rope_setup(self.cfg)
        self.is_v32 = "index_topk" in self.cfg

    def attention(self, i, x, angles, sparse=True, absorbed=False):
        p = f"model.layers.{i}.self_attn."
        t = x.shape[0]
        proj = mla.project(self.lin, self.ck, p, x, angles, latent_roundtrip=self.is_v32)
        allowed = np.tril(np.ones((t, t), dtype=bool))
        if self.is_v32 and sparse:
            allowed = dsa_indexer.select(self.lin, self.ck, p + "indexer.", x, proj["qr"], angles,
                                         self.cfg["index_topk"])
        attend = mla.attend_absorbed if absorbed else mla.attend_mha
        return attend(self.lin, self.ck, p, proj, allowed, self.softmax_scale)

    def forward(self, tokens, sparse=True, absorbed=False):
        """Logits [T, vocab] for the token ids. sparse=False skips the DSA
        selection (dense causal MLA); absorbed=True uses the absorbed form."""
        cfg, ck = self.cfg, self.ck
        eps = cfg["rms_norm_eps"]
        tokens = np.asarray(tokens, dtype=np.int64)
        angles = rope_angles(np.arange(tokens.size), self.inv_freq)
        h = ck.tensor("model.embed_tokens.weight")[tokens]
        for i in range(cfg["num_hidden_layers"]):
            p = f"model.layers.{i}."
            x = rms_norm(h, ck.tensor(p + "input_layernorm.weight"), eps)
            h = h + self.attention(i, x, angles, sparse, absorbed)
            x = rms_norm(h, ck.tensor(p + "post_attention_layernorm.weight"), eps)
            if is_moe_layer(cfg, i):
                h = h + moe(self.lin, ck, p + "mlp.", x)
            else:
                h = h + swiglu(self.lin, p + "mlp.", x)
        h = rms_norm(h, ck.tensor("model.norm.weight"), eps)
        return h @ ck.tensor("lm_head.weight").T


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--tokens", required=True)
    ap.add_argument("--out")
    a = ap.parse_args(argv)
    logits = V3Model(a.model).forward(parse_tokens(a.tokens))
    if a.out:
        np.save(a.out, logits)
    else:
        print(logits)


if __name__ == "__main__":
    main()
