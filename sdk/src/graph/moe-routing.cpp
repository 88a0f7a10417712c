#include "graph/moe-routing.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/error.h"

namespace mneme {
namespace {

// Indices of the k largest values, ties to the lower index.
std::vector<int32_t> top_indices(std::span<const double> v, int64_t k) {
    std::vector<int32_t> idx(v.size());
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [&](int32_t a, int32_t b) { return v[a] > v[b]; });
    idx.resize(static_cast<std::size_t>(k));
    return idx;
}

double score_of(router_score s, double z) {
    switch (s) {
        case router_score::sigmoid: return 1.0 / (1.0 + std::exp(-z));
        case router_score::sqrtsoftplus: return std::sqrt(std::log1p(std::exp(-std::fabs(z))) + std::max(z, 0.0));
        case router_score::softmax: return z;  // normalised per token below
    }
    return z;
}

}  // namespace

routing route_tokens(const router_params& p, std::span<const double> logits, int64_t tokens,
                     std::span<const double> bias, std::span<const int32_t> fixed) {
    const int64_t e = p.n_experts, k = p.top_k;
    routing r;
    r.top_k = k;
    r.expert.resize(static_cast<std::size_t>(tokens * k));
    r.weight.resize(static_cast<std::size_t>(tokens * k));
    std::vector<double> scores(static_cast<std::size_t>(e)), biased(static_cast<std::size_t>(e));
    for (int64_t t = 0; t < tokens; ++t) {
        const double* z = logits.data() + t * e;
        for (int64_t i = 0; i < e; ++i) scores[i] = score_of(p.score, z[i]);
        if (p.score == router_score::softmax) {
            const double m = *std::max_element(scores.begin(), scores.end());
            double sum = 0;
            for (auto& s : scores) sum += (s = std::exp(s - m));
            for (auto& s : scores) s /= sum;
        }
        std::vector<int32_t> chosen;
        if (!fixed.empty()) {
            chosen.assign(fixed.begin() + t * k, fixed.begin() + (t + 1) * k);
        } else {
            for (int64_t i = 0; i < e; ++i) biased[i] = scores[i] + (bias.empty() ? 0.0 : bias[i]);
            if (p.n_group > 1) {
                const int64_t per = e / p.n_group;
                std::vector<double> group_score(static_cast<std::size_t>(p.n_group));
                for (int64_t g = 0; g < p.n_group; ++g) {
                    std::vector<double> grp(biased.begin() + g * per, biased.begin() + (g + 1) * per);
                    std::sort(grp.begin(), grp.end(), std::greater<>());
                    // Groups rank by the sum of their two best (biased) scores when a bias exists,
                    // by their best score otherwise (SPEC §3.3).
                    group_score[g] = bias.empty() ? grp[0] : grp[0] + (per > 1 ? grp[1] : 0.0);
                }
                const auto keep = top_indices(group_score, p.topk_group);
                std::vector<bool> allowed(static_cast<std::size_t>(p.n_group), false);
                for (int32_t g : keep) allowed[g] = true;
                for (int64_t i = 0; i < e; ++i) {
                    if (!allowed[i / per]) biased[i] = -std::numeric_limits<double>::infinity();
                }
            }
            chosen = top_indices(biased, k);
        }
        double sum = 0;
        for (int32_t c : chosen) {
            if (c < 0 || c >= e) fail(MNEME_ERROR_INVALID_MODEL, "expert id ", c, " out of range [0, ", e, ")");
            sum += scores[c];
        }
        for (int64_t j = 0; j < k; ++j) {
            double w = scores[chosen[j]];
            if (p.normalise) w /= sum;
            r.expert[t * k + j] = chosen[j];
            r.weight[t * k + j] = w * p.scale;
        }
    }
    return r;
}

expert_rows rows_of_expert(const routing& r, int64_t tokens, int64_t e) {
    expert_rows er;
    for (int64_t t = 0; t < tokens; ++t) {
        for (int64_t j = 0; j < r.top_k; ++j) {
            const auto at = static_cast<std::size_t>(t * r.top_k + j);
            if (r.expert[at] == e) {
                er.rows.push_back(static_cast<int32_t>(t));
                er.weights.push_back(r.weight[at]);
            }
        }
    }
    return er;
}

}  // namespace mneme
