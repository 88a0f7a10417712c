#include "graph/v4-common.h"

#include <cmath>

namespace mneme {

mneme_tensor linear_input(graph_builder& g, const v4_context& c, const mneme_tensor& x, const linear_weight& w) {
    if (!c.act_quant || !w.quantised) return x;
    const mneme_tensor q = g.tensor({x.ne[0], x.ne[1]});
    g.quant_roundtrip(q, x, MNEME_DTYPE_F8_E4M3, 128);
    return q;
}

mneme_tensor apply_linear(graph_builder& g, const v4_context& c, const mneme_tensor& x, const linear_weight& w,
                          double alpha) {
    const mneme_tensor y = g.tensor({w.out_features(), x.ne[1]});
    g.matmul(y, linear_input(g, c, x, w), w, alpha);
    return y;
}

mneme_tensor activation_matrix(graph_builder& g, weight_store& ws, std::vector<buffer_ptr>& owned,
                               const std::string& name, std::initializer_list<int64_t> shape) {
    const mneme_tensor src = ws.raw(name, shape);
    const int64_t rows = src.ne[1], cols = src.ne[0];
    buffer_ptr b = g.dev().alloc(static_cast<uint64_t>(rows * cols * dtype_bytes(g.act())));
    const mneme_tensor dst = make_tensor(b->raw(), 0, g.act(), {cols, rows});
    owned.push_back(std::move(b));
    g.copy(dst, src);
    return dst;
}

rope_pair upload_rope(graph_builder& g, const std::vector<double>& inv_freq, const std::vector<int64_t>& positions) {
    const int64_t half = static_cast<int64_t>(inv_freq.size()), n = static_cast<int64_t>(positions.size());
    std::vector<double> c(static_cast<std::size_t>(half * n)), s(c.size());
    for (int64_t t = 0; t < n; ++t) {
        for (int64_t i = 0; i < half; ++i) {
            const double angle =
                static_cast<double>(positions[static_cast<std::size_t>(t)]) * inv_freq[static_cast<std::size_t>(i)];
            c[static_cast<std::size_t>(t * half + i)] = std::cos(angle);
            s[static_cast<std::size_t>(t * half + i)] = std::sin(angle);
        }
    }
    rope_pair r{g.tensor({half, n}), g.tensor({half, n})};
    g.upload(r.cos, c);
    g.upload(r.sin, s);
    return r;
}

const rope_pair& v4_pass::block_starts(int64_t ratio) const {
    for (const auto& [r, t] : blocks) {
        if (r == ratio) return t;
    }
    fail(MNEME_ERROR_INTERNAL, "no block rotary tables for ratio ", ratio);
}

}  // namespace mneme
