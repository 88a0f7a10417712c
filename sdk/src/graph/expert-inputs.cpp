#include "graph/expert-inputs.h"

namespace mneme {

mneme_tensor slice_1d(const mneme_tensor& t, int64_t first, int64_t n) {
    return make_tensor(t.buffer, t.offset + static_cast<uint64_t>(first * t.nb[0]), t.dtype, {n});
}

std::vector<expert_inputs> record_expert_inputs(graph_builder& g, const routing& r, int64_t n_experts, int64_t tokens,
                                                const mneme_tensor& xq) {
    std::vector<int64_t> chosen, counts;
    std::vector<int32_t> ids;
    std::vector<double> weights;
    for (int64_t e = 0; e < n_experts; ++e) {
        const expert_rows er = rows_of_expert(r, tokens, e);
        if (er.rows.empty()) continue;
        chosen.push_back(e);
        counts.push_back(static_cast<int64_t>(er.rows.size()));
        ids.insert(ids.end(), er.rows.begin(), er.rows.end());
        weights.insert(weights.end(), er.weights.begin(), er.weights.end());
    }
    std::vector<expert_inputs> out;
    if (ids.empty()) return out;
    const auto total = static_cast<int64_t>(ids.size());
    const mneme_tensor all_ids = g.tensor_of(MNEME_DTYPE_I32, {total}), all_weights = g.tensor({total});
    g.upload_i32(all_ids, ids);
    g.upload(all_weights, weights);
    int64_t at = 0;
    for (std::size_t i = 0; i < chosen.size(); ++i) {
        const int64_t n = counts[i];
        expert_inputs in{chosen[i], slice_1d(all_ids, at, n), slice_1d(all_weights, at, n), xq};
        if (n < tokens) {
            in.x = g.tensor({xq.ne[0], n});
            g.get_rows(in.x, xq, in.ids);
        }
        out.push_back(in);
        at += n;
    }
    return out;
}

}  // namespace mneme
