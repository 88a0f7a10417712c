// Float32 matmul y = alpha * x · Wᵀ for every weight format. Each thread owns a range of weight rows
// and decodes each of its rows exactly once per call into a small float buffer; all activation rows
// are multiplied against that buffer while it is hot, so prefill reads the weights once per call.
#include <algorithm>
#include <cstring>
#include <vector>

#include "fast-kernels.h"
#include "mneme_kernels/number-formats.h"

namespace mneme::kernels::fast {
namespace {

constexpr int64_t k_tile_rows = 16;               // weight rows decoded together
constexpr int64_t k_x_chunk_bytes = 256 * 1024;   // activation chunk meant to stay in L2

float block_scale(const weight_view& w, int64_t n, int64_t k) {
    const int64_t idx = (n / w.block_n) * w.scale_row_elems + (k / w.block_k);
    if (w.scale_fmt == scale_format::f32) {
        float s;
        std::memcpy(&s, w.scale + idx * 4, 4);
        return s;
    }
    // 2^(b-127) built from its bits (e8m0_to_f32 goes through ldexp, too slow once per 32 elements);
    // b = 0 is the float32 subnormal 2^-127 and b = 255 is NaN, as in e8m0_to_f32.
    const uint32_t b = w.scale[idx];
    const uint32_t bits = b == 0 ? 0x00400000u : b == 255 ? 0x7fc00000u : b << 23;
    float s;
    std::memcpy(&s, &bits, 4);
    return s;
}

// Row n, columns [k0, k0 + len), dequantised; one scale per block segment.
void decode_range(const kernel_table& kt, const weight_view& w, int64_t n, int64_t k0, int64_t len, float* out) {
    const uint8_t* row = w.data + n * w.row_bytes;
    if (w.scale_fmt == scale_format::none) {
        kt.decode(w.format, row, k0, len, 1.0f, out);
        return;
    }
    for (int64_t k = k0; k < k0 + len;) {
        const int64_t end = std::min(k0 + len, (k / w.block_k + 1) * w.block_k);
        kt.decode(w.format, row, k, end - k, block_scale(w, n, k), out + (k - k0));
        k = end;
    }
}

}  // namespace

void matmul(const exec_ctx& ex, const float* x, int64_t rows, int64_t x_stride, const weight_view& w, float* y,
            int64_t y_stride, double alpha) {
    if (rows <= 0 || w.n <= 0) return;
    const kernel_table& kt = active_kernels();
    const int64_t kdim = w.k;
    // Split K only when the activation rows would not fit in L2 together.
    int64_t kc = kdim;
    if (rows * kdim * 4 > k_x_chunk_bytes) kc = std::max<int64_t>(256, k_x_chunk_bytes / (4 * rows) / 64 * 64);
    kc = std::max<int64_t>(1, std::min(kc, kdim));
    // Plain float32 rows are used in place.
    const bool in_place = w.format == weight_format::f32 && w.scale_fmt == scale_format::none && w.row_bytes % 4 == 0;
    const auto tiles = static_cast<std::size_t>((w.n + k_tile_rows - 1) / k_tile_rows);
    const float a = static_cast<float>(alpha);
    parallel(ex, tiles, 1, [&](std::size_t t0, std::size_t t1) {
        std::vector<float> buf(in_place ? 0 : static_cast<std::size_t>(k_tile_rows * kc));
        const float* rows_of_tile[k_tile_rows];
        for (int64_t k0 = 0; k0 < kdim; k0 += kc) {
            const int64_t len = std::min(kc, kdim - k0);
            for (std::size_t t = t0; t < t1; ++t) {
                const int64_t n0 = static_cast<int64_t>(t) * k_tile_rows;
                const int64_t cnt = std::min(k_tile_rows, w.n - n0);
                for (int64_t i = 0; i < cnt; ++i) {
                    if (in_place) {
                        rows_of_tile[i] = reinterpret_cast<const float*>(w.data + (n0 + i) * w.row_bytes) + k0;
                    } else {
                        decode_range(kt, w, n0 + i, k0, len, buf.data() + i * kc);
                        rows_of_tile[i] = buf.data() + i * kc;
                    }
                }
                kt.gemm_nt(x + k0, x_stride, rows, rows_of_tile, cnt, len, y + n0, y_stride, k0 > 0);
            }
        }
        if (alpha == 1.0) return;
        for (std::size_t t = t0; t < t1; ++t) {
            const int64_t n0 = static_cast<int64_t>(t) * k_tile_rows;
            const int64_t n1 = std::min(n0 + k_tile_rows, w.n);
            for (int64_t r = 0; r < rows; ++r) {
                for (int64_t n = n0; n < n1; ++n) y[r * y_stride + n] *= a;
            }
        }
    });
}

}  // namespace mneme::kernels::fast

namespace mneme::kernels::fast {

void decode_row(const weight_view& w, int64_t n, float* out) { decode_range(active_kernels(), w, n, 0, w.k, out); }

}  // namespace mneme::kernels::fast
