#include "graph/expert-inputs.h"

#include "core/error.h"

namespace mneme {

mneme_tensor slice_1d(const mneme_tensor& t, int64_t first, int64_t n) {
    return make_tensor(t.buffer, t.offset + static_cast<uint64_t>(first * t.nb[0]), t.dtype, {n});
}

std::vector<expert_inputs> record_expert_inputs(graph_builder& g, const routing& r, int64_t n_experts, int64_t tokens,
                                                const mneme_tensor& xq) {
    // rows_of_expert for every expert at once: a counting sort of the (token, slot) picks by expert,
    // which keeps each expert's picks in token order (one pass instead of one per expert).
    const std::size_t picks = static_cast<std::size_t>(tokens * r.top_k);
    if (r.expert.size() < picks || r.weight.size() < picks)
        fail(MNEME_ERROR_INTERNAL, "record_expert_inputs: short routing");
    std::vector<int64_t> start(static_cast<std::size_t>(n_experts) + 1, 0);
    for (std::size_t i = 0; i < picks; ++i) {
        const int32_t e = r.expert[i];
        if (e < 0 || e >= n_experts) fail(MNEME_ERROR_INTERNAL, "record_expert_inputs: expert ", e, " out of range");
        ++start[static_cast<std::size_t>(e) + 1];
    }
    std::vector<int64_t> chosen, counts;
    for (int64_t e = 0; e < n_experts; ++e) {
        const int64_t n = start[static_cast<std::size_t>(e) + 1];
        if (n > 0) {
            chosen.push_back(e);
            counts.push_back(n);
        }
        start[static_cast<std::size_t>(e) + 1] += start[static_cast<std::size_t>(e)];
    }
    std::vector<int32_t> ids(picks);
    std::vector<double> weights(picks);
    for (std::size_t i = 0; i < picks; ++i) {
        const auto at = static_cast<std::size_t>(start[static_cast<std::size_t>(r.expert[i])]++);
        ids[at] = static_cast<int32_t>(static_cast<int64_t>(i) / r.top_k);
        weights[at] = r.weight[i];
    }
    std::vector<expert_inputs> out;
    out.reserve(chosen.size());
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
