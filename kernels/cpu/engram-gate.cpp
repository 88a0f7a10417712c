// Engram's context-aware gate (ENGRAM_FORMAT.md §4): how much of the looked-up value each residual
// stream takes, from the agreement of the stream with its own key.
#include <cmath>

#include "mneme_kernels/cpu-ops.h"

namespace mneme::kernels {

template <class T>
void engram_gate(const exec_ctx& ex, const T* x, int64_t d, int64_t n, int64_t tokens, const T* kv, int64_t kv_stride,
                 const T* qw, const T* kw, double eps, double clamp, T* y) {
    parallel(ex, static_cast<std::size_t>(tokens * n), 1, [&](std::size_t r0, std::size_t r1) {
        for (std::size_t r = r0; r < r1; ++r) {
            const int64_t t = static_cast<int64_t>(r) / n, m = static_cast<int64_t>(r) % n;
            const T* xs = x + (t * n + m) * d;
            const T* key = kv + t * kv_stride + m * d;
            const T* value = kv + t * kv_stride + n * d;
            T sk = 0, sq = 0;
            for (int64_t i = 0; i < d; ++i) {
                sk += key[i] * key[i];
                sq += xs[i] * xs[i];
            }
            const T rk = std::sqrt(sk / static_cast<T>(d) + static_cast<T>(eps));
            const T rq = std::sqrt(sq / static_cast<T>(d) + static_cast<T>(eps));
            T g = 0;
            for (int64_t i = 0; i < d; ++i) g += (kw[m * d + i] * key[i] / rk) * (qw[m * d + i] * xs[i] / rq);
            g /= std::sqrt(static_cast<T>(d));
            // Signed square root; sign(0) = 0 keeps an exact zero at zero.
            const T mag = std::sqrt(std::max(std::fabs(g), static_cast<T>(clamp)));
            g = g > 0 ? mag : (g < 0 ? -mag : T(0));
            const T alpha = T(1) / (T(1) + std::exp(-g));
            T* out = y + (t * n + m) * d;
            for (int64_t i = 0; i < d; ++i) out[i] = alpha * value[i];
        }
    });
}

template void engram_gate<float>(const exec_ctx&, const float*, int64_t, int64_t, int64_t, const float*, int64_t,
                                 const float*, const float*, double, double, float*);
template void engram_gate<double>(const exec_ctx&, const double*, int64_t, int64_t, int64_t, const double*, int64_t,
                                  const double*, const double*, double, double, double*);

}  // namespace mneme::kernels
