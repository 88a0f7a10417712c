// AVX2 + FMA + F16C building blocks, for x86-64 CPUs without AVX-512. Function-level target
// attributes keep these instructions out of any code the rest of the library shares.
#if defined(__x86_64__)
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>

#include "fast-kernels.h"
#include "mneme_kernels/number-formats.h"

#define MNEME_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace mneme::kernels::fast {
namespace {

alignas(32) constexpr int32_t k_tail_mask[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

MNEME_AVX2 inline __m256i tail_mask(int64_t rem) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(k_tail_mask + 8 - rem));
}

// 8 e4m3 codes as float32 worth value × 2^-8, exactly: the bits shifted left by 7 read as float16.
// NaN codes come out as large finite values (callers that may meet them check first).
MNEME_AVX2 inline __m256 e4m3x8_unit(const uint8_t* p) {
    const __m128i b = _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
    const __m128i sign = _mm_slli_epi16(_mm_and_si128(b, _mm_set1_epi16(0x80)), 8);
    return _mm256_cvtph_ps(_mm_or_si128(sign, _mm_slli_epi16(_mm_and_si128(b, _mm_set1_epi16(0x7f)), 7)));
}

MNEME_AVX2 inline __m256 e4m3x8(const uint8_t* p) {
    const __m256 v = _mm256_mul_ps(e4m3x8_unit(p), _mm256_set1_ps(256.0f));
    const __m128i mag =
        _mm_and_si128(_mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))), _mm_set1_epi16(0x7f));
    const __m256 nan = _mm256_castsi256_ps(_mm256_cvtepi16_epi32(_mm_cmpeq_epi16(mag, _mm_set1_epi16(0x7f))));
    return _mm256_blendv_ps(v, _mm256_set1_ps(std::numeric_limits<float>::quiet_NaN()), nan);
}

// 8 bf16 or f16 values as float32 (exact).
MNEME_AVX2 inline __m256 bf16x8(const uint8_t* p) {
    const __m256i h = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(h, 16));
}
MNEME_AVX2 inline __m256 f16x8(const uint8_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

MNEME_AVX2 inline __m256 e2m1x8(const uint8_t* p, __m256 magnitudes) {
    uint32_t four;
    __builtin_memcpy(&four, p, 4);
    const __m128i b = _mm_cvtsi32_si128(static_cast<int>(four));
    const __m128i lo = _mm_and_si128(b, _mm_set1_epi8(0x0f));
    const __m128i hi = _mm_and_si128(_mm_srli_epi16(b, 4), _mm_set1_epi8(0x0f));
    const __m256i idx = _mm256_cvtepu8_epi32(_mm_unpacklo_epi8(lo, hi));  // element 2k = low nibble
    const __m256 mag = _mm256_permutevar8x32_ps(magnitudes, idx);        // uses the low 3 bits
    const __m256i sign = _mm256_slli_epi32(_mm256_srli_epi32(idx, 3), 31);
    return _mm256_xor_ps(mag, _mm256_castsi256_ps(sign));
}

MNEME_AVX2 void decode(weight_format fmt, const uint8_t* row, int64_t k0, int64_t len, float scale, float* out) {
    const __m256 s = _mm256_set1_ps(scale);
    int64_t i = 0;
    switch (fmt) {
        case weight_format::f32: {
            const float* src = reinterpret_cast<const float*>(row) + k0;
            for (; i + 8 <= len; i += 8) _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_loadu_ps(src + i), s));
            break;
        }
        case weight_format::f64: {
            const double* src = reinterpret_cast<const double*>(row) + k0;
            for (; i + 4 <= len; i += 4) {
                _mm_storeu_ps(out + i, _mm_mul_ps(_mm256_cvtpd_ps(_mm256_loadu_pd(src + i)), _mm256_castps256_ps128(s)));
            }
            break;
        }
        case weight_format::bf16: {
            const uint8_t* src = row + 2 * k0;
            for (; i + 8 <= len; i += 8) _mm256_storeu_ps(out + i, _mm256_mul_ps(bf16x8(src + 2 * i), s));
            break;
        }
        case weight_format::f16: {
            const uint8_t* src = row + 2 * k0;
            for (; i + 8 <= len; i += 8) _mm256_storeu_ps(out + i, _mm256_mul_ps(f16x8(src + 2 * i), s));
            break;
        }
        case weight_format::e4m3:
            for (; i + 8 <= len; i += 8) _mm256_storeu_ps(out + i, _mm256_mul_ps(e4m3x8(row + k0 + i), s));
            break;
        case weight_format::e2m1: {
            if (k0 % 2) break;  // odd start (only with odd scale blocks): element by element below
            const __m256 magnitudes = _mm256_loadu_ps(k_e2m1_values.data());
            for (; i + 8 <= len; i += 8) {
                _mm256_storeu_ps(out + i, _mm256_mul_ps(e2m1x8(row + (k0 + i) / 2, magnitudes), s));
            }
            break;
        }
    }
    if (i < len) scalar_kernels().decode(fmt, row, k0 + i, len - i, scale, out + i);
}

