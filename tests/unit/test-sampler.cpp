// The sampler's filters against a plain reference: the whole vocabulary stable-sorted by logit,
// softmax at the temperature, then top-k, min-p and top-p cut the sorted list, and the kept
// tokens renormalised. The sampler orders only the prefix the filters look at, so the two must
// agree on which tokens are kept and on their probabilities (to rounding: the normaliser may be
// summed in another order).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <random>
#include <set>
#include <vector>

#include "session/sampler.h"

namespace {

std::vector<double> reference_distribution(const mneme_sampling_params& p, std::vector<double> z,
                                           const std::vector<int32_t>& history) {
    const std::size_t n = z.size();
    if (p.repetition_penalty > 0 && p.repetition_penalty != 1.0f) {
        const std::size_t window =
            p.repetition_last_n > 0
                ? std::min<std::size_t>(history.size(), static_cast<std::size_t>(p.repetition_last_n))
                : history.size();
        const std::set<int32_t> seen(history.end() - static_cast<std::ptrdiff_t>(window), history.end());
        for (const int32_t t : seen)
            z[static_cast<std::size_t>(t)] = z[static_cast<std::size_t>(t)] > 0
                                                 ? z[static_cast<std::size_t>(t)] / p.repetition_penalty
                                                 : z[static_cast<std::size_t>(t)] * p.repetition_penalty;
    }
    std::vector<double> prob(n, 0.0);
    if (p.temperature <= 0) {
        std::size_t best = 0;
        for (std::size_t i = 1; i < n; ++i) best = z[i] > z[best] ? i : best;
        prob[best] = 1.0;
        return prob;
    }
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return z[a] > z[b]; });
    std::vector<double> e(n);
    double sum = 0;
    for (std::size_t i = 0; i < n; ++i) sum += (e[i] = std::exp((z[order[i]] - z[order[0]]) / p.temperature));
    std::size_t keep = p.top_k > 0 ? std::min<std::size_t>(n, static_cast<std::size_t>(p.top_k)) : n;
    if (keep < n) sum = std::accumulate(e.begin(), e.begin() + static_cast<std::ptrdiff_t>(keep), 0.0);
    for (auto& v : e) v /= sum;
    if (p.min_p > 0) {
        while (keep > 1 && e[keep - 1] < p.min_p * e[0]) --keep;
    }
    if (p.top_p < 1.0f) {
        double cum = 0;
        std::size_t k = 0;
        while (k < keep) {
            cum += e[k++];
            if (cum >= p.top_p) break;
        }
        keep = std::max<std::size_t>(k, 1);
    }
    const double kept = std::accumulate(e.begin(), e.begin() + static_cast<std::ptrdiff_t>(keep), 0.0);
    for (std::size_t i = 0; i < keep; ++i) prob[order[i]] = e[i] / kept;
    return prob;
}

// Logits with many exact ties (a coarse grid) so that the order among equal logits matters.
std::vector<double> random_logits(std::mt19937& rng, std::size_t n, double spread) {
    std::normal_distribution<double> d(0.0, spread);
    std::vector<double> z(n);
    for (auto& v : z) v = std::round(d(rng) * 8.0) / 8.0;
    return z;
}

void check_same(const std::vector<double>& got, const std::vector<double>& want) {
    REQUIRE(got.size() == want.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        INFO("token " << i << ": " << got[i] << " against " << want[i]);
        REQUIRE((got[i] > 0) == (want[i] > 0));
        REQUIRE(std::abs(got[i] - want[i]) <= 1e-12 * std::max(1.0, want[i]));
    }
}

}  // namespace

