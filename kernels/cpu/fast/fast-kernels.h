// The per-instruction-set building blocks of the fast kernels. The drivers (matmul-fast.cpp,
// attention-fast.cpp) own threading and blocking; these functions own the inner loops.
#pragma once

#include <cstdint>

#include "mneme_kernels/cpu-fast.h"

namespace mneme::kernels::fast {

struct kernel_table {
    // out[i] = decode(row element k0 + i) * scale for i < len, in float32 as decode_weight_row does
    // (the element converted exactly, then one float32 multiplication by the block scale).
    void (*decode)(weight_format fmt, const uint8_t* row, int64_t k0, int64_t len, float scale, float* out);
    // y[r, j] (= or +=) sum_k x[r, k] * w[j, k] for r < rows, j < n, k < len.
    // Weight rows are given as pointers so that gathered keys need no copy.
    void (*gemm_nt)(const float* x, int64_t x_stride, int64_t rows, const float* const* w, int64_t n, int64_t len,
                    float* y, int64_t y_stride, bool accumulate);
    // y[i] += sum_{m < count} c[m] * v[m][i] for i < len (count <= 4).
    void (*axpy_rows)(const float* c, const float* const* v, int count, int64_t len, float* y);
};

const kernel_table& scalar_kernels();
const kernel_table& avx2_kernels();
const kernel_table& avx512_kernels();

// The table of the active instruction set.
const kernel_table& active_kernels();

}  // namespace mneme::kernels::fast