MNEME_AVX2 inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// NR weight rows times MR activation rows: 16 registers hold 8 accumulators, 4 weights and 1 input.
template <int NR, int MR>
MNEME_AVX2 void micro(const float* x, int64_t xs, const float* const* w, int64_t len, float* y, int64_t ys,
                      bool accumulate) {
    __m256 acc[MR][NR];
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
#pragma GCC unroll 8
        for (int j = 0; j < NR; ++j) acc[r][j] = _mm256_setzero_ps();
    }
    int64_t k = 0;
    for (; k + 8 <= len; k += 8) {
        __m256 wv[NR];
#pragma GCC unroll 8
        for (int j = 0; j < NR; ++j) wv[j] = _mm256_loadu_ps(w[j] + k);
#pragma GCC unroll 8
        for (int r = 0; r < MR; ++r) {
            const __m256 xv = _mm256_loadu_ps(x + r * xs + k);
#pragma GCC unroll 8
            for (int j = 0; j < NR; ++j) acc[r][j] = _mm256_fmadd_ps(xv, wv[j], acc[r][j]);
        }
    }
    if (k < len) {
        const __m256i m = tail_mask(len - k);
        __m256 wv[NR];
#pragma GCC unroll 8
        for (int j = 0; j < NR; ++j) wv[j] = _mm256_maskload_ps(w[j] + k, m);
#pragma GCC unroll 8
        for (int r = 0; r < MR; ++r) {
            const __m256 xv = _mm256_maskload_ps(x + r * xs + k, m);
#pragma GCC unroll 8
            for (int j = 0; j < NR; ++j) acc[r][j] = _mm256_fmadd_ps(xv, wv[j], acc[r][j]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
#pragma GCC unroll 8
        for (int j = 0; j < NR; ++j) {
            const float s = hsum(acc[r][j]);
            float& o = y[r * ys + j];
            o = accumulate ? o + s : s;
        }
    }
}

using micro_fn = void (*)(const float*, int64_t, const float* const*, int64_t, float*, int64_t, bool);
constexpr int k_nr = 4, k_mr = 2;

template <int NR>
constexpr micro_fn micro_row[k_mr] = {micro<NR, 1>, micro<NR, 2>};
constexpr const micro_fn* micro_table[k_nr] = {micro_row<1>, micro_row<2>, micro_row<3>, micro_row<4>};

void gemm_nt(const float* x, int64_t x_stride, int64_t rows, const float* const* w, int64_t n, int64_t len, float* y,
             int64_t y_stride, bool accumulate) {
    for (int64_t j = 0; j < n; j += k_nr) {
        const int nr = static_cast<int>(n - j < k_nr ? n - j : k_nr);
        for (int64_t r = 0; r < rows; r += k_mr) {
            const int mr = static_cast<int>(rows - r < k_mr ? rows - r : k_mr);
            micro_table[nr - 1][mr - 1](x + r * x_stride, x_stride, w + j, len,
                                        y + r * y_stride + j, y_stride, accumulate);
        }
    }
}

MNEME_AVX2 void axpy_rows(const float* c, const float* const* v, int count, int64_t len, float* y) {
    int64_t i = 0;
    for (; i + 8 <= len; i += 8) {
        __m256 acc = _mm256_loadu_ps(y + i);
        for (int m = 0; m < count; ++m) acc = _mm256_fmadd_ps(_mm256_set1_ps(c[m]), _mm256_loadu_ps(v[m] + i), acc);
        _mm256_storeu_ps(y + i, acc);
    }
    for (; i < len; ++i) {
        for (int m = 0; m < count; ++m) y[i] += c[m] * v[m][i];
    }
}

// Eight keys at a time, every head in order; _mm256_max_ps(0, d) returns d when d is NaN, as
// std::max(d, 0) does.
MNEME_AVX2 void relu_head_sum(const float* dots, int64_t dot_stride, const float* w, int64_t heads, int64_t n,
                              float* out) {
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
        __m256 acc = _mm256_setzero_ps();
        for (int64_t h = 0; h < heads; ++h) {
            const __m256 r = _mm256_max_ps(_mm256_setzero_ps(), _mm256_loadu_ps(dots + h * dot_stride + j));
            acc = _mm256_add_ps(acc, _mm256_mul_ps(_mm256_set1_ps(w[h]), r));
        }
        _mm256_storeu_ps(out + j, acc);
    }
    for (; j < n; ++j) {
        float acc = 0.0f;
        for (int64_t h = 0; h < heads; ++h) acc += w[h] * std::max(dots[h * dot_stride + j], 0.0f);
        out[j] = acc;
    }
}

MNEME_AVX2 bool has_e4m3_nan(const uint8_t* row, int64_t len) {
    const __m256i m7f = _mm256_set1_epi8(0x7f);
    int64_t i = 0;
    int bad = 0;
    for (; i + 32 <= len; i += 32) {
        const __m256i v = _mm256_and_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + i)), m7f);
        bad |= _mm256_movemask_epi8(_mm256_cmpeq_epi8(v, m7f));
    }
    for (; i < len; ++i) bad |= (row[i] & 0x7f) == 0x7f;
    return bad != 0;
}

