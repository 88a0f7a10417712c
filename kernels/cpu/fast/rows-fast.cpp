// Row operations of the MoE block on the fast kernels: the combine (scaled rows added into the
// token rows) with vector arithmetic that keeps the reference's two roundings per element, and the
// experts' SwiGLU with a vectorised exp.
#include <algorithm>
#include <cmath>

#include "fast-kernels.h"

namespace mneme::kernels::fast {

void add_rows_scaled(const exec_ctx& ex, const float* x, int64_t rows, int64_t n, const int32_t* idx, const float* w,
                     float* y) {
    const kernel_table& kt = active_kernels();
    constexpr int64_t k_cols = 256;  // columns per work item: rows stay in order within each
    // A decoding step's expert output (one row of 1-7K) is a few hundred nanoseconds of work, less
    // than handing it to the pool and waiting for it (a few microseconds here, 32 times a V3 step):
    // items of fewer than k_min_elems elements stay on the calling thread.
    constexpr int64_t k_min_elems = 16384;
    const auto grain =
        static_cast<std::size_t>(std::max<int64_t>(1, k_min_elems / std::max<int64_t>(1, rows * k_cols)));
    parallel(ex, static_cast<std::size_t>((n + k_cols - 1) / k_cols), grain, [&](std::size_t c0, std::size_t c1) {
        const int64_t begin = static_cast<int64_t>(c0) * k_cols, end = std::min(n, static_cast<int64_t>(c1) * k_cols);
        for (int64_t r = 0; r < rows; ++r) {
            kt.add_scaled(x + r * n + begin, w[r], end - begin, y + static_cast<int64_t>(idx[r]) * n + begin);
        }
    });
}

void swiglu(const exec_ctx& ex, const float* gate, const float* up, int64_t rows, int64_t n, double limit,
            const float* row_weight, float* y) {
    const kernel_table& kt = active_kernels();
    const auto lim = static_cast<float>(limit);
    if (!kt.swiglu) {
        if (row_weight) return kernels::swiglu_weighted<float>(ex, gate, up, rows, n, limit, row_weight, y);
        return kernels::swiglu<float>(ex, gate, up, rows * n, limit, y);
    }
    if (row_weight) {
        parallel(ex, static_cast<std::size_t>(rows), 1, [&](std::size_t r0, std::size_t r1) {
            for (auto r = static_cast<int64_t>(r0); r < static_cast<int64_t>(r1); ++r) {
                kt.swiglu(gate + r * n, up + r * n, n, lim, row_weight + r, y + r * n);
            }
        });
        return;
    }
    constexpr int64_t k_chunk = 4096;  // elements per work item
    const int64_t count = rows * n;
    parallel(ex, static_cast<std::size_t>((count + k_chunk - 1) / k_chunk), 1, [&](std::size_t c0, std::size_t c1) {
        const int64_t begin = static_cast<int64_t>(c0) * k_chunk,
                      end = std::min(count, static_cast<int64_t>(c1) * k_chunk);
        kt.swiglu(gate + begin, up + begin, end - begin, lim, nullptr, y + begin);
    });
}

}  // namespace mneme::kernels::fast
