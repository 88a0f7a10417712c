// The DeepSeek-V4 token compressor's pooling (SPEC.md §6.5 step 3): each complete block of
// `ratio` tokens becomes one entry, a per-channel softmax over gate scores weighting the values.
#include <algorithm>
#include <cmath>
#include <limits>

#include "mneme_kernels/cpu-ops.h"

namespace mneme::kernels {

template <class T>
void compress_pool(const exec_ctx& ex, const compress_args& a, const T* av, const T* bv, const T* ape, T* out) {
    const int64_t r = a.ratio;
    parallel(ex, static_cast<std::size_t>(a.n_blocks), 1, [&](std::size_t k0, std::size_t k1) {
        for (std::size_t k = k0; k < k1; ++k) {
            const int64_t j = a.first_block + static_cast<int64_t>(k);
            T* o = out + static_cast<int64_t>(k) * a.out_stride;
            // Candidates in order: block j-1 on the first half (overlap only), then block j.
            const bool prev = a.overlap && j > 0;
            const int64_t first_tok = prev ? (j - 1) * r : j * r;
            const int64_t n_cand = prev ? 2 * r : r;
            for (int64_t d = 0; d < a.width; ++d) {
                auto channel = [&](int64_t c) { return c < r && prev ? d : (a.overlap ? a.width + d : d); };
                auto score = [&](int64_t c) {
                    const int64_t pos = first_tok + c, row = pos - a.first_pos, ch = channel(c);
                    return bv[row * a.b_stride + ch] + ape[(pos % r) * a.channels + ch];
                };
                T m = -std::numeric_limits<T>::infinity();
                for (int64_t c = 0; c < n_cand; ++c) m = std::max(m, score(c));
                T num = 0, den = 0;
                for (int64_t c = 0; c < n_cand; ++c) {
                    const T w = std::exp(score(c) - m);
                    const int64_t row = first_tok + c - a.first_pos;
                    num += av[row * a.a_stride + channel(c)] * w;
                    den += w;
                }
                o[d] = num / den;
            }
        }
    });
}

template void compress_pool<float>(const exec_ctx&, const compress_args&, const float*, const float*, const float*,
                                   float*);
template void compress_pool<double>(const exec_ctx&, const compress_args&, const double*, const double*, const double*,
                                    double*);

}  // namespace mneme::kernels