// MR activation rows × 16 of a panel's 32 columns: 2·MR accumulators (12 of the 16 registers at
// MR = 6) stay in registers over the whole length; per k two panel loads and MR broadcasts feed
// 2·MR FMAs. Each output is the AVX-512 panel's sum (a chain of FMAs over k from zero, then the
// output added), bit for bit.
template <int MR>
MNEME_AVX2 void panel_micro(const float* x, int64_t xs, const float* panel, int64_t len, float* y, int64_t ys,
                            __m256i m0, __m256i m1, bool accumulate) {
    __m256 a0[MR], a1[MR];
#pragma GCC unroll 6
    for (int r = 0; r < MR; ++r) a0[r] = a1[r] = _mm256_setzero_ps();
    for (int64_t k = 0; k < len; ++k) {
        const __m256 w0 = _mm256_loadu_ps(panel + k * k_panel_cols);
        const __m256 w1 = _mm256_loadu_ps(panel + k * k_panel_cols + 8);
#pragma GCC unroll 6
        for (int r = 0; r < MR; ++r) {
            const __m256 xb = _mm256_broadcast_ss(x + r * xs + k);
            a0[r] = _mm256_fmadd_ps(xb, w0, a0[r]);
            a1[r] = _mm256_fmadd_ps(xb, w1, a1[r]);
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < MR; ++r) {
        float* out = y + r * ys;
        if (accumulate) {
            a0[r] = _mm256_add_ps(a0[r], _mm256_maskload_ps(out, m0));
            a1[r] = _mm256_add_ps(a1[r], _mm256_maskload_ps(out + 8, m1));
        }
        _mm256_maskstore_ps(out, m0, a0[r]);
        _mm256_maskstore_ps(out + 8, m1, a1[r]);
    }
}

constexpr int k_panel_mr = 6;
using panel_fn = void (*)(const float*, int64_t, const float*, int64_t, float*, int64_t, __m256i, __m256i, bool);
constexpr panel_fn panel_table[k_panel_mr] = {panel_micro<1>, panel_micro<2>, panel_micro<3>,
                                              panel_micro<4>, panel_micro<5>, panel_micro<6>};

MNEME_AVX2 void gemm_panel(const float* x, int64_t x_stride, int64_t rows, const float* panel, int64_t n, int64_t len,
                           float* y, int64_t y_stride, bool accumulate) {
    for (int64_t r = 0; r < rows; r += k_panel_mr) {
        const int mr = static_cast<int>(rows - r < k_panel_mr ? rows - r : k_panel_mr);
        for (int64_t half = 0; half < n; half += 16) {
            const int64_t cols = std::min<int64_t>(16, n - half);
            const __m256i m0 = tail_mask(std::min<int64_t>(8, cols)), m1 = tail_mask(std::max<int64_t>(0, cols - 8));
            panel_table[mr - 1](x + r * x_stride, x_stride, panel + half, len, y + r * y_stride + half, y_stride, m0,
                                m1, accumulate);
        }
    }
}

MNEME_AVX2 inline __attribute__((always_inline)) void transpose8(__m256 r[8]) {
    __m256 t[8];
#pragma GCC unroll 8
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
#pragma GCC unroll 8
    for (int i = 0; i < 8; i += 4) {
        r[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        r[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xee);
        r[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        r[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xee);
    }
#pragma GCC unroll 8
    for (int i = 0; i < 4; ++i) {
        t[i] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x20);
        t[i + 4] = _mm256_permute2f128_ps(r[i], r[i + 4], 0x31);
    }
#pragma GCC unroll 8
    for (int i = 0; i < 8; ++i) r[i] = t[i];
}

// kernel_table::head_dots on 8-lane vectors, the query as pack_heads lays it out (each 16-head
// vector two of these). Four keys against one head vector at a time: 8 accumulators; per element
// two query loads and four broadcasts feed eight FMAs, each dot a chain of FMAs over the elements
// from zero (gemm_panel's sums, bit for bit). Eight keys' dots are transposed 8 × 8 in registers
// into the heads' rows.
MNEME_AVX2 bool head_dots(const float* qt, int64_t heads, const float* const* keys, int64_t n, int64_t d, float* dots,
                          int64_t ds) {
    if (heads < 1 || heads > 128) return false;
    const int64_t hv = head_vectors(heads);
    for (int64_t j0 = 0; j0 < n; j0 += 8) {
        const int64_t nk = std::min<int64_t>(8, n - j0);
        const __m256i store_mask = tail_mask(nk);
        const float* kp[8];
        for (int64_t b = 0; b < 8; ++b) kp[b] = keys[j0 + (b < nk ? b : nk - 1)];  // a real row: no overread
        for (int64_t v = 0; v < hv && v * 16 < heads; ++v) {
            __m256 res[2][8];  // [half of the head vector][key]
            for (int g = 0; g < 8; g += 4) {
                __m256 acc[4][2];
#pragma GCC unroll 4
                for (int b = 0; b < 4; ++b) acc[b][0] = acc[b][1] = _mm256_setzero_ps();
                for (int64_t c = 0; c < d; ++c) {
                    const __m256 q0 = _mm256_loadu_ps(qt + (c * hv + v) * 16);
                    const __m256 q1 = _mm256_loadu_ps(qt + (c * hv + v) * 16 + 8);
#pragma GCC unroll 4
                    for (int b = 0; b < 4; ++b) {
                        const __m256 kb = _mm256_broadcast_ss(kp[g + b] + c);
                        acc[b][0] = _mm256_fmadd_ps(q0, kb, acc[b][0]);
                        acc[b][1] = _mm256_fmadd_ps(q1, kb, acc[b][1]);
                    }
                }
#pragma GCC unroll 4
                for (int b = 0; b < 4; ++b) {
                    res[0][g + b] = acc[b][0];
                    res[1][g + b] = acc[b][1];
                }
            }
#pragma GCC unroll 2
            for (int half = 0; half < 2; ++half) {
                transpose8(res[half]);  // res[half][i]: head 16 v + 8 half + i over the eight keys
#pragma GCC unroll 8
                for (int i = 0; i < 8; ++i) {
                    const int64_t h = v * 16 + half * 8 + i;
                    if (h < heads) _mm256_maskstore_ps(dots + h * ds + j0, store_mask, res[half][i]);
                }
            }
        }
    }
    return true;
}

// Rows into the panel 8 × 8 at a time, transposed in registers.
MNEME_AVX2 void pack_panel(const float* rows, int64_t ld, int64_t n, int64_t len, float* panel) {
    int64_t k = 0;
    for (; k + 8 <= len; k += 8) {
        for (int64_t part = 0; part < k_panel_cols; part += 8) {
            __m256 r[8];
#pragma GCC unroll 8
            for (int64_t j = 0; j < 8; ++j) {
                r[j] = part + j < n ? _mm256_loadu_ps(rows + (part + j) * ld + k) : _mm256_setzero_ps();
            }
            transpose8(r);
#pragma GCC unroll 8
            for (int64_t i = 0; i < 8; ++i) _mm256_storeu_ps(panel + (k + i) * k_panel_cols + part, r[i]);
        }
    }
    for (; k < len; ++k) {
        for (int64_t j = 0; j < k_panel_cols; ++j) panel[k * k_panel_cols + j] = j < n ? rows[j * ld + k] : 0.0f;
    }
}

// 8 consecutive weights of one row (element k on), unscaled but in the unit panel_unit<F> (e4m3
// through the float16 view comes out times 2^-8), so that one multiplication by the block scale
// times that unit gives exactly decode's value x scale. No e4m3 NaN codes (callers check).
template <weight_format F>
MNEME_AVX2 inline __m256 load8_unit(const uint8_t* row, int64_t k) {
    if constexpr (F == weight_format::e4m3) {
        return e4m3x8_unit(row + k);
    } else if constexpr (F == weight_format::bf16) {
        return bf16x8(row + 2 * k);
    } else {
        static_assert(F == weight_format::f16);
        return f16x8(row + 2 * k);
    }
}

template <weight_format F>
constexpr float panel_unit = F == weight_format::e4m3 ? 256.0f : 1.0f;

// kernel_table::decode_panel: 8 rows × 8 columns decoded into registers (value × block scale, the
// single float32 rounding decode makes), transposed and stored, a panel's 32 rows 8 at a time.
template <weight_format F>
MNEME_AVX2 void decode_panel_as(const weight_view& w, int64_t n0, int64_t n, int64_t k0, int64_t len, float* panel) {
    const bool scaled = w.scale_fmt != scale_format::none;
    const int64_t step = scaled ? w.block_k : len;  // columns between scale changes (a multiple of 8)
    const uint8_t* rows[k_panel_cols];
    bool exact[k_panel_cols];  // no e4m3 NaN code and scale x unit exact: the unit view applies
    float scale[k_panel_cols], mult[k_panel_cols];
    int64_t scale_row[k_panel_cols];
    for (int64_t j = 0; j < n; ++j) {
        rows[j] = w.data + (n0 + j) * w.row_bytes;
        exact[j] = F != weight_format::e4m3 || !has_e4m3_nan(rows[j] + k0, len);
        scale_row[j] = scaled ? (n0 + j) / w.block_n * w.scale_row_elems : 0;
    }
    int64_t k = 0;
    for (; k + 8 <= len; k += 8) {
        if (k == 0 || (k0 + k) % step == 0) {
            const int64_t block = scaled ? (k0 + k) / w.block_k : 0;
            for (int64_t j = 0; j < n; ++j) {
                scale[j] = block_scale_at(w, scale_row[j] + block);
                mult[j] = scale[j] * panel_unit<F>;
                exact[j] = exact[j] && (F != weight_format::e4m3 || std::fabs(scale[j]) < 0x1p100f);
            }
        }
        for (int64_t part = 0; part < k_panel_cols; part += 8) {
            __m256 r[8];
#pragma GCC unroll 8
            for (int64_t j = 0; j < 8; ++j) {
                const int64_t row = part + j;
                if (row >= n) {
                    r[j] = _mm256_setzero_ps();
                } else if (exact[row]) {
                    r[j] = _mm256_mul_ps(load8_unit<F>(rows[row], k0 + k), _mm256_set1_ps(mult[row]));
                } else {  // e4m3 with NaN codes or a huge scale: decode's exact per-element form
                    r[j] = _mm256_mul_ps(e4m3x8(rows[row] + k0 + k), _mm256_set1_ps(scale[row]));
                }
            }
            transpose8(r);
#pragma GCC unroll 8
            for (int64_t i = 0; i < 8; ++i) _mm256_storeu_ps(panel + (k + i) * k_panel_cols + part, r[i]);
        }
    }
    if (k < len) {  // the last columns (fewer than 8, all in one scale block) element by element
        float tail[8];
        for (int64_t j = 0; j < k_panel_cols; ++j) {
            if (j < n) decode(F, rows[j], k0 + k, len - k, weight_block_scale(w, n0 + j, k0 + k), tail);
            for (int64_t i = 0; i < len - k; ++i) panel[(k + i) * k_panel_cols + j] = j < n ? tail[i] : 0.0f;
        }
    }
}

MNEME_AVX2 bool decode_panel(const weight_view& w, int64_t n0, int64_t n, int64_t k0, int64_t len, float* panel) {
    if (n < 1 || n > k_panel_cols || k0 % 8 != 0) return false;
    if (w.scale_fmt != scale_format::none && w.block_k % 8 != 0) return false;
    switch (w.format) {
        case weight_format::e4m3:
            decode_panel_as<weight_format::e4m3>(w, n0, n, k0, len, panel);
            return true;
        case weight_format::bf16:
            decode_panel_as<weight_format::bf16>(w, n0, n, k0, len, panel);
            return true;
        case weight_format::f16:
            decode_panel_as<weight_format::f16>(w, n0, n, k0, len, panel);
            return true;
        default:
            return false;
    }
}

// HN heads × 16 outputs: 2·HN accumulators (12 of the 16 registers at HN = 6); per value row two
// loads and HN broadcasts feed 2·HN FMAs, each output a chain of FMAs over the rows from zero (the
// AVX-512 kernel's sums, bit for bit). Tail: the last outputs, masked.
template <int HN, bool Tail>
MNEME_AVX2 void mqa_values_step(const float* p, int64_t p_stride, const float* const* v, int64_t n, int64_t i,
                                __m256i m0, __m256i m1, float* y, int64_t y_stride) {
    __m256 acc[HN][2];
#pragma GCC unroll 6
    for (int h = 0; h < HN; ++h) acc[h][0] = acc[h][1] = _mm256_setzero_ps();
    for (int64_t j = 0; j < n; ++j) {
        __m256 v0, v1;
        if constexpr (Tail) {
            v0 = _mm256_maskload_ps(v[j] + i, m0);
            v1 = _mm256_maskload_ps(v[j] + i + 8, m1);
        } else {
            v0 = _mm256_loadu_ps(v[j] + i);
            v1 = _mm256_loadu_ps(v[j] + i + 8);
        }
#pragma GCC unroll 6
        for (int h = 0; h < HN; ++h) {
            const __m256 c = _mm256_broadcast_ss(p + h * p_stride + j);
            acc[h][0] = _mm256_fmadd_ps(c, v0, acc[h][0]);
            acc[h][1] = _mm256_fmadd_ps(c, v1, acc[h][1]);
        }
    }
#pragma GCC unroll 6
    for (int h = 0; h < HN; ++h) {
        if constexpr (Tail) {
            _mm256_maskstore_ps(y + h * y_stride + i, m0, acc[h][0]);
            _mm256_maskstore_ps(y + h * y_stride + i + 8, m1, acc[h][1]);
        } else {
            _mm256_storeu_ps(y + h * y_stride + i, acc[h][0]);
            _mm256_storeu_ps(y + h * y_stride + i + 8, acc[h][1]);
        }
    }
}

template <int HN>
MNEME_AVX2 void mqa_values_block(const float* p, int64_t p_stride, const float* const* v, int64_t n, int64_t len,
                                 float* y, int64_t y_stride) {
    const __m256i all = tail_mask(8);
    int64_t i = 0;
    for (; i + 16 <= len; i += 16) mqa_values_step<HN, false>(p, p_stride, v, n, i, all, all, y, y_stride);
    if (i < len) {
        const int64_t rem = len - i;
        mqa_values_step<HN, true>(p, p_stride, v, n, i, tail_mask(std::min<int64_t>(8, rem)),
                                  tail_mask(std::max<int64_t>(0, rem - 8)), y, y_stride);
    }
}

MNEME_AVX2 void mqa_values(const float* p, int64_t p_stride, int64_t heads, const float* const* v, int64_t n,
                           int64_t len, float* y, int64_t y_stride) {
    using block_fn = void (*)(const float*, int64_t, const float* const*, int64_t, int64_t, float*, int64_t);
    static constexpr block_fn blocks[6] = {mqa_values_block<1>, mqa_values_block<2>, mqa_values_block<3>,
                                           mqa_values_block<4>, mqa_values_block<5>, mqa_values_block<6>};
    for (int64_t h = 0; h < heads; h += 6) {
        const int64_t hn = std::min<int64_t>(6, heads - h);
        blocks[hn - 1](p + h * p_stride, p_stride, v, n, len, y + h * y_stride, y_stride);
    }
}

// 16 consecutive weights as two vectors, unscaled (e4m3 comes out times 2^-8: see kernels-avx512).
MNEME_AVX2 inline void load16(weight_format fmt, const uint8_t* row, int64_t k, __m256& lo, __m256& hi) {
    if (fmt == weight_format::e4m3) {
        const __m256i b = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + k)));
        const __m256i h = _mm256_and_si256(_mm256_slli_epi16(b, 7), _mm256_set1_epi16(static_cast<short>(0xbfff)));
        lo = _mm256_cvtph_ps(_mm256_castsi256_si128(h));
        hi = _mm256_cvtph_ps(_mm256_extracti128_si256(h, 1));
    } else if (fmt == weight_format::e2m1) {  // two codes a byte, element 2j in the low nibble; k is even
        // Byte j of the 8 widened into lane j: its low nibble gives element 2j into lo, its high
        // nibble element 2j + 1 into hi, against activations in e2m1_x_layout's order (each step's
        // even elements, then its odd ones; interleaving the codes cost 4 more operations a step).
        // The magnitude from a code's low 3 bits (the permute reads only those), the sign from its
        // bit 3 (bit 3 or 7 of the lane) moved to bit 31.
        const __m256 magnitudes = _mm256_loadu_ps(k_e2m1_values.data());
        const __m256i bytes = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(row + k / 2)));
        const __m256i sign = _mm256_set1_epi32(static_cast<int>(0x80000000u));
        lo = _mm256_xor_ps(_mm256_permutevar8x32_ps(magnitudes, bytes),
                           _mm256_castsi256_ps(_mm256_and_si256(_mm256_slli_epi32(bytes, 28), sign)));
        hi = _mm256_xor_ps(_mm256_permutevar8x32_ps(magnitudes, _mm256_srli_epi32(bytes, 4)),
                           _mm256_castsi256_ps(_mm256_and_si256(_mm256_slli_epi32(bytes, 24), sign)));
    } else {  // bf16
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * k));
        lo = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm256_castsi256_si128(v)), 16));
        hi = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm256_extracti128_si256(v, 1)), 16));
    }
}

