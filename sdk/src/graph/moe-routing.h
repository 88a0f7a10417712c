// Expert selection and weights of DeepSeekMoE (SPEC §3.3, §6.6), computed on the host from the
// router logits: it is tiny, data-dependent work that decides which expert matmuls to issue.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace mneme {

enum class router_score { sigmoid, sqrtsoftplus, softmax };

struct router_params {
    router_score score = router_score::sigmoid;
    int64_t n_experts = 0;
    int64_t top_k = 0;
    int64_t n_group = 1, topk_group = 1;  // group-limited selection (V3); 1 = off
    bool normalise = true;                // norm_topk_prob
    double scale = 1.0;                   // routed_scaling_factor
};

struct routing {
    int64_t top_k = 0;
    std::vector<int32_t> expert;  // [tokens * top_k]
    std::vector<double> weight;   // [tokens * top_k]
};

// logits [tokens, n_experts]; bias (may be empty) shifts selection only. Ties go to the lower
// expert id. With `fixed` (hash-routed layers) the experts are given and only weights computed.
routing route_tokens(const router_params& p, std::span<const double> logits, int64_t tokens,
                     std::span<const double> bias, std::span<const int32_t> fixed = {});

// The tokens routed to expert e, in token order, and their weights: one expert's rows of a pass.
struct expert_rows {
    std::vector<int32_t> rows;
    std::vector<double> weights;
};
expert_rows rows_of_expert(const routing& r, int64_t tokens, int64_t e);

}  // namespace mneme
