// Rotary embedding frequencies (plain and DeepSeek's YaRN variant, SPEC §0.4) and the cos/sin
// tables for a run of positions. Everything is computed in double: the f64 path must reproduce
// the reference's tables exactly, and the f32 path rounds only at the end.
#pragma once

#include <cstdint>
#include <vector>

namespace mneme {

struct yarn_params {
    double factor = 1.0;
    int64_t original_max_position = 0;
    double beta_fast = 32.0, beta_slow = 1.0;
};

// theta_i = base^(-2i/dim), i < dim/2.
std::vector<double> rope_inv_freq(int64_t dim, double base);
// theta'_i with the linear ramp between the correction-range dims (SPEC §0.4).
std::vector<double> yarn_inv_freq(int64_t dim, double base, const yarn_params& y);
// Correction range [low, high] of YaRN (exposed for tests).
void yarn_correction_range(int64_t dim, double base, const yarn_params& y, int64_t& low, int64_t& high);
// Attention temperature m = 0.1 * mscale * ln(factor) + 1 (1 when factor <= 1).
double yarn_mscale(double factor, double mscale);

// cos/sin of pos * inv_freq for positions start .. start + n - 1, row-major [n, dim/2].
void rope_tables(const std::vector<double>& inv_freq, int64_t start, int64_t n, std::vector<double>& cos_out,
                 std::vector<double>& sin_out);

}  // namespace mneme