// 8 e4m3 codes as float32 worth value * 2^-120, from their bits alone (see kernels-avx512's
// load_e4m3_wide): for activations times k_e4m3_wide_unit.
MNEME_AVX2 inline __m256 e4m3x8_wide(__m128i codes) {
    const __m256i v = _mm256_slli_epi32(_mm256_cvtepi8_epi32(codes), 20);
    return _mm256_castsi256_ps(_mm256_and_si256(v, _mm256_set1_epi32(static_cast<int>(0x87f00000u))));
}

// The same 16 weights for dot_e4m3_wide. The tail's codes are copied out first: AVX2 has no
// masked byte loads, and a multiplication (decode's) could flush the subnormal results.
MNEME_AVX2 inline void load16_wide(const uint8_t* row, int64_t k, int64_t count, __m256& lo, __m256& hi) {
    alignas(16) uint8_t codes[16] = {};
    const uint8_t* p = row + k;
    if (count < 16) {
        std::memcpy(codes, p, static_cast<std::size_t>(count));
        p = codes;
    }
    lo = e4m3x8_wide(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
    hi = e4m3x8_wide(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p + 8)));
}

// A whole step of 16 weights as dot_tile loads it. (A function, not a lambda: a lambda does not
// take the enclosing function's target attribute, and the call then is not inlined.)
template <bool Wide>
MNEME_AVX2 inline void load_step(weight_format fmt, const uint8_t* row, int64_t k, __m256& lo, __m256& hi) {
    if constexpr (Wide) {
        load16_wide(row, k, 16, lo, hi);
    } else {
        load16(fmt, row, k, lo, hi);
    }
}

