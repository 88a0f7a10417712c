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

private:
    mneme_sampling_params p_{};
    std::mt19937_64 rng_;
};

}  // namespace mneme