TEST_CASE("the sampler keeps the tokens and probabilities of a full sort", "[sampler]") {
    std::mt19937 rng(20261202);
    struct setting {
        float temperature;
        int32_t top_k;
        float top_p, min_p, penalty;
    };
    const setting settings[] = {
        {1.0f, 0, 1.0f, 0.0f, 1.0f},      {0.7f, 0, 0.95f, 0.0f, 1.0f}, {0.7f, 40, 1.0f, 0.0f, 1.0f},
        {0.7f, 40, 0.9f, 0.0f, 1.0f},     {1.3f, 0, 1.0f, 0.05f, 1.0f}, {0.8f, 0, 0.9f, 0.02f, 1.0f},
        {0.6f, 7, 0.5f, 0.1f, 1.3f},      {1.0f, 1, 1.0f, 0.0f, 1.0f},  {0.9f, 0, 0.999f, 0.0f, 1.1f},
        {0.5f, 100000, 0.8f, 0.0f, 1.0f}, {2.0f, 0, 0.3f, 0.0f, 1.0f},
    };
    for (const std::size_t n : {1u, 2u, 5u, 97u, 1000u, 8192u}) {
        for (const double spread : {0.5, 3.0, 12.0}) {
            const std::vector<double> z = random_logits(rng, n, spread);
            std::vector<int32_t> history;
            for (int i = 0; i < 80; ++i) history.push_back(static_cast<int32_t>(rng() % n));
            for (const setting& s : settings) {
                mneme_sampling_params p = MNEME_SAMPLING_PARAMS_INIT;
                p.temperature = s.temperature;
                p.top_k = s.top_k;
                p.top_p = s.top_p;
                p.min_p = s.min_p;
                p.repetition_penalty = s.penalty;
                const mneme::sampler sm(p);
                INFO("n " << n << " spread " << spread << " T " << s.temperature << " top_k " << s.top_k << " top_p "
                          << s.top_p << " min_p " << s.min_p << " penalty " << s.penalty);
                check_same(sm.distribution(z, history), reference_distribution(p, z, history));
            }
        }
    }
}

TEST_CASE("greedy sampling takes the first maximum, after the penalty, without NaN", "[sampler]") {
    std::mt19937 rng(7);
    mneme_sampling_params p = MNEME_SAMPLING_PARAMS_INIT;  // temperature 0: greedy
    for (const std::size_t n : {1u, 3u, 4u, 5u, 8u, 13u, 1000u, 16385u}) {
        std::vector<double> z = random_logits(rng, n, 2.0);
        z[n / 2] = 100.0;
        z[n - 1] = 100.0;  // a tie: the first one wins
        mneme::sampler g(p);
        CHECK(g.sample(z, {}) == static_cast<int32_t>(n / 2));
        const std::vector<double> dist = g.distribution(z, {});
        CHECK(dist[n / 2] == 1.0);
        if (n >= 4) {
            // A NaN anywhere but first is never taken.
            z[1] = std::numeric_limits<double>::quiet_NaN();
            CHECK(g.sample(z, {}) == static_cast<int32_t>(n / 2));
        }
        // The penalty can move the choice: the tied leaders penalised below the rest.
        mneme_sampling_params pen = p;
        pen.repetition_penalty = 1000.0f;
        mneme::sampler gp(pen);
        const std::vector<int32_t> history = {static_cast<int32_t>(n / 2), static_cast<int32_t>(n - 1)};
        std::vector<double> zz = random_logits(rng, n, 2.0);
        zz[n / 2] = zz[n - 1] = 100.0;
        const std::vector<double> want = reference_distribution(pen, zz, history);
        CHECK(gp.sample(zz, history) ==
              static_cast<int32_t>(std::max_element(want.begin(), want.end()) - want.begin()));
    }
    // NaN first: taken, as std::max_element takes it.
    std::vector<double> z = {std::numeric_limits<double>::quiet_NaN(), 1.0, 2.0};
    mneme::sampler g(p);
    CHECK(g.sample(z, {}) == 0);
}

TEST_CASE("a seeded draw stays within the kept tokens and follows their probabilities", "[sampler]") {
    std::mt19937 rng(11);
    const std::vector<double> z = random_logits(rng, 512, 2.0);
    mneme_sampling_params p = MNEME_SAMPLING_PARAMS_INIT;
    p.temperature = 0.8f;
    p.top_p = 0.7f;
    p.seed = 3;
    mneme::sampler s(p);
    const std::vector<double> dist = s.distribution(z, {});
    std::vector<double> seen(z.size(), 0.0);
    const int draws = 20000;
    for (int i = 0; i < draws; ++i) {
        const int32_t t = s.sample(z, {});
        REQUIRE(dist[static_cast<std::size_t>(t)] > 0);
        seen[static_cast<std::size_t>(t)] += 1.0 / draws;
    }
    for (std::size_t i = 0; i < z.size(); ++i) CHECK(std::abs(seen[i] - dist[i]) < 0.02);
}