// R activation rows against W weight rows, out[j * R + r] (see kernels-avx512's dot_tile): every
// pair sums in the same order whatever R and W are, so each output is the one-row, one-weight-row
// result bit for bit.
// Wide: fmt is e4m3 and x is the activations times k_e4m3_wide_unit (same products, bit for bit).
// BK > 0: every block is exactly BK long, so its steps unroll.
template <int R, int W, bool Wide, int BK>
MNEME_AVX2 void dot_tile(weight_format fmt, const float* x, int64_t xs, const uint8_t* const* row, int64_t len,
                         const float* const* scales, int64_t block_k, float* out) {
    if constexpr (BK > 0) block_k = BK;
    const float unit = fmt == weight_format::e4m3 ? 256.0f : 1.0f;
    __m256 total[W][R];
#pragma GCC unroll 4
    for (int j = 0; j < W; ++j) {
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) total[j][r] = _mm256_setzero_ps();
    }
    for (int64_t b0 = 0, blk = 0; b0 < len; b0 += block_k, ++blk) {
        const int64_t b1 = b0 + block_k < len ? b0 + block_k : len;
        __m256 lo_acc[W][R], hi_acc[W][R];
#pragma GCC unroll 4
        for (int j = 0; j < W; ++j) {
#pragma GCC unroll 8
            for (int r = 0; r < R; ++r) lo_acc[j][r] = hi_acc[j][r] = _mm256_setzero_ps();
        }
        int64_t k = b0;
        if constexpr (BK > 0) {
#pragma GCC unroll 16
            for (int64_t i = 0; i < BK; i += 16) {
#pragma GCC unroll 4
                for (int j = 0; j < W; ++j) {
                    __m256 lo, hi;
                    load_step<Wide>(fmt, row[j], b0 + i, lo, hi);
#pragma GCC unroll 8
                    for (int r = 0; r < R; ++r) {
                        lo_acc[j][r] = _mm256_fmadd_ps(lo, _mm256_loadu_ps(x + r * xs + b0 + i), lo_acc[j][r]);
                        hi_acc[j][r] = _mm256_fmadd_ps(hi, _mm256_loadu_ps(x + r * xs + b0 + i + 8), hi_acc[j][r]);
                    }
                }
            }
            k = b1;
        }
        for (; k + 16 <= b1; k += 16) {
#pragma GCC unroll 4
            for (int j = 0; j < W; ++j) {
                __m256 lo, hi;
                load_step<Wide>(fmt, row[j], k, lo, hi);
#pragma GCC unroll 8
                for (int r = 0; r < R; ++r) {
                    lo_acc[j][r] = _mm256_fmadd_ps(lo, _mm256_loadu_ps(x + r * xs + k), lo_acc[j][r]);
                    hi_acc[j][r] = _mm256_fmadd_ps(hi, _mm256_loadu_ps(x + r * xs + k + 8), hi_acc[j][r]);
                }
            }
        }
        if (k < b1) {  // tail: decoded on the stack with the same unit, activations masked
            const int64_t rem = b1 - k;
            const __m256i m0 = tail_mask(rem < 8 ? rem : 8), m1 = tail_mask(rem > 8 ? rem - 8 : 0);
#pragma GCC unroll 4
            for (int j = 0; j < W; ++j) {
                alignas(32) float w[16] = {};
                if constexpr (Wide) {
                    __m256 lo, hi;
                    load16_wide(row[j], k, rem, lo, hi);
                    _mm256_store_ps(w, lo);
                    _mm256_store_ps(w + 8, hi);
                } else {
                    decode(fmt, row[j], k, rem, 1.0f / unit, w);
                }
#pragma GCC unroll 8
                for (int r = 0; r < R; ++r) {
                    lo_acc[j][r] =
                        _mm256_fmadd_ps(_mm256_load_ps(w), _mm256_maskload_ps(x + r * xs + k, m0), lo_acc[j][r]);
                    const __m256 xh = _mm256_maskload_ps(x + r * xs + k + 8, m1);
                    hi_acc[j][r] = _mm256_fmadd_ps(_mm256_load_ps(w + 8), xh, hi_acc[j][r]);
                }
            }
        }
#pragma GCC unroll 4
        for (int j = 0; j < W; ++j) {
            const __m256 sc = _mm256_set1_ps(scales[j][blk]);
#pragma GCC unroll 8
            for (int r = 0; r < R; ++r) {
                total[j][r] = _mm256_fmadd_ps(_mm256_add_ps(lo_acc[j][r], hi_acc[j][r]), sc, total[j][r]);
            }
        }
    }
