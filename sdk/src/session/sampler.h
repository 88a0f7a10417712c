// Turns logits into the next token: repetition penalty, temperature, top-k, top-p, min-p, then a
// draw from a seeded generator (greedy when the temperature is 0). Deterministic for a seed.
#pragma once

#include <mneme/mneme.h>

#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace mneme {

class sampler {
public:
    explicit sampler(const mneme_sampling_params& p) { set_params(p); }
    void set_params(const mneme_sampling_params& p);
    const mneme_sampling_params& params() const noexcept { return p_; }

    // `history` are the tokens of the context (for the repetition penalty).
    int32_t sample(std::span<const double> logits, std::span<const int32_t> history);

    // The probability distribution sample() draws from (after every filter), for tests.
    std::vector<double> distribution(std::span<const double> logits, std::span<const int32_t> history) const;

    // For speculative acceptance: a uniform number in [0, 1) and a draw from a distribution, both
    // from the sampler's own generator (so a seed still fixes everything).
    double uniform();
    int32_t draw(std::span<const double> prob);
    // Speculative sampling with a deterministic draft: keeps `draft` with probability prob[draft],
    // else draws from prob without it, renormalised; the result is distributed exactly as prob.
    int32_t verify_draft(std::vector<double> prob, int32_t draft);

private:
    mneme_sampling_params p_{};
    std::mt19937_64 rng_;
};

}  // namespace mneme
