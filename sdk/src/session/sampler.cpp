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

std::vector<double> sampler::distribution(std::span<const double> logits, std::span<const int32_t> history) const {
    const std::size_t n = logits.size();
    std::vector<double> z(logits.begin(), logits.end());
    if (p_.repetition_penalty > 0 && p_.repetition_penalty != 1.0f) {
        const std::size_t window =
            p_.repetition_last_n > 0 ? std::min<std::size_t>(history.size(), static_cast<std::size_t>(p_.repetition_last_n))
                                     : history.size();
        std::unordered_set<int32_t> seen(history.end() - static_cast<std::ptrdiff_t>(window), history.end());
        for (int32_t t : seen) {
            if (t < 0 || static_cast<std::size_t>(t) >= n) continue;
            z[t] = z[t] > 0 ? z[t] / p_.repetition_penalty : z[t] * p_.repetition_penalty;
        }
    }
    std::vector<double> prob(n, 0.0);
    if (p_.temperature <= 0) {  // greedy: all mass on the first maximum
        prob[static_cast<std::size_t>(std::max_element(z.begin(), z.end()) - z.begin())] = 1.0;
        return prob;
    }
    std::vector<int32_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return z[a] > z[b]; });
    std::size_t keep = n;
    if (p_.top_k > 0) keep = std::min<std::size_t>(keep, static_cast<std::size_t>(p_.top_k));
    const double m = z[order[0]];
    std::vector<double> e(keep);
    double sum = 0;
    for (std::size_t i = 0; i < keep; ++i) sum += (e[i] = std::exp((z[order[i]] - m) / p_.temperature));
    for (auto& v : e) v /= sum;
    if (p_.min_p > 0) {
        const double floor = p_.min_p * e[0];
        while (keep > 1 && e[keep - 1] < floor) --keep;
    }
    if (p_.top_p < 1.0f) {
        double cum = 0;
        std::size_t k = 0;
        while (k < keep) {
            cum += e[k++];
            if (cum >= p_.top_p) break;
        }
        keep = std::max<std::size_t>(k, 1);
    }
    double kept = 0;
    for (std::size_t i = 0; i < keep; ++i) kept += e[i];
    for (std::size_t i = 0; i < keep; ++i) prob[order[i]] = e[i] / kept;
    return prob;
}

int32_t sampler::sample(std::span<const double> logits, std::span<const int32_t> history) {
    const std::vector<double> prob = distribution(logits, history);
    if (p_.temperature <= 0) return static_cast<int32_t>(std::max_element(prob.begin(), prob.end()) - prob.begin());
    return draw(prob);
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