#pragma GCC unroll 4
    for (int j = 0; j < W; ++j) {
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) out[j * R + r] = hsum(total[j][r]) * unit;
    }
}

// One weight row against R activation rows.
template <int R, bool Wide, int BK>
MNEME_AVX2 void dot_rows(weight_format fmt, const float* x, int64_t xs, const uint8_t* row, int64_t len,
                         const float* scales, int64_t block_k, float* out) {
    dot_tile<R, 1, Wide, BK>(fmt, x, xs, &row, len, &scales, block_k, out);
}

// dot_rows for 1-4 activation rows, by row count (callers pass 1 <= rows <= 4).
template <bool Wide, int BK, std::size_t... R>
constexpr auto dot_rows_table(std::index_sequence<R...>) {
    return std::array{&dot_rows<static_cast<int>(R) + 1, Wide, BK>...};
}

template <bool Wide, int BK>
MNEME_AVX2 void dot_any_rows_of(weight_format fmt, const float* x, int64_t xs, int64_t rows, const uint8_t* row,
                                int64_t len, const float* scales, int64_t block_k, float* out) {
    static constexpr auto by_rows = dot_rows_table<Wide, BK>(std::make_index_sequence<4>{});
    by_rows[static_cast<std::size_t>(rows - 1)](fmt, x, xs, row, len, scales, block_k, out);
}

// The block width dot_tile is specialised for, as f(std::integral_constant<int, BK>): 32 for FP4
// rows with V4's scales, 128 for DeepSeek's FP8 scale blocks over whole rows (a whole number of
// 16-weight steps), else 0 (any width, a run-time trip count).
template <class F>
MNEME_AVX2 void with_block_width(weight_format fmt, int64_t len, int64_t block_k, F&& f) {
    if (block_k == 32 && fmt == weight_format::e2m1) return f(std::integral_constant<int, 32>{});
    if (block_k == 128 && len % 128 == 0) return f(std::integral_constant<int, 128>{});
    f(std::integral_constant<int, 0>{});
}

template <bool Wide>
MNEME_AVX2 void dot_any_rows(weight_format fmt, const float* x, int64_t xs, int64_t rows, const uint8_t* row,
                             int64_t len, const float* scales, int64_t block_k, float* out) {
    with_block_width(fmt, len, block_k, [&](auto bk) {
        dot_any_rows_of<Wide, decltype(bk)::value>(fmt, x, xs, rows, row, len, scales, block_k, out);
    });
}

// One activation row against W weight rows, each with its own block scales.
template <int W, bool Wide, int BK>
MNEME_AVX2 void dot_weight_rows_of(weight_format fmt, const float* x, const uint8_t* const* row, int64_t len,
                                   const float* const* scales, int64_t block_k, float* out) {
    dot_tile<1, W, Wide, BK>(fmt, x, 0, row, len, scales, block_k, out);
}

template <bool Wide, int BK, std::size_t... W>
constexpr auto dot_weight_rows_table(std::index_sequence<W...>) {
    return std::array{&dot_weight_rows_of<static_cast<int>(W) + 1, Wide, BK>...};
}

