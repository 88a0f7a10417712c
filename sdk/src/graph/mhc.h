// Manifold-constrained hyper-connections as DeepSeek-V4 ships them (SPEC.md §4.3): the residual
// is n = hc_mult streams X [D, n, S]; each sub-layer site collapses them into its input with
// per-token weights and mixes its output back in through a doubly stochastic matrix.
#pragma once

#include <string>

#include "graph/graph-builder.h"
#include "graph/weights.h"

namespace mneme {

struct hc_params {
    int64_t n = 1;  // hc_mult
    int64_t sinkhorn_iters = 1;
    double hc_eps = 0;
    double norm_eps = 0;     // rms_norm_eps of the mixes
    double post_mult = 2.0;  // post = 2 * sigmoid(...)
};

// One site's tensors: `<prefix>_fn` [(2+n)n, n*D] (or [n, n*D] for the head), `_scale`, `_base`.
struct hc_site_weights {
    linear_weight fn;
    mneme_tensor scale{}, base{};
};

// head = true loads the final hc_head (n mixes, scale [1]).
hc_site_weights load_hc_site(weight_store& ws, const std::string& prefix, int64_t n, int64_t d, bool head);

// Per-token coefficients [pre (n) | post (n) | comb (n*n)] of a site, or the n head weights:
// mixes = fn · rmsnorm(vec(X)) (RMS over all n*D values, no gain), then MNEME_OP_HC_COEFFS.
mneme_tensor hc_coefficients(graph_builder& g, const hc_params& hp, const mneme_tensor& x, const hc_site_weights& w);

// Sub-layer input y = sum_i pre_i X_i, [D, S] (also the head's collapse with its weights).
mneme_tensor hc_collapse(graph_builder& g, const hc_params& hp, const mneme_tensor& x, const mneme_tensor& coeffs);

// New streams X'_j = post_j * z + sum_i comb_ij X_i, [D, n, S], written into `into` when given (a
// tensor of x's shape that does not alias x), else into a new scratch tensor.
mneme_tensor hc_expand(graph_builder& g, const hc_params& hp, const mneme_tensor& x, const mneme_tensor& coeffs,
                       const mneme_tensor& z, const mneme_tensor* into = nullptr);

}  // namespace mneme
