#include "session/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <unordered_set>

namespace mneme {

void sampler::set_params(const mneme_sampling_params& p) {
    p_ = p;
    rng_.seed(p.seed);
}

namespace {

// The logits after the repetition penalty: `logits` itself when the penalty is off, else a copy
// in `store` with the window's distinct tokens penalised once each.
std::span<const double> penalised(const mneme_sampling_params& p, std::span<const double> logits,
                                  std::span<const int32_t> history, std::vector<double>& store) {
    if (p.repetition_penalty <= 0 || p.repetition_penalty == 1.0f) return logits;
    const std::size_t n = logits.size();
    const std::size_t window =
        p.repetition_last_n > 0 ? std::min<std::size_t>(history.size(), static_cast<std::size_t>(p.repetition_last_n))
                                : history.size();
    store.assign(logits.begin(), logits.end());
    std::unordered_set<int32_t> seen(history.end() - static_cast<std::ptrdiff_t>(window), history.end());
    for (int32_t t : seen) {
        if (t < 0 || static_cast<std::size_t>(t) >= n) continue;
        double& z = store[static_cast<std::size_t>(t)];
        z = z > 0 ? z / p.repetition_penalty : z * p.repetition_penalty;
    }
    return store;
}

// The first maximum (greedy decoding's token), as std::max_element finds it (a NaN is never
// taken unless it comes first, and then it is). max_element carried one chain of compare, select
// and reload through the whole vocabulary (3.3 ns an entry here); four running maxima and a second
// pass for the first index holding the maximum take ~0.3.
std::size_t first_max(std::span<const double> z) {
    const std::size_t n = z.size();
    if (n == 0) return 0;
    double lane[4] = {z[0], z[0], z[0], z[0]};
    std::size_t i = 1;
    for (; i + 4 <= n; i += 4) {
        for (std::size_t j = 0; j < 4; ++j) lane[j] = z[i + j] > lane[j] ? z[i + j] : lane[j];
    }
    for (; i < n; ++i) lane[0] = z[i] > lane[0] ? z[i] : lane[0];
    double m = lane[0];
    for (std::size_t j = 1; j < 4; ++j) m = lane[j] > m ? lane[j] : m;
    if (std::isnan(m)) return 0;
    for (std::size_t k = 0; k < n; ++k) {
        if (z[k] == m) return k;
    }
    return 0;
}

}  // namespace

// The candidates are ordered by logit, ties by token id (a stable sort's order), but only as far
// as the filters look: a prefix is selected (nth_element) and sorted, and extended while top-p
// needs more. Sorting the whole vocabulary cost 0.6 ms a token at 8K entries and 14 ms at
// DeepSeek's 129K, more than a decoding step of the bench models; the greedy path's copies of
// the logits (two vocabulary-sized allocations a token) cost 0.12 ms at 16K and 1.7 ms at 129K.
std::vector<double> sampler::distribution(std::span<const double> logits, std::span<const int32_t> history) const {
    const std::size_t n = logits.size();
    std::vector<double> store;
    const std::span<const double> z = penalised(p_, logits, history, store);
    std::vector<double> prob(n, 0.0);
    if (n == 0) return prob;
    if (p_.temperature <= 0) {  // greedy: all mass on the first maximum
        prob[first_max(z)] = 1.0;
        return prob;
    }
    const auto before = [&](int32_t a, int32_t b) {
        const double za = z[static_cast<std::size_t>(a)], zb = z[static_cast<std::size_t>(b)];
        return za > zb || (za == zb && a < b);
    };
    std::vector<int32_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::size_t sorted = 0;  // order[0, sorted) is the sorted prefix of the whole order
    const auto sort_prefix = [&](std::size_t len) {
        len = std::min(len, n);
        if (len <= sorted) return;
        const auto first = order.begin() + static_cast<std::ptrdiff_t>(sorted);
        const auto mid = order.begin() + static_cast<std::ptrdiff_t>(len);
        if (len < n) std::nth_element(first, mid - 1, order.end(), before);
        std::sort(first, mid, before);
        sorted = len;
    };
    std::size_t keep = n;
    if (p_.top_k > 0) keep = std::min<std::size_t>(keep, static_cast<std::size_t>(p_.top_k));
    const double m = z[first_max(z)];
    // prob holds each token's unnormalised weight until the kept ones are known.
    for (std::size_t i = 0; i < n; ++i) prob[i] = std::exp((z[i] - m) / p_.temperature);
    // The normaliser: over the top-k candidates in order when top-k cuts, else over the whole
    // vocabulary in id order (no sort needed for it).
    double sum = 0;
    if (keep < n) {
        sort_prefix(keep);
        for (std::size_t i = 0; i < keep; ++i) sum += prob[static_cast<std::size_t>(order[i])];
    } else {
        for (const double e : prob) sum += e;
    }
    const auto weight = [&](std::size_t i) { return prob[static_cast<std::size_t>(order[i])] / sum; };
    if (p_.min_p > 0) {
        // The candidates whose probability is at least min_p times the top one's (which is 1 / sum).
        const double floor = p_.min_p * (1.0 / sum);
        std::size_t above = 0;
        for (const double e : prob) above += e / sum >= floor ? 1 : 0;
        keep = std::max<std::size_t>(1, std::min(keep, above));
    }
    if (p_.top_p < 1.0f) {
        double cum = 0;
        std::size_t k = 0;
        for (std::size_t want = 64; k < keep; want *= 2) {
            sort_prefix(std::min(keep, want));
            bool reached = false;
            while (k < sorted && k < keep) {
                cum += weight(k++);
                if (cum >= p_.top_p) {
                    reached = true;
                    break;
                }
            }
            if (reached) break;
        }
        keep = std::max<std::size_t>(k, 1);
    }
    if (keep == n) {  // every token kept: no order needed
        double kept = 0;
        for (double& v : prob) kept += (v /= sum);
        for (double& v : prob) v /= kept;
        return prob;
    }
    sort_prefix(keep);
    std::vector<double> kept_weights(keep);
    double kept = 0;
    for (std::size_t i = 0; i < keep; ++i) kept += (kept_weights[i] = weight(i));
    std::fill(prob.begin(), prob.end(), 0.0);
    for (std::size_t i = 0; i < keep; ++i) prob[static_cast<std::size_t>(order[i])] = kept_weights[i] / kept;
    return prob;
}

int32_t sampler::sample(std::span<const double> logits, std::span<const int32_t> history) {
    if (p_.temperature <= 0) {  // as distribution() would put it, without a vocabulary-sized result
        std::vector<double> store;
        return static_cast<int32_t>(first_max(penalised(p_, logits, history, store)));
    }
    return draw(distribution(logits, history));
}

double sampler::uniform() {
    std::uniform_real_distribution<double> u(0.0, 1.0);
    return u(rng_);
}

int32_t sampler::verify_draft(std::vector<double> prob, int32_t draft) {
    const std::size_t d = static_cast<std::size_t>(draft);
    if (uniform() < prob[d]) return draft;
    const double rest = 1.0 - prob[d];
    prob[d] = 0;
    for (double& v : prob) v /= rest;
    return draw(prob);
}

int32_t sampler::draw(std::span<const double> prob) {
    double r = uniform(), cum = 0;
    int32_t last = 0;
    for (std::size_t i = 0; i < prob.size(); ++i) {
        if (prob[i] <= 0) continue;
        last = static_cast<int32_t>(i);
        cum += prob[i];
        if (r < cum) return last;
    }
    return last;
}

}  // namespace mneme