template <bool Wide>
MNEME_AVX2 void dot_weight_rows_any(weight_format fmt, const float* x, const uint8_t* const* row, int64_t count,
                                    int64_t len, const float* const* scales, int64_t block_k, float* out) {
    with_block_width(fmt, len, block_k, [&](auto bk) {
        static constexpr auto by_count =
            dot_weight_rows_table<Wide, decltype(bk)::value>(std::make_index_sequence<4>{});
        by_count[static_cast<std::size_t>(count - 1)](fmt, x, row, len, scales, block_k, out);
    });
}

// The formats and shapes dot decodes in registers. FP4 rows and blocks must be whole 32-code
// steps (so no step straddles a block or the row's end; FP4 has no NaN code).
bool dot_takes(weight_format fmt, int64_t len, int64_t block_k) {
    return fmt == weight_format::e4m3 || fmt == weight_format::bf16 ||
           (fmt == weight_format::e2m1 && len % 32 == 0 && block_k % 32 == 0);
}

MNEME_AVX2 bool dot_weight_rows(weight_format fmt, bool wide, const float* x, const uint8_t* const* row, int64_t count,
                                int64_t len, const float* const* scales, int64_t block_k, float* out,
                                bool codes_checked) {
    if (count < 1 || count > 4 || block_k < 1) return false;
    if (fmt != weight_format::e4m3 && (wide || !dot_takes(fmt, len, block_k))) return false;
    if (fmt == weight_format::e4m3 && !codes_checked) {
        for (int64_t j = 0; j < count; ++j) {
            if (has_e4m3_nan(row[j], len)) return false;
        }
    }
    if (wide) {
        dot_weight_rows_any<true>(fmt, x, row, count, len, scales, block_k, out);
    } else {
        dot_weight_rows_any<false>(fmt, x, row, count, len, scales, block_k, out);
    }
    return true;
}

// kernel_table::dot_row_streams: `count` rounds over W streams, each round one tile over the streams'
// next rows (the AVX-512 file's walk, on this file's tile).
template <int W, bool Wide, int BK>
MNEME_AVX2 void row_streams_of(weight_format fmt, const float* x, const row_stream* s, int64_t count, int64_t row_bytes,
                               int64_t scale_step, int64_t prefetch_rows, int64_t len, int64_t block_k, float alpha) {
    for (int64_t i = 0; i < count; ++i) {
        const uint8_t* rows[W];
        const float* scales[W];
#pragma GCC unroll 4
        for (int j = 0; j < W; ++j) {
            rows[j] = s[j].row + i * row_bytes;
            scales[j] = s[j].scales + i * scale_step;
            if (prefetch_rows > 0 && i + prefetch_rows < count + s[j].rows_after) {
                const uint8_t* ahead = rows[j] + prefetch_rows * row_bytes;
                for (int64_t off = 0; off < row_bytes; off += 64) __builtin_prefetch(ahead + off);
            }
        }
        float out[W];
        dot_tile<1, W, Wide, BK>(fmt, x, 0, rows, len, scales, block_k, out);
#pragma GCC unroll 4
        for (int j = 0; j < W; ++j) s[j].out[i] = alpha == 1.0f ? out[j] : out[j] * alpha;
    }
}

template <bool Wide, int BK, std::size_t... W>
constexpr auto row_streams_table(std::index_sequence<W...>) {
    return std::array{&row_streams_of<static_cast<int>(W) + 1, Wide, BK>...};
}

MNEME_AVX2 bool dot_row_streams(weight_format fmt, bool wide, const float* x, const row_stream* streams, int n_streams,
                                int64_t count, int64_t row_bytes, int64_t scale_step, int64_t prefetch_rows,
                                int64_t len, int64_t block_k, float alpha) {
    if (n_streams < 1 || n_streams > 4 || block_k < 1 || count < 0) return false;
    if (fmt != weight_format::e4m3 && (wide || !dot_takes(fmt, len, block_k))) return false;
    const auto run = [&](auto wide_tag) {
        with_block_width(fmt, len, block_k, [&](auto bk) {
            static constexpr auto by_count =
                row_streams_table<decltype(wide_tag)::value, decltype(bk)::value>(std::make_index_sequence<4>{});
            by_count[static_cast<std::size_t>(n_streams - 1)](fmt, x, streams, count, row_bytes, scale_step,
                                                              prefetch_rows, len, block_k, alpha);
        });
    };
    if (wide) {
        run(std::true_type{});
    } else {
        run(std::false_type{});
    }
    return true;
}

MNEME_AVX2 bool dot(weight_format fmt, const float* x, int64_t x_stride, int64_t rows, const uint8_t* row,
                    int64_t len, const float* scales, int64_t block_k, float* out, bool codes_checked) {
    if (rows < 1 || rows > 4 || block_k < 1 || !dot_takes(fmt, len, block_k)) return false;
    if (fmt == weight_format::e4m3 && !codes_checked && has_e4m3_nan(row, len)) return false;
    dot_any_rows<false>(fmt, x, x_stride, rows, row, len, scales, block_k, out);
    return true;
}

MNEME_AVX2 bool dot_e4m3_wide(const float* x_wide, int64_t x_stride, int64_t rows, const uint8_t* row, int64_t len,
                              const float* scales, int64_t block_k, float* out, bool codes_checked) {
    if (rows < 1 || rows > 4 || block_k < 1 || (!codes_checked && has_e4m3_nan(row, len))) return false;
    dot_any_rows<true>(weight_format::e4m3, x_wide, x_stride, rows, row, len, scales, block_k, out);
    return true;
}

// exp(x) as exp16 in kernels-avx512.cpp, with 2^n built in the exponent bits (no scalef): x is
// clamped to [-87.3, 88.7] and results below that clamp are 0 (exp there is a subnormal of at most
// 1.2e-38); above 88.37 (n = 128) the result is infinity, where exp itself is within 0.3 % of
// float32's largest value. NaN passes through the clamps and stays NaN.
MNEME_AVX2 inline __m256 exp8(__m256 x) {
    const __m256 tiny = _mm256_cmp_ps(x, _mm256_set1_ps(-87.3f), _CMP_LT_OQ);
    x = _mm256_min_ps(_mm256_set1_ps(88.7f), _mm256_max_ps(_mm256_set1_ps(-87.3f), x));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145751953125f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.42860682030941723e-6f), r);
    __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    // n + 127 in [1, 255): 2^n as the float32 with that biased exponent. (A NaN x converts to an
    // arbitrary n; p is NaN there.)
    const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_andnot_ps(tiny, _mm256_mul_ps(p, _mm256_castsi256_ps(bits)));
}

