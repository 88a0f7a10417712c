#include "graph/mhc.h"

#include <algorithm>

namespace mneme {

hc_site_weights load_hc_site(weight_store& ws, const std::string& prefix, int64_t n, int64_t d, bool head) {
    const int64_t mixes = head ? n : (2 + n) * n;
    hc_site_weights w;
    w.fn.w = ws.raw(prefix + "_fn", {mixes, n * d});
    w.scale = ws.vector(prefix + "_scale", head ? 1 : 3);
    w.base = ws.vector(prefix + "_base", mixes);
    return w;
}

mneme_tensor hc_coefficients(graph_builder& g, const hc_params& hp, const mneme_tensor& x, const hc_site_weights& w) {
    const int64_t width = x.ne[0] * x.ne[1], tokens = x.ne[2];
    const mneme_tensor flat = make_tensor(x.buffer, x.offset, x.dtype, {width, tokens});
    // RMSNorm without gain over all n*D values, before the GEMV (the paper applies it after; the
    // scalar commutes with the product).
    const mneme_tensor normed = g.tensor({width, tokens});
    g.rms_norm(normed, flat, nullptr, hp.norm_eps);
    const mneme_tensor mixes = g.tensor({w.fn.out_features(), tokens});
    g.matmul(mixes, normed, w.fn);
    const mneme_tensor coeffs = g.tensor({mixes.ne[0], tokens});
    // 0 and 1 iterations are the same procedure (softmax, one column normalisation).
    const mneme_op_hc p{static_cast<uint32_t>(hp.n), static_cast<uint32_t>(std::max<int64_t>(1, hp.sinkhorn_iters)),
                        hp.hc_eps, hp.post_mult};
    g.hc_coeffs(coeffs, mixes, w.scale, w.base, p);
    return coeffs;
}

mneme_tensor hc_collapse(graph_builder& g, const hc_params& hp, const mneme_tensor& x, const mneme_tensor& coeffs) {
    const mneme_tensor y = g.tensor({x.ne[0], 1, x.ne[2]});
    g.stream_mix(y, x, coeffs, nullptr, mneme_op_stream_mix{static_cast<uint32_t>(hp.n), 1, 0, 0});
    return make_tensor(y.buffer, y.offset, y.dtype, {x.ne[0], x.ne[2]});
}

mneme_tensor hc_expand(graph_builder& g, const hc_params& hp, const mneme_tensor& x, const mneme_tensor& coeffs,
                       const mneme_tensor& z, const mneme_tensor* into) {
    const auto n = static_cast<uint32_t>(hp.n);
    const mneme_tensor y = into ? *into : g.tensor({x.ne[0], x.ne[1], x.ne[2]});
    // Output j takes comb[i][j] from stream i (comb^T X) and post[j] times the sub-layer output.
    g.stream_mix(y, x, coeffs, &z, mneme_op_stream_mix{n, n, 2 * n, n});
    return y;
}

}  // namespace mneme
