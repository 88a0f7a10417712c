// Causal depthwise convolution over tokens (the Engram demo's ShortConv, ENGRAM_FORMAT.md §4). The
// input carries its own history rows, so decoding one token at a time needs no special case.
#include <cmath>

#include "mneme_kernels/cpu-ops.h"

namespace mneme::kernels {

template <class T>
void causal_conv(const exec_ctx& ex, const T* ext, int64_t channels, int64_t hist, int64_t tokens, const T* w,
                 int64_t k, int64_t dilation, bool silu, T* y) {
    parallel(ex, static_cast<std::size_t>(tokens), 1, [&](std::size_t t0, std::size_t t1) {
        for (std::size_t t = t0; t < t1; ++t) {
            T* yr = y + static_cast<int64_t>(t) * channels;
            for (int64_t c = 0; c < channels; ++c) {
                T acc = 0;
                for (int64_t i = 0; i < k; ++i) {
                    const int64_t row = hist + static_cast<int64_t>(t) - (k - 1 - i) * dilation;
                    acc += w[c * k + i] * ext[row * channels + c];
                }
                yr[c] = silu ? acc * (T(1) / (T(1) + std::exp(-acc))) : acc;
            }
        }
    });
}

template void causal_conv<float>(const exec_ctx&, const float*, int64_t, int64_t, int64_t, const float*, int64_t,
                                 int64_t, bool, float*);
template void causal_conv<double>(const exec_ctx&, const double*, int64_t, int64_t, int64_t, const double*, int64_t,
                                  int64_t, bool, double*);

}  // namespace mneme::kernels