MNEME_AVX2 float scaled_exp(float* s, int64_t n, float scale, float* max_out) {
    const __m256 sc = _mm256_set1_ps(scale), neg_inf = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
    __m256 m = neg_inf;
    for (int64_t i = 0; i < n; i += 8) {
        const __m256i k = tail_mask(std::min<int64_t>(8, n - i));
        const __m256 v = _mm256_mul_ps(_mm256_maskload_ps(s + i, k), sc);
        _mm256_maskstore_ps(s + i, k, v);
        // (v > m) ? v : m on the loaded lanes, so NaN is passed over.
        m = _mm256_blendv_ps(m, _mm256_max_ps(v, m), _mm256_castsi256_ps(k));
    }
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, m);
    float top = lanes[0];
    for (int i = 1; i < 8; ++i) top = lanes[i] > top ? lanes[i] : top;
    const __m256 tv = _mm256_set1_ps(top);
    __m256 sum = _mm256_setzero_ps();
    for (int64_t i = 0; i < n; i += 8) {
        const __m256i k = tail_mask(std::min<int64_t>(8, n - i));
        const __m256 e = exp8(_mm256_sub_ps(_mm256_maskload_ps(s + i, k), tv));
        _mm256_maskstore_ps(s + i, k, e);
        sum = _mm256_add_ps(sum, _mm256_and_ps(e, _mm256_castsi256_ps(k)));
    }
    _mm256_store_ps(lanes, sum);
    *max_out = top;
    return ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
}

MNEME_AVX2 void swiglu(const float* gate, const float* up, int64_t n, float limit, const float* weight, float* y) {
    const __m256 lim = _mm256_set1_ps(limit), neg_lim = _mm256_set1_ps(-limit), one = _mm256_set1_ps(1.0f);
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t i = 0; i < n; i += 8) {
        const __m256i k = tail_mask(std::min<int64_t>(8, n - i));
        __m256 g = _mm256_maskload_ps(gate + i, k), u = _mm256_maskload_ps(up + i, k);
        if (limit > 0) {
            // std::min(g, limit) and std::clamp(u, -limit, limit): NaN stays (the second operand).
            g = _mm256_min_ps(lim, g);
            u = _mm256_min_ps(lim, _mm256_max_ps(neg_lim, u));
        }
        __m256 r = _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(one, exp8(_mm256_xor_ps(g, sign)))), u);
        if (weight) r = _mm256_mul_ps(r, _mm256_set1_ps(*weight));
        _mm256_maskstore_ps(y + i, k, r);
    }
}

// Per 16 elements: the even ones, then the odd ones (load16's FP4 order). len is a multiple of 16.
MNEME_AVX2 void e2m1_x_layout(const float* x, int64_t len, float* out) {
    for (int64_t i = 0; i + 16 <= len; i += 16) {
        const __m256 a = _mm256_loadu_ps(x + i), b = _mm256_loadu_ps(x + i + 8);
        // Within each 128-bit half: a0 a2 b0 b2 / a1 a3 b1 b3, then the 64-bit pairs put in order.
        const __m256 even = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));
        const __m256 odd = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1));
        _mm256_storeu_ps(out + i, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(even), 0xd8)));
        _mm256_storeu_ps(out + i + 8, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(odd), 0xd8)));
    }
}

MNEME_AVX2 void e8m0_scales(const uint8_t* codes, int64_t n, float* out) {
    const __m256i nan = _mm256_set1_epi32(0x7fc00000), tiny = _mm256_set1_epi32(0x00400000);
    const __m256i zero = _mm256_setzero_si256(), top = _mm256_set1_epi32(255);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256i c = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(codes + i)));
        __m256i bits = _mm256_slli_epi32(c, 23);
        bits = _mm256_blendv_epi8(bits, tiny, _mm256_cmpeq_epi32(c, zero));
        bits = _mm256_blendv_epi8(bits, nan, _mm256_cmpeq_epi32(c, top));
        _mm256_storeu_ps(out + i, _mm256_castsi256_ps(bits));
    }
    for (; i < n; ++i) out[i] = e8m0_scale(codes[i]);
}

// Four accumulators of 8 lanes, the tail masked.
MNEME_AVX2 float sum_squares(const float* x, int64_t n) {
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
#pragma GCC unroll 4
        for (int a = 0; a < 4; ++a) {
            const __m256 v = _mm256_loadu_ps(x + i + 8 * a);
            acc[a] = _mm256_fmadd_ps(v, v, acc[a]);
        }
    }
    for (int a = 0; i < n; i += 8, ++a) {
        const __m256 v = _mm256_maskload_ps(x + i, tail_mask(n - i < 8 ? n - i : 8));
        acc[a] = _mm256_fmadd_ps(v, v, acc[a]);
    }
    return hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
}

}  // namespace

const kernel_table& avx2_kernels() {
    static const kernel_table table = [] {
        kernel_table t{decode,
                       gemm_nt,
                       axpy_rows,
                       gemm_panel,
                       pack_panel,
                       decode_panel,
                       dot,
                       relu_head_sum,
                       head_dots,
                       4,
                       nullptr,
                       nullptr,
                       nullptr,
                       scalar_kernels().order_keys,
                       scalar_kernels().quant_block_e4m3,
                       scalar_kernels().add_scaled,
                       dot_e4m3_wide,
                       scaled_exp,
                       swiglu,
                       true,
                       dot_weight_rows,
                       e8m0_scales,
                       e2m1_x_layout,
                       sum_squares,
                       nullptr};
        t.dot_row_streams = dot_row_streams;
        t.mqa_values = mqa_values;
        return t;
    }();
    return table;
}

}  // namespace mneme::kernels::fast
#endif
