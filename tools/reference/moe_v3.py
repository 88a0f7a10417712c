"""DeepSeekMoE feed-forward of V3 / V3.2 (SPEC §3.3, FORMATS §5.5)."""

import numpy as np

from layers import sigmoid, silu
from numerics import topk_lower_index


def swiglu(lin, p, x):
    """down(silu(gate x) ⊙ up x), names as in the HF checkpoint."""
    return lin(silu(lin(x, p + "gate_proj")) * lin(x, p + "up_proj"), p + "down_proj")


def route(ck, p, x):
    """Expert choice and weights per token: (idx [T, k], weight [T, k]).

    Selection uses sigmoid + bias; groups are ranked by the sum of their two
    best biased scores and only the best topk_group groups stay eligible.
    Weights are the unbiased sigmoids of the chosen experts, normalised to
    sum 1, times routed_scaling_factor. Ties go to the lower index.
    """
    cfg = ck.config
    if cfg.get("scoring_func", "sigmoid") != "sigmoid" or cfg.get("topk_method") != "noaux_tc":
        raise NotImplementedError("only sigmoid scoring with noaux_tc selection is modelled")
    n_exp, k = cfg["n_routed_experts"], cfg["num_experts_per_tok"]
    n_group, topk_group = cfg.get("n_group") or 1, cfg.get("topk_group") or 1
    t = x.shape[0]
    scores = sigmoid(x @ ck.tensor(p + "gate.weight").T)
    biased = scores + ck.tensor(p + "gate.e_score_correction_bias")[None, :]
    if n_group > 1:
        grouped = biased.reshape(t, n_group, n_exp // n_group)
        top2 = -np.sort(-grouped, axis=-1)[..., :2]
        group_score = top2.sum(axis=-1)
        keep_groups = topk_lower_index(group_score, topk_group)
        group_mask = np.zeros((t, n_group), dtype=bool)
        np.put_along_axis(group_mask, keep_groups, True, axis=-1)
        expert_mask = np.repeat(group_mask, n_exp // n_group, axis=-1)
        biased = np.where(expert_mask, biased, -np.inf)
    idx = topk_lower_index(biased, k)
    weight = np.take_along_axis(scores, idx, axis=-1)
    if cfg.get("norm_topk_prob", True):
        weight = weight / weight.sum(axis=-1, keepdims=True)
    return idx, weight * cfg["routed_scaling_factor"]


def moe(lin, ck, p, x):
    idx, weight = route(ck, p, x)
    y = swiglu(lin, p + "shared_experts.", x)
    for e in range(ck.config["n_routed_experts"]):
        rows, slot = np.nonzero(idx == e)
        if rows.size:
            np.add.at(y, rows, weight[rows, slot][:, None] * swiglu(lin, f"{p}experts.{e}.", x[rows]))
    return y
