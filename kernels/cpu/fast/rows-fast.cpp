// Row operations of the MoE block on the fast kernels: the combine (scaled rows added into the
// token rows) with vector arithmetic that keeps the reference's two roundings per element.
#include <algorithm>

#include "fast-kernels.h"

namespace mneme::kernels::fast {

void add_rows_scaled(const exec_ctx& ex, const float* x, int64_t rows, int64_t n, const int32_t* idx, const float* w,
                     float* y) {
    const kernel_table& kt = active_kernels();
    constexpr int64_t k_cols = 256;  // columns per work item: rows stay in order within each
    parallel(ex, static_cast<std::size_t>((n + k_cols - 1) / k_cols), 1, [&](std::size_t c0, std::size_t c1) {
        const int64_t begin = static_cast<int64_t>(c0) * k_cols, end = std::min(n, static_cast<int64_t>(c1) * k_cols);
        for (int64_t r = 0; r < rows; ++r) {
            kt.add_scaled(x + r * n + begin, w[r], end - begin, y + static_cast<int64_t>(idx[r]) * n + begin);
        }
    });
}

}  // namespace mneme::kernels::fast
