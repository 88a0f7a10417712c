#include "graph/rope-table.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace mneme {

std::vector<double> rope_inv_freq(int64_t dim, double base) {
    std::vector<double> f(static_cast<std::size_t>(dim / 2));
    for (int64_t i = 0; i < dim / 2; ++i) {
        f[static_cast<std::size_t>(i)] = 1.0 / std::pow(base, static_cast<double>(2 * i) / static_cast<double>(dim));
    }
    return f;
}

void yarn_correction_range(int64_t dim, double base, const yarn_params& y, int64_t& low, int64_t& high) {
    auto dimcorr = [&](double r) {
        return static_cast<double>(dim) * std::log(static_cast<double>(y.original_max_position) / (2.0 * std::numbers::pi * r)) /
               (2.0 * std::log(base));
    };
    low = std::max<int64_t>(static_cast<int64_t>(std::floor(dimcorr(y.beta_fast))), 0);
    high = std::min<int64_t>(static_cast<int64_t>(std::ceil(dimcorr(y.beta_slow))), dim - 1);
}

std::vector<double> yarn_inv_freq(int64_t dim, double base, const yarn_params& y) {
    std::vector<double> theta = rope_inv_freq(dim, base);
    int64_t low = 0, high = 0;
    yarn_correction_range(dim, base, y, low, high);
    const double hi = low == high ? static_cast<double>(high) + 0.001 : static_cast<double>(high);
    for (std::size_t i = 0; i < theta.size(); ++i) {
        const double gamma = std::clamp((static_cast<double>(i) - static_cast<double>(low)) / (hi - static_cast<double>(low)), 0.0, 1.0);
        const double smooth = 1.0 - gamma;
        theta[i] = theta[i] / y.factor * (1.0 - smooth) + theta[i] * smooth;
    }
    return theta;
}

double yarn_mscale(double factor, double mscale) { return factor > 1.0 ? 0.1 * mscale * std::log(factor) + 1.0 : 1.0; }

void rope_tables(const std::vector<double>& inv_freq, int64_t start, int64_t n, std::vector<double>& cos_out,
                 std::vector<double>& sin_out) {
    const std::size_t half = inv_freq.size();
    cos_out.resize(static_cast<std::size_t>(n) * half);
    sin_out.resize(static_cast<std::size_t>(n) * half);
    for (int64_t t = 0; t < n; ++t) {
        for (std::size_t i = 0; i < half; ++i) {
            const double angle = static_cast<double>(start + t) * inv_freq[i];
            cos_out[static_cast<std::size_t>(t) * half + i] = std::cos(angle);
            sin_out[static_cast<std::size_t>(t) * half + i] = std::sin(angle);
        }
    }
}

}  // namespace mneme
