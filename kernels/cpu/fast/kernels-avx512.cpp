// AVX-512 building blocks (F + BW + VL; F16C-style conversions come from AVX-512F). Every function
// carries a target attribute instead of the file being compiled with -mavx512*, so no inline
// function from a shared header is ever emitted with AVX-512 instructions and picked by the linker
// for callers on older CPUs.
#if defined(__x86_64__)
#include <immintrin.h>

// GCC 12's AVX-512 headers seed "undefined" vectors with self-initialisation, which its own
// -Wmaybe-uninitialized then reports once the intrinsics are inlined here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <utility>

#include "avx512-inline.h"
#include "fast-kernels.h"
#include "mneme_kernels/number-formats.h"

namespace mneme::kernels::fast {
namespace {

MNEME_AVX512 void decode(weight_format fmt, const uint8_t* row, int64_t k0, int64_t len, float scale, float* out) {
    const __m512 s = _mm512_set1_ps(scale);
    int64_t i = 0;
    switch (fmt) {
        case weight_format::f32: {
            const float* src = reinterpret_cast<const float*>(row) + k0;
            for (; i + 16 <= len; i += 16) _mm512_storeu_ps(out + i, _mm512_mul_ps(_mm512_loadu_ps(src + i), s));
            break;
        }
        case weight_format::f64: {
            const double* src = reinterpret_cast<const double*>(row) + k0;
            for (; i + 8 <= len; i += 8) {
                _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm512_cvtpd_ps(_mm512_loadu_pd(src + i)), _mm512_castps512_ps256(s)));
            }
            break;
        }
        case weight_format::bf16: {
            const uint8_t* src = row + 2 * k0;
            for (; i + 16 <= len; i += 16) {
                const __m512i h = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 2 * i)));
                _mm512_storeu_ps(out + i, _mm512_mul_ps(_mm512_castsi512_ps(_mm512_slli_epi32(h, 16)), s));
            }
            break;
        }
        case weight_format::f16: {
            const uint8_t* src = row + 2 * k0;
            for (; i + 16 <= len; i += 16) {
                const __m512 v = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + 2 * i)));
                _mm512_storeu_ps(out + i, _mm512_mul_ps(v, s));
            }
            break;
        }
        case weight_format::e4m3:
            // Without NaN codes, 32 at a time through the float16 view (value x 2^-8, exact) times
            // scale x 256: one rounding of the exact product, as value x scale. Scales whose x 256
            // could overflow (and NaN scales) take the plain loop.
            if (std::fabs(scale) < 0x1p100f && !has_e4m3_nan(row + k0, len)) {
                const __m512 s256 = _mm512_set1_ps(scale * 256.0f);
                for (; i + 32 <= len; i += 32) {
                    const __m512i h =
                        e4m3x32_as_f16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + k0 + i)));
                    _mm512_storeu_ps(out + i, _mm512_mul_ps(_mm512_cvtph_ps(_mm512_castsi512_si256(h)), s256));
                    _mm512_storeu_ps(out + i + 16, _mm512_mul_ps(_mm512_cvtph_ps(_mm512_extracti64x4_epi64(h, 1)), s256));
                }
            }
            for (; i + 16 <= len; i += 16) _mm512_storeu_ps(out + i, _mm512_mul_ps(e4m3x16(row + k0 + i), s));
            break;
        case weight_format::e2m1: {
            if (k0 % 2) break;  // odd start (only with odd scale blocks): element by element below
            const __m512 table = _mm512_loadu_ps(k_e2m1_values.data());
            for (; i + 16 <= len; i += 16) _mm512_storeu_ps(out + i, _mm512_mul_ps(e2m1x16(row + (k0 + i) / 2, table), s));
            break;
        }
    }
    if (i < len) scalar_kernels().decode(fmt, row, k0 + i, len - i, scale, out + i);
}

// NR weight rows times MR activation rows over the whole length: NR + 1 loads feed NR * MR FMAs.
template <int NR, int MR>
MNEME_AVX512 void micro(const float* x, int64_t xs, const float* const* w, int64_t len, float* y, int64_t ys,
                        bool accumulate) {
    __m512 acc[MR][NR];
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
#pragma GCC unroll 8
        for (int j = 0; j < NR; ++j) acc[r][j] = _mm512_setzero_ps();
    }
    int64_t k = 0;
    for (; k + 16 <= len; k += 16) {
        __m512 wv[NR];
#pragma GCC unroll 8
        for (int j = 0; j < NR; ++j) wv[j] = _mm512_loadu_ps(w[j] + k);
#pragma GCC unroll 8
        for (int r = 0; r < MR; ++r) {
            const __m512 xv = _mm512_loadu_ps(x + r * xs + k);
#pragma GCC unroll 8
            for (int j = 0; j < NR; ++j) acc[r][j] = _mm512_fmadd_ps(xv, wv[j], acc[r][j]);
        }
    }
    if (k < len) {
        const __mmask16 m = static_cast<__mmask16>((1u << (len - k)) - 1u);
        __m512 wv[NR];
#pragma GCC unroll 8
        for (int j = 0; j < NR; ++j) wv[j] = _mm512_maskz_loadu_ps(m, w[j] + k);
#pragma GCC unroll 8
        for (int r = 0; r < MR; ++r) {
            const __m512 xv = _mm512_maskz_loadu_ps(m, x + r * xs + k);
#pragma GCC unroll 8
            for (int j = 0; j < NR; ++j) acc[r][j] = _mm512_fmadd_ps(xv, wv[j], acc[r][j]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
#pragma GCC unroll 8
        for (int j = 0; j < NR; ++j) {
            const float s = _mm512_reduce_add_ps(acc[r][j]);
            float& o = y[r * ys + j];
            o = accumulate ? o + s : s;
        }
    }
}

using micro_fn = void (*)(const float*, int64_t, const float* const*, int64_t, float*, int64_t, bool);
constexpr int k_nr = 4, k_mr = 4;

template <int NR>
constexpr micro_fn micro_row[k_mr] = {micro<NR, 1>, micro<NR, 2>, micro<NR, 3>, micro<NR, 4>};
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

MNEME_AVX512 void axpy_rows(const float* c, const float* const* v, int count, int64_t len, float* y) {
    int64_t i = 0;
    for (; i + 16 <= len; i += 16) {
        __m512 acc = _mm512_loadu_ps(y + i);
        for (int m = 0; m < count; ++m) acc = _mm512_fmadd_ps(_mm512_set1_ps(c[m]), _mm512_loadu_ps(v[m] + i), acc);
        _mm512_storeu_ps(y + i, acc);
    }
    if (i < len) {
        const __mmask16 msk = static_cast<__mmask16>((1u << (len - i)) - 1u);
        __m512 acc = _mm512_maskz_loadu_ps(msk, y + i);
        for (int m = 0; m < count; ++m) {
            acc = _mm512_fmadd_ps(_mm512_set1_ps(c[m]), _mm512_maskz_loadu_ps(msk, v[m] + i), acc);
        }
        _mm512_mask_storeu_ps(y + i, msk, acc);
    }
}

// HN heads × 32 outputs: 2·HN accumulators; per value row two loads and HN broadcasts feed 2·HN FMAs.
template <int HN>
MNEME_AVX512 void mqa_values_block(const float* p, int64_t p_stride, const float* const* v, int64_t n, int64_t len,
                                   float* y, int64_t y_stride) {
    for (int64_t i = 0; i < len; i += 32) {
        const int64_t rem = len - i;
        const auto mask = [](int64_t k) {
            return k >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << (k > 0 ? k : 0)) - 1u);
        };
        const __mmask16 m0 = mask(rem), m1 = mask(rem - 16);
        // (The head loops are unrolled so that the accumulators stay in registers: rolled, GCC kept
        // them on the stack, a load and a store around every multiply-add.)
        __m512 acc[HN][2];
#pragma GCC unroll 8
        for (int h = 0; h < HN; ++h) acc[h][0] = acc[h][1] = _mm512_setzero_ps();
        for (int64_t j = 0; j < n; ++j) {
            const __m512 v0 = _mm512_maskz_loadu_ps(m0, v[j] + i), v1 = _mm512_maskz_loadu_ps(m1, v[j] + i + 16);
#pragma GCC unroll 8
            for (int h = 0; h < HN; ++h) {
                const __m512 c = _mm512_set1_ps(p[h * p_stride + j]);
                acc[h][0] = _mm512_fmadd_ps(c, v0, acc[h][0]);
                acc[h][1] = _mm512_fmadd_ps(c, v1, acc[h][1]);
            }
        }
#pragma GCC unroll 8
        for (int h = 0; h < HN; ++h) {
            _mm512_mask_storeu_ps(y + h * y_stride + i, m0, acc[h][0]);
            _mm512_mask_storeu_ps(y + h * y_stride + i + 16, m1, acc[h][1]);
        }
    }
}

MNEME_AVX512 void mqa_values(const float* p, int64_t p_stride, int64_t heads, const float* const* v, int64_t n,
                             int64_t len, float* y, int64_t y_stride) {
    using block_fn = void (*)(const float*, int64_t, const float* const*, int64_t, int64_t, float*, int64_t);
    static constexpr block_fn blocks[8] = {mqa_values_block<1>, mqa_values_block<2>, mqa_values_block<3>,
                                           mqa_values_block<4>, mqa_values_block<5>, mqa_values_block<6>,
                                           mqa_values_block<7>, mqa_values_block<8>};
    for (int64_t h = 0; h < heads; h += 8) {
        const int64_t hn = std::min<int64_t>(8, heads - h);
        blocks[hn - 1](p + h * p_stride, p_stride, v, n, len, y + h * y_stride, y_stride);
    }
}

// Sixteen keys at a time (a masked tail), every head in order; _mm512_max_ps(0, d) returns d when d
// is NaN, as std::max(d, 0) does.
MNEME_AVX512 void relu_head_sum(const float* dots, int64_t dot_stride, const float* w, int64_t heads, int64_t n,
                                float* out) {
    for (int64_t j = 0; j < n; j += 16) {
        const __mmask16 m = n - j >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << (n - j)) - 1u);
        __m512 acc = _mm512_setzero_ps();
        for (int64_t h = 0; h < heads; ++h) {
            const __m512 r = _mm512_max_ps(_mm512_setzero_ps(), _mm512_maskz_loadu_ps(m, dots + h * dot_stride + j));
            acc = _mm512_add_ps(acc, _mm512_mul_ps(_mm512_set1_ps(w[h]), r));
        }
        _mm512_mask_storeu_ps(out + j, m, acc);
    }
}

// MR activation rows × 32 weight rows: 2·MR accumulators (24 of 32 registers at MR = 12) stay in
// registers over the whole length; per k two panel loads and MR broadcasts feed 2·MR FMAs.
template <int MR>
MNEME_AVX512 void panel_micro(const float* x, int64_t xs, const float* panel, int64_t len, float* y, int64_t ys,
                              __mmask16 m0, __mmask16 m1, bool accumulate) {
    __m512 a0[MR], a1[MR];
#pragma GCC unroll 12
    for (int r = 0; r < MR; ++r) a0[r] = a1[r] = _mm512_setzero_ps();
    for (int64_t k = 0; k < len; ++k) {
        const __m512 w0 = _mm512_loadu_ps(panel + k * k_panel_cols);
        const __m512 w1 = _mm512_loadu_ps(panel + k * k_panel_cols + 16);
#pragma GCC unroll 12
        for (int r = 0; r < MR; ++r) {
            const __m512 xb = _mm512_set1_ps(x[r * xs + k]);
            a0[r] = _mm512_fmadd_ps(xb, w0, a0[r]);
            a1[r] = _mm512_fmadd_ps(xb, w1, a1[r]);
        }
    }
#pragma GCC unroll 12
    for (int r = 0; r < MR; ++r) {
        float* out = y + r * ys;
        if (accumulate) {
            a0[r] = _mm512_add_ps(a0[r], _mm512_maskz_loadu_ps(m0, out));
            a1[r] = _mm512_add_ps(a1[r], _mm512_maskz_loadu_ps(m1, out + 16));
        }
        _mm512_mask_storeu_ps(out, m0, a0[r]);
        _mm512_mask_storeu_ps(out + 16, m1, a1[r]);
    }
}

constexpr int k_panel_mr = 12;
using panel_fn = void (*)(const float*, int64_t, const float*, int64_t, float*, int64_t, __mmask16, __mmask16, bool);
constexpr panel_fn panel_table[k_panel_mr] = {panel_micro<1>, panel_micro<2>, panel_micro<3>,  panel_micro<4>,
                                              panel_micro<5>, panel_micro<6>, panel_micro<7>,  panel_micro<8>,
                                              panel_micro<9>, panel_micro<10>, panel_micro<11>, panel_micro<12>};

MNEME_AVX512 void gemm_panel(const float* x, int64_t x_stride, int64_t rows, const float* panel, int64_t n,
                             int64_t len, float* y, int64_t y_stride, bool accumulate) {
    const uint32_t m = n >= 32 ? ~0u : static_cast<uint32_t>((uint64_t{1} << n) - 1);
    const __mmask16 m0 = static_cast<__mmask16>(m), m1 = static_cast<__mmask16>(m >> 16);
    for (int64_t r = 0; r < rows; r += k_panel_mr) {
        const int mr = static_cast<int>(rows - r < k_panel_mr ? rows - r : k_panel_mr);
        panel_table[mr - 1](x + r * x_stride, x_stride, panel, len, y + r * y_stride, y_stride, m0, m1, accumulate);
    }
}

MNEME_AVX512 void pack_panel(const float* rows, int64_t ld, int64_t n, int64_t len, float* panel) {
    int64_t k = 0;
    for (; k + 16 <= len; k += 16) {
        for (int64_t half = 0; half < k_panel_cols; half += 16) {
            __m512 r[16];  // (unrolled: the rows stay in registers through the transposition)
#pragma GCC unroll 16
            for (int64_t j = 0; j < 16; ++j) {
                r[j] = half + j < n ? _mm512_loadu_ps(rows + (half + j) * ld + k) : _mm512_setzero_ps();
            }
            transpose16(r);
#pragma GCC unroll 16
            for (int64_t i = 0; i < 16; ++i) _mm512_storeu_ps(panel + (k + i) * k_panel_cols + half, r[i]);
        }
    }
    for (; k < len; ++k) {
        for (int64_t j = 0; j < k_panel_cols; ++j) panel[k * k_panel_cols + j] = j < n ? rows[j * ld + k] : 0.0f;
    }
}

// head_dots' results of up to 16 keys, res[v][key][lane], transposed into dots[h * ds + key] for
// the heads that exist.
template <int HV>
MNEME_AVX512 inline void store_head_dots(const float (&res)[HV][16][16], int64_t nk, int64_t heads, float* dots,
                                         int64_t ds) {
    const auto mask = static_cast<__mmask16>((1u << nk) - 1);
    for (int v = 0; v < HV; ++v) {
        // Unrolled, so that the 16 rows stay in registers through the transposition.
        __m512 r[16];
#pragma GCC unroll 16
        for (int i = 0; i < 16; ++i) r[i] = i < nk ? _mm512_load_ps(res[v][i]) : _mm512_setzero_ps();
        transpose16(r);
#pragma GCC unroll 16
        for (int i = 0; i < 16; ++i) {
            if (v * 16 + i < heads) _mm512_mask_storeu_ps(dots + (v * 16 + i) * ds, mask, r[i]);
        }
    }
}

// f(std::integral_constant<int, HV>{}) for HV = head_vectors(heads).
template <class F>
void with_head_vectors(int64_t heads, F&& f) {
    switch (head_vectors(heads)) {
        case 1: return f(std::integral_constant<int, 1>{});
        case 2: return f(std::integral_constant<int, 2>{});
        case 4: return f(std::integral_constant<int, 4>{});
        default: return f(std::integral_constant<int, 8>{});
    }
}

// head_dots with HV vectors of 16 heads: KB keys at a time keep KB * HV accumulators (16; 8 for one
// vector, where 16 keys cost more in pointer and broadcast traffic than they hide latency) in
// flight; every 16 keys, each head vector's results are transposed into 16 rows of 16 keys.
template <int HV>
MNEME_AVX512 void head_dots_hv(const float* qt, int64_t heads, const float* const* keys, int64_t n, int64_t d,
                               float* dots, int64_t ds) {
    constexpr int KB = HV == 1 ? 8 : 16 / HV;
    alignas(64) float res[HV][16][16];  // [head vector][key of the group][head lane]
    for (int64_t j0 = 0; j0 < n; j0 += 16) {
        const int64_t nk = n - j0 < 16 ? n - j0 : 16;
        for (int64_t g = 0; g < nk; g += KB) {
            const float* kp[KB];
            for (int b = 0; b < KB; ++b) kp[b] = keys[j0 + (g + b < nk ? g + b : nk - 1)];  // a real row: no overread
            // Fully unrolled, so that the accumulators live in registers.
            __m512 acc[KB][HV];
#pragma GCC unroll 8
            for (int b = 0; b < KB; ++b) {
#pragma GCC unroll 8
                for (int v = 0; v < HV; ++v) acc[b][v] = _mm512_setzero_ps();
            }
            for (int64_t c = 0; c < d; ++c) {
                __m512 qv[HV];
#pragma GCC unroll 8
                for (int v = 0; v < HV; ++v) qv[v] = _mm512_loadu_ps(qt + (c * HV + v) * 16);
#pragma GCC unroll 8
                for (int b = 0; b < KB; ++b) {
                    const __m512 kb = _mm512_set1_ps(kp[b][c]);
#pragma GCC unroll 8
                    for (int v = 0; v < HV; ++v) acc[b][v] = _mm512_fmadd_ps(qv[v], kb, acc[b][v]);
                }
            }
#pragma GCC unroll 8
            for (int b = 0; b < KB; ++b) {
                if (g + b >= 16) break;
#pragma GCC unroll 8
                for (int v = 0; v < HV; ++v) _mm512_store_ps(res[v][g + b], acc[b][v]);
            }
        }
        store_head_dots<HV>(res, nk, heads, dots + j0, ds);
    }
}

MNEME_AVX512 bool head_dots(const float* qt, int64_t heads, const float* const* keys, int64_t n, int64_t d, float* dots,
                            int64_t dot_stride) {
    if (heads < 1 || heads > 128) return false;
    with_head_vectors(heads, [&](auto hv) { head_dots_hv<decltype(hv)::value>(qt, heads, keys, n, d, dots, dot_stride); });
    return true;
}

// 16 consecutive weights of one row (element k on), unscaled but in the unit `scale_unit<F>`
// (e4m3 through the float16 view comes out times 2^-8), so that one multiplication by the block
// scale times that unit gives exactly decode's value x scale.
template <weight_format F>
MNEME_AVX512 inline __m512 load16(const uint8_t* row, int64_t k, __m512 e2m1_table) {
    if constexpr (F == weight_format::e4m3) {
        return _mm512_cvtph_ps(e4m3x16_as_f16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + k))));
    } else if constexpr (F == weight_format::bf16) {
        const __m512i h = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * k)));
        return _mm512_castsi512_ps(_mm512_slli_epi32(h, 16));
    } else if constexpr (F == weight_format::f16) {
        return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * k)));
    } else if constexpr (F == weight_format::e2m1) {
        return e2m1x16(row + k / 2, e2m1_table);
    } else {
        return _mm512_loadu_ps(reinterpret_cast<const float*>(row) + k);
    }
}

template <weight_format F>
constexpr float scale_unit = F == weight_format::e4m3 ? 256.0f : 1.0f;

template <weight_format F>
MNEME_AVX512 void decode_panel_as(const weight_view& w, int64_t n0, int64_t n, int64_t k0, int64_t len, float* panel) {
    const bool scaled = w.scale_fmt != scale_format::none;
    const int64_t step = scaled ? w.block_k : len;  // columns between scale changes (a multiple of 16)
    const __m512 table = _mm512_loadu_ps(k_e2m1_values.data());
    const uint8_t* rows[k_panel_cols];
    bool exact[k_panel_cols];  // the fast view applies: no e4m3 NaN code and scale x unit exact
    float scale[k_panel_cols], mult[k_panel_cols];  // block scale (and x unit) of the current block
    bool all_exact[k_panel_cols / 16];              // exact for each row of a half
    int64_t scale_row[k_panel_cols];  // where each row's scales start (no division per block)
    for (int64_t j = 0; j < n; ++j) {
        rows[j] = w.data + (n0 + j) * w.row_bytes;
        exact[j] = F != weight_format::e4m3 || !has_e4m3_nan(rows[j] + k0, len);
        scale_row[j] = scaled ? (n0 + j) / w.block_n * w.scale_row_elems : 0;
    }
    int64_t k = 0;
    for (; k + 16 <= len; k += 16) {
        if (k == 0 || (k0 + k) % step == 0) {
            const int64_t block = scaled ? (k0 + k) / w.block_k : 0;
            for (int64_t j = 0; j < n; ++j) {
                scale[j] = block_scale_at(w, scale_row[j] + block);
                mult[j] = scale[j] * scale_unit<F>;
                exact[j] = exact[j] && (F != weight_format::e4m3 || std::fabs(scale[j]) < 0x1p100f);
            }
            for (int64_t h = 0; h < k_panel_cols / 16; ++h) {
                all_exact[h] = true;
                for (int64_t j = h * 16; j < std::min<int64_t>(n, h * 16 + 16); ++j)
                    all_exact[h] = all_exact[h] && exact[j];
            }
        }
        for (int64_t half = 0; half < k_panel_cols; half += 16) {
            if (half >= n) {
                for (int64_t i = 0; i < 16; ++i) _mm512_storeu_ps(panel + (k + i) * k_panel_cols + half, _mm512_setzero_ps());
                continue;
            }
            __m512 r[16];
            if (half + 16 <= n && all_exact[half / 16]) {
                // The common case without a branch per row, so that r stays in registers.
#pragma GCC unroll 16
                for (int64_t j = 0; j < 16; ++j) {
                    r[j] = _mm512_mul_ps(load16<F>(rows[half + j], k0 + k, table), _mm512_set1_ps(mult[half + j]));
                }
            } else {
                for (int64_t j = 0; j < 16; ++j) {
                    const int64_t row = half + j;
                    if (row >= n) {
                        r[j] = _mm512_setzero_ps();
                    } else if (exact[row]) {
                        r[j] = _mm512_mul_ps(load16<F>(rows[row], k0 + k, table), _mm512_set1_ps(mult[row]));
                    } else {  // e4m3 with NaN codes or a huge scale: decode's exact per-element form
                        r[j] = _mm512_mul_ps(e4m3x16(rows[row] + k0 + k), _mm512_set1_ps(scale[row]));
                    }
                }
            }
            transpose16(r);
#pragma GCC unroll 16
            for (int64_t i = 0; i < 16; ++i) _mm512_storeu_ps(panel + (k + i) * k_panel_cols + half, r[i]);
        }
    }
    if (k < len) {  // the last columns (fewer than 16, all in one scale block) element by element
        float tail[16];
        for (int64_t j = 0; j < k_panel_cols; ++j) {
            if (j < n) decode(F, rows[j], k0 + k, len - k, weight_block_scale(w, n0 + j, k0 + k), tail);
            for (int64_t i = 0; i < len - k; ++i) panel[(k + i) * k_panel_cols + j] = j < n ? tail[i] : 0.0f;
        }
    }
}

// Decodes straight into the panel layout: 16 rows x 16 columns are decoded into registers (value
// x block scale, the same single float32 rounding as decode), transposed and stored.
MNEME_AVX512 bool decode_panel(const weight_view& w, int64_t n0, int64_t n, int64_t k0, int64_t len, float* panel) {
    if (n < 1 || n > k_panel_cols || k0 % 16 != 0) return false;
    if (w.scale_fmt != scale_format::none && w.block_k % 16 != 0) return false;
    switch (w.format) {
        case weight_format::e4m3: decode_panel_as<weight_format::e4m3>(w, n0, n, k0, len, panel); return true;
        case weight_format::bf16: decode_panel_as<weight_format::bf16>(w, n0, n, k0, len, panel); return true;
        case weight_format::f16: decode_panel_as<weight_format::f16>(w, n0, n, k0, len, panel); return true;
        case weight_format::e2m1: decode_panel_as<weight_format::e2m1>(w, n0, n, k0, len, panel); return true;
        case weight_format::f32: decode_panel_as<weight_format::f32>(w, n0, n, k0, len, panel); return true;
        default: return false;
    }
}

// 32 consecutive weights of one row as two float vectors (unscaled; e4m3 comes out times 2^-8).
// `m` masks the elements to load (all ones except in a block's tail); masked-off weights are 0.
struct load_e4m3 {
    static constexpr float unit = 256.0f;  // undoes the 2^-8 of the float16 view
    MNEME_AVX512 static void load(const uint8_t* row, int64_t k, uint32_t m, __m512& lo, __m512& hi) {
        const __m512i h = e4m3x32_as_f16(m == ~0u ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + k))
                                                  : _mm256_maskz_loadu_epi8(m, row + k));
        lo = _mm512_cvtph_ps(_mm512_castsi512_si256(h));
        hi = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(h, 1));
    }
};

// The same from activations times k_e4m3_wide_unit: each code sign-extended to 32 bits and shifted
// left by 20 puts its sign at bit 31 and its magnitude at bits 20..26 (bits 27..30, copies of the
// sign, are cleared): the float32 whose value is the code's times 2^-120, exactly (e4m3's
// subnormals become float32 subnormals). With x times 2^112 each product is the one load_e4m3's
// path forms, bit for bit. Integer work only: no float16 conversions.
struct load_e4m3_wide {
    static constexpr float unit = 256.0f;
    MNEME_AVX512 static __m512 bits16(__m128i codes) {
        const __m512i v = _mm512_slli_epi32(_mm512_cvtepi8_epi32(codes), 20);
        return _mm512_castsi512_ps(_mm512_and_si512(v, _mm512_set1_epi32(static_cast<int>(0x87f00000u))));
    }
    MNEME_AVX512 static void load(const uint8_t* row, int64_t k, uint32_t m, __m512& lo, __m512& hi) {
        if (m == ~0u) {
            lo = bits16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + k)));
            hi = bits16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + k + 16)));
        } else {
            lo = bits16(_mm_maskz_loadu_epi8(static_cast<__mmask16>(m), row + k));
            hi = bits16(_mm_maskz_loadu_epi8(static_cast<__mmask16>(m >> 16), row + k + 16));
        }
    }
};

// FP4 (e2m1) rows, two codes a byte (element 2j in the low nibble): a tag for dot_tile, which
// takes them in dot_tile_e2m1.
struct load_e2m1 {};

struct load_bf16 {
    static constexpr float unit = 1.0f;
    MNEME_AVX512 static void load(const uint8_t* row, int64_t k, uint32_t m, __m512& lo, __m512& hi) {
        const uint8_t* p = row + 2 * k;
        const __m512i v = m == ~0u ? _mm512_loadu_si512(p) : _mm512_maskz_loadu_epi16(m, p);
        // bf16 is the top half of a float32: place each 16-bit value in the upper half of a lane.
        lo = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm512_castsi512_si256(v)), 16));
        hi = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(v, 1)), 16));
    }
};

// R activation rows against W weight rows, out[j * R + r] for weight row row[j] (with its block
// scales scales[j]) and activation row r. Every (r, j) pair keeps its own accumulators and sums in
// the same order whatever R and W are, so each output is the one-row, one-weight-row result bit for
// bit. More activation rows decode each weight once for all of them (prefill's small MoE products,
// drafting's verify passes); more weight rows load each activation once for all of them and keep
// more chains of fused multiply-adds in flight (decode, where a one-row product waits on its two
// chains' latency and on a load of activations per 16 weights).
// The loops are unrolled explicitly: left as loops, GCC keeps the accumulator arrays in memory
// (a load and a store around every FMA), which made 5-16-row products 4-8x slower.
// BK > 0: every block is exactly BK long (block_k == BK and len a multiple of it), so the block's
// steps unroll completely; with a run-time trip count of four, the loop's own branches and counters
// cost a one-row FP8 product about half its speed here. The arithmetic is the same either way.
// dot_tile's whole step of 32 weights at k. (With several weight rows GCC folds the activations'
// loads into the FMAs, once per weight row; loading them once into registers for all rows measured
// the same, and cost 8-row products ~3 %.)
template <class L, int R, int W>
MNEME_AVX512 inline __attribute__((always_inline)) void tile_step(const float* x, int64_t xs, const uint8_t* const* row,
                                                                  int64_t k, __m512 (&lo_acc)[W][R],
                                                                  __m512 (&hi_acc)[W][R]) {
#pragma GCC unroll 4
    for (int j = 0; j < W; ++j) {
        __m512 lo, hi;
        L::load(row[j], k, ~0u, lo, hi);
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
            lo_acc[j][r] = _mm512_fmadd_ps(lo, _mm512_loadu_ps(x + r * xs + k), lo_acc[j][r]);
            hi_acc[j][r] = _mm512_fmadd_ps(hi, _mm512_loadu_ps(x + r * xs + k + 16), hi_acc[j][r]);
        }
    }
}

// dot_tile for FP4 rows. Each block's scale multiplies the 16-value table once per weight row, so
// the weights come out of the table scaled (the reference's decode-then-scale values: exact, e8m0
// scales being powers of two) and are summed straight into the row's two accumulators; scaling each
// block's partial sum instead cost an addition and a multiply-add per row and block of 32, and
// chained every block on the last. Byte j of a step of 32 codes is widened into lane j, whose low
// nibble picks element 2j from the table into lo (vpermps reads an index's low 4 bits only) and
// whose high nibble, shifted down, element 2j + 1 into hi: the activations are laid out to match
// (e2m1_x_layout: each step's even elements, then its odd ones). Interleaving the codes into order
// took 4 more shuffles and 3 logic ops per step. One-row 512 x 1024 products, warm (Zen 5): 23.3 us
// with the interleave, 17.4 without, 15.9 with scaled tables (best of 30).
template <int R, int W, int BK>
MNEME_AVX512 void dot_tile_e2m1(const float* x, int64_t xs, const uint8_t* const* row, int64_t len,
                                const float* const* scales, int64_t block_k, float* out) {
    if constexpr (BK > 0) block_k = BK;
    const __m512 values = _mm512_loadu_ps(k_e2m1_values.data());
    __m512 lo_acc[W][R], hi_acc[W][R];
#pragma GCC unroll 4
    for (int j = 0; j < W; ++j) {
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) lo_acc[j][r] = hi_acc[j][r] = _mm512_setzero_ps();
    }
    for (int64_t b0 = 0, blk = 0; b0 < len; b0 += block_k, ++blk) {
        __m512 table[W];
#pragma GCC unroll 4
        for (int j = 0; j < W; ++j) table[j] = _mm512_mul_ps(values, _mm512_set1_ps(scales[j][blk]));
        const int64_t b1 = b0 + block_k < len ? b0 + block_k : len;
#pragma GCC unroll 2
        for (int64_t k = b0; k < b1; k += 32) {
#pragma GCC unroll 4
            for (int j = 0; j < W; ++j) {
                const __m512i c =
                    _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row[j] + k / 2)));
                const __m512 lo = _mm512_permutexvar_ps(c, table[j]);
                const __m512 hi = _mm512_permutexvar_ps(_mm512_srli_epi32(c, 4), table[j]);
#pragma GCC unroll 8
                for (int r = 0; r < R; ++r) {
                    lo_acc[j][r] = _mm512_fmadd_ps(lo, _mm512_loadu_ps(x + r * xs + k), lo_acc[j][r]);
                    hi_acc[j][r] = _mm512_fmadd_ps(hi, _mm512_loadu_ps(x + r * xs + k + 16), hi_acc[j][r]);
                }
            }
        }
    }
#pragma GCC unroll 4
    for (int j = 0; j < W; ++j) {
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) out[j * R + r] = _mm512_reduce_add_ps(_mm512_add_ps(lo_acc[j][r], hi_acc[j][r]));
    }
}

template <class L, int R, int W, int BK>
MNEME_AVX512 void dot_tile_of(const float* x, int64_t xs, const uint8_t* const* row, int64_t len,
                              const float* const* scales, int64_t block_k, float* out) {
    if constexpr (BK > 0) block_k = BK;
    __m512 total[W][R];
#pragma GCC unroll 4
    for (int j = 0; j < W; ++j) {
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) total[j][r] = _mm512_setzero_ps();
    }
    for (int64_t b0 = 0, blk = 0; b0 < len; b0 += block_k, ++blk) {
        const int64_t b1 = b0 + block_k < len ? b0 + block_k : len;
        // Two accumulators per pair keep two FMA chains in flight even for one pair.
        __m512 lo_acc[W][R], hi_acc[W][R];
#pragma GCC unroll 4
        for (int j = 0; j < W; ++j) {
#pragma GCC unroll 8
            for (int r = 0; r < R; ++r) lo_acc[j][r] = hi_acc[j][r] = _mm512_setzero_ps();
        }
        int64_t k = b0;
        if constexpr (BK > 0) {
#pragma GCC unroll 16
            for (int64_t i = 0; i < BK; i += 32) tile_step<L, R, W>(x, xs, row, b0 + i, lo_acc, hi_acc);
            k = b1;
        }
        // Whole steps without masks (the mask's computation and the masked loads cost port time
        // that one-row products, bound by the conversions, do not have to spare), then the tail.
        for (; k + 32 <= b1; k += 32) tile_step<L, R, W>(x, xs, row, k, lo_acc, hi_acc);
        if (k < b1) {
            const uint32_t m = static_cast<uint32_t>((uint64_t{1} << (b1 - k)) - 1);
            const __mmask16 mlo = static_cast<__mmask16>(m), mhi = static_cast<__mmask16>(m >> 16);
#pragma GCC unroll 4
            for (int j = 0; j < W; ++j) {
                __m512 lo, hi;
                L::load(row[j], k, m, lo, hi);
#pragma GCC unroll 8
                for (int r = 0; r < R; ++r) {
                    lo_acc[j][r] = _mm512_fmadd_ps(lo, _mm512_maskz_loadu_ps(mlo, x + r * xs + k), lo_acc[j][r]);
                    hi_acc[j][r] = _mm512_fmadd_ps(hi, _mm512_maskz_loadu_ps(mhi, x + r * xs + k + 16), hi_acc[j][r]);
                }
            }
        }
#pragma GCC unroll 4
        for (int j = 0; j < W; ++j) {
            const __m512 s = _mm512_set1_ps(scales[j][blk]);
#pragma GCC unroll 8
            for (int r = 0; r < R; ++r) {
                total[j][r] = _mm512_fmadd_ps(_mm512_add_ps(lo_acc[j][r], hi_acc[j][r]), s, total[j][r]);
            }
        }
    }
#pragma GCC unroll 4
    for (int j = 0; j < W; ++j) {
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) out[j * R + r] = _mm512_reduce_add_ps(total[j][r]) * L::unit;
    }
}

// R activation rows against W weight rows (see dot_tile_of; FP4 rows take dot_tile_e2m1).
template <class L, int R, int W, int BK>
MNEME_AVX512 void dot_tile(const float* x, int64_t xs, const uint8_t* const* row, int64_t len,
                           const float* const* scales, int64_t block_k, float* out) {
    if constexpr (std::is_same_v<L, load_e2m1>) {
        dot_tile_e2m1<R, W, BK>(x, xs, row, len, scales, block_k, out);
    } else {
        dot_tile_of<L, R, W, BK>(x, xs, row, len, scales, block_k, out);
    }
}

// One weight row against R activation rows.
template <class L, int R, int BK>
MNEME_AVX512 void dot_rows(const float* x, int64_t xs, const uint8_t* row, int64_t len, const float* scales,
                           int64_t block_k, float* out) {
    dot_tile<L, R, 1, BK>(x, xs, &row, len, &scales, block_k, out);
}

template <class L, int W, int BK>
MNEME_AVX512 void dot_weight_rows_of(const float* x, const uint8_t* const* row, int64_t len, const float* const* scales,
                                     int64_t block_k, float* out) {
    dot_tile<L, 1, W, BK>(x, 0, row, len, scales, block_k, out);
}

template <class L, int BK, std::size_t... W>
constexpr auto dot_weight_rows_table(std::index_sequence<W...>) {
    return std::array{&dot_weight_rows_of<L, static_cast<int>(W) + 1, BK>...};
}

// The block width dot_tile is specialised for, as f(std::integral_constant<int, BK>): 32 for FP4
// rows with V4's scales (one step per block), 128 for DeepSeek's FP8 scale blocks over whole rows (a
// whole number of 32-weight steps), else 0 (any width, a run-time trip count).
template <class L, class F>
MNEME_AVX512 void with_block_width(int64_t len, int64_t block_k, F&& f) {
    if constexpr (std::is_same_v<L, load_e2m1>) {
        if (block_k == 32) return f(std::integral_constant<int, 32>{});
    }
    if (block_k == 128 && len % 128 == 0) return f(std::integral_constant<int, 128>{});
    f(std::integral_constant<int, 0>{});
}

// dot_weight_rows_of for 1-4 weight rows.
template <class L>
MNEME_AVX512 void dot_weight_rows_any(const float* x, const uint8_t* const* row, int64_t count, int64_t len,
                                      const float* const* scales, int64_t block_k, float* out) {
    with_block_width<L>(len, block_k, [&](auto bk) {
        static constexpr auto by_count = dot_weight_rows_table<L, decltype(bk)::value>(std::make_index_sequence<4>{});
        by_count[static_cast<std::size_t>(count - 1)](x, row, len, scales, block_k, out);
    });
}

// dot_rows for 1-8 activation rows, by row count. 8 rows: 24 accumulators of 32 registers;
// prefill's small MoE products (5-16 tokens per expert) decode each weight once per 8 rows
// instead of once per 4. Callers pass 1 <= rows <= 8.
template <class L, int BK, std::size_t... R>
constexpr auto dot_rows_table(std::index_sequence<R...>) {
    return std::array{&dot_rows<L, static_cast<int>(R) + 1, BK>...};
}

template <class L, int BK>
MNEME_AVX512 void dot_any_rows_of(const float* x, int64_t xs, int64_t rows, const uint8_t* row, int64_t len,
                                  const float* scales, int64_t block_k, float* out) {
    static constexpr auto by_rows = dot_rows_table<L, BK>(std::make_index_sequence<8>{});
    by_rows[static_cast<std::size_t>(rows - 1)](x, xs, row, len, scales, block_k, out);
}

template <class L>
MNEME_AVX512 void dot_any_rows(const float* x, int64_t xs, int64_t rows, const uint8_t* row, int64_t len,
                               const float* scales, int64_t block_k, float* out) {
    with_block_width<L>(len, block_k, [&](auto bk) {
        dot_any_rows_of<L, decltype(bk)::value>(x, xs, rows, row, len, scales, block_k, out);
    });
}

MNEME_AVX512 bool dot(weight_format fmt, const float* x, int64_t x_stride, int64_t rows, const uint8_t* row,
                      int64_t len, const float* scales, int64_t block_k, float* out, bool codes_checked) {
    if (rows < 1 || rows > 8 || block_k < 1) return false;
    switch (fmt) {
        case weight_format::e4m3:
            if (!codes_checked && has_e4m3_nan(row, len)) return false;
            dot_any_rows<load_e4m3>(x, x_stride, rows, row, len, scales, block_k, out);
            return true;
        case weight_format::bf16:
            dot_any_rows<load_bf16>(x, x_stride, rows, row, len, scales, block_k, out);
            return true;
        case weight_format::e2m1:
            if (len % 32 != 0 || block_k % 32 != 0) return false;
            dot_any_rows<load_e2m1>(x, x_stride, rows, row, len, scales, block_k, out);
            return true;
        default:
            return false;
    }
}

MNEME_AVX512 bool dot_e4m3_wide(const float* x_wide, int64_t x_stride, int64_t rows, const uint8_t* row, int64_t len,
                                const float* scales, int64_t block_k, float* out, bool codes_checked) {
    if (rows < 1 || rows > 8 || block_k < 1 || (!codes_checked && has_e4m3_nan(row, len))) return false;
    dot_any_rows<load_e4m3_wide>(x_wide, x_stride, rows, row, len, scales, block_k, out);
    return true;
}

MNEME_AVX512 bool dot_weight_rows(weight_format fmt, bool wide, const float* x, const uint8_t* const* row,
                                  int64_t count, int64_t len, const float* const* scales, int64_t block_k, float* out,
                                  bool codes_checked) {
    if (count < 1 || count > 4 || block_k < 1) return false;
    switch (fmt) {
        case weight_format::e4m3:
            if (!codes_checked) {
                for (int64_t j = 0; j < count; ++j) {
                    if (has_e4m3_nan(row[j], len)) return false;
                }
            }
            if (wide) {
                dot_weight_rows_any<load_e4m3_wide>(x, row, count, len, scales, block_k, out);
            } else {
                dot_weight_rows_any<load_e4m3>(x, row, count, len, scales, block_k, out);
            }
            return true;
        case weight_format::bf16:
            if (wide) return false;
            dot_weight_rows_any<load_bf16>(x, row, count, len, scales, block_k, out);
            return true;
        case weight_format::e2m1:
            if (wide || len % 32 != 0 || block_k % 32 != 0) return false;
            dot_weight_rows_any<load_e2m1>(x, row, count, len, scales, block_k, out);
            return true;
        default:
            return false;
    }
}

// dot_row_streams' rounds over W streams (see kernel_table::dot_row_streams), each round one call
// of Tile::run on the streams' next rows; scale_step floats between a stream's consecutive rows'
// scales (0: one scale row for all).
template <class Tile, class X, int W>
MNEME_AVX512 inline __attribute__((always_inline)) void walk_row_streams(const X* x, const row_stream* s, int64_t count,
                                                                         int64_t row_bytes, int64_t scale_step,
                                                                         int64_t prefetch_rows, int64_t len,
                                                                         int64_t block_k, float alpha) {
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
        Tile::run(x, rows, len, scales, block_k, out);
#pragma GCC unroll 4
        for (int j = 0; j < W; ++j) s[j].out[i] = alpha == 1.0f ? out[j] : out[j] * alpha;
    }
}

template <class L, int W, int BK>
struct float_tile {
    MNEME_AVX512 static void run(const float* x, const uint8_t* const* rows, int64_t len, const float* const* scales,
                                 int64_t block_k, float* out) {
        dot_tile<L, 1, W, BK>(x, 0, rows, len, scales, block_k, out);
    }
};

template <class L, int W, int BK>
MNEME_AVX512 void row_streams_of(const float* x, const row_stream* s, int64_t count, int64_t row_bytes,
                                 int64_t scale_step, int64_t prefetch_rows, int64_t len, int64_t block_k, float alpha) {
    walk_row_streams<float_tile<L, W, BK>, float, W>(x, s, count, row_bytes, scale_step, prefetch_rows, len, block_k,
                                                     alpha);
}

template <class L, int BK, std::size_t... W>
constexpr auto row_streams_table(std::index_sequence<W...>) {
    return std::array{&row_streams_of<L, static_cast<int>(W) + 1, BK>...};
}

template <class L>
MNEME_AVX512 void row_streams_any(const float* x, const row_stream* s, int n_streams, int64_t count, int64_t row_bytes,
                                  int64_t scale_step, int64_t prefetch_rows, int64_t len, int64_t block_k,
                                  float alpha) {
    with_block_width<L>(len, block_k, [&](auto bk) {
        static constexpr auto by_count = row_streams_table<L, decltype(bk)::value>(std::make_index_sequence<4>{});
        by_count[static_cast<std::size_t>(n_streams - 1)](x, s, count, row_bytes, scale_step, prefetch_rows, len,
                                                          block_k, alpha);
    });
}

MNEME_AVX512 bool dot_row_streams(weight_format fmt, bool wide, const float* x, const row_stream* streams,
                                  int n_streams, int64_t count, int64_t row_bytes, int64_t scale_step,
                                  int64_t prefetch_rows, int64_t len, int64_t block_k, float alpha) {
    if (n_streams < 1 || n_streams > 4 || block_k < 1 || count < 0) return false;
    const auto run = [&](auto load) {
        using L = decltype(load);
        row_streams_any<L>(x, streams, n_streams, count, row_bytes, scale_step, prefetch_rows, len, block_k, alpha);
        return true;
    };
    switch (fmt) {
        case weight_format::e4m3:
            return wide ? run(load_e4m3_wide{}) : run(load_e4m3{});
        case weight_format::bf16:
            return !wide && run(load_bf16{});
        case weight_format::e2m1:
            return !wide && len % 32 == 0 && block_k % 32 == 0 && run(load_e2m1{});
        default:
            return false;
    }
}

// FP4 rows against activations that are bf16 values exactly (V4's routed experts take FP8-rounded
// activations, e4m3 codes times a power of two: 4 significant bits and float32's exponent range),
// with vdpbf16ps: each product of a bf16 activation and an e2m1 weight (2 significant bits) is
// exact, and two of them are summed per lane and instruction, where the float32 kernel needs a
// widening, two lookups and two multiply-adds per 32 weights. A step takes 128 weights (64 code
// bytes, four blocks of 32) and keeps each 128-bit lane within one block: the bytes are widened to
// 16-bit lanes by interleaving them with zeros (vpunpcklbw takes bytes 0-7 of each 128-bit lane,
// vpunpckhbw bytes 8-15), so a lane's words, and the vdpbf16ps sums made of them, all belong to the
// block of its 16 code bytes. The low nibbles are looked up as they are (vpermw reads an index's
// low 5 bits, so the table is written twice and the high nibble's low bit in bit 4 picks the same
// value), the high nibbles after one shift; the activations are laid out to match
// (e2m1_bf16_layout). The step's four sums go into one vector whose lanes hold four blocks, scaled
// by one multiply-add against the four blocks' scales; steps of 64 weights with two blocks a
// vector took a multiply-add, two broadcasts and a blend per 64 weights. One-row 512 x 1024
// products, 4 weight rows a call, warm (Zen 5): 11.2 us in float32, 9.6 with 64-weight steps; a
// V4 decode step's 18 expert products, warm, one thread: 224-237 -> 215-229 us. (Looking the
// bytes up with vpshufb, two tables for a bf16's two bytes, took more operations and was slower.)
#define MNEME_AVX512_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,avx2,fma,f16c")))

constexpr uint16_t bf16_bits(float v) {
    return static_cast<uint16_t>(std::bit_cast<uint32_t>(v) >> 16);
}
alignas(64) constexpr std::array<uint16_t, 32> k_e2m1_bf16_twice = [] {
    std::array<uint16_t, 32> t{};
    for (std::size_t i = 0; i < 32; ++i) t[i] = bf16_bits(k_e2m1_values[i % 16]);
    return t;
}();

// Every (r, j) pair keeps its own accumulator and sums in the same order whatever R and W are, as
// in dot_tile.
template <int R, int W, int BK>
MNEME_AVX512_BF16 void dot_tile_e2m1_bf16(const uint16_t* x, int64_t xs, const uint8_t* const* row, int64_t len,
                                          const float* const* scales, int64_t block_k, float* out) {
    const __m512i table = _mm512_load_si512(k_e2m1_bf16_twice.data());
    const __m512i zero = _mm512_setzero_si512();
    const __m512i spread = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    const int64_t blocks_per_scale = BK == 32 ? 1 : block_k / 32;
    __m512 acc[W][R];
#pragma GCC unroll 4
    for (int j = 0; j < W; ++j) {
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) acc[j][r] = _mm512_setzero_ps();
    }
    // The step at k of `blocks` (1-4) blocks of 32: the activations' four vectors of 8 * blocks
    // words each (masked to them), the codes' 16 * blocks bytes (zero beyond: +0 weights).
    const auto step = [&](int64_t k, int64_t blocks) MNEME_AVX512_BF16 {
        const int64_t words = 8 * blocks;
        const __mmask32 xm = blocks == 4 ? ~__mmask32{0} : static_cast<__mmask32>((1u << words) - 1u);
        const __mmask64 cm = blocks == 4 ? ~__mmask64{0} : (__mmask64{1} << (16 * blocks)) - 1u;
#pragma GCC unroll 4
        for (int j = 0; j < W; ++j) {
            const __m512i codes = _mm512_maskz_loadu_epi8(cm, row[j] + k / 2);
            const __m512i a = _mm512_unpacklo_epi8(codes, zero), b = _mm512_unpackhi_epi8(codes, zero);
            const __m512bh w[4] = {
                reinterpret_cast<__m512bh>(_mm512_permutexvar_epi16(a, table)),
                reinterpret_cast<__m512bh>(_mm512_permutexvar_epi16(_mm512_srli_epi16(a, 4), table)),
                reinterpret_cast<__m512bh>(_mm512_permutexvar_epi16(b, table)),
                reinterpret_cast<__m512bh>(_mm512_permutexvar_epi16(_mm512_srli_epi16(b, 4), table))};
            __m128 s4;
            if constexpr (BK == 32) {
                s4 = _mm_maskz_loadu_ps(static_cast<__mmask8>((1u << blocks) - 1u), scales[j] + k / 32);
            } else {
                float s[4] = {0.0f, 0.0f, 0.0f, 0.0f};
                for (int64_t i = 0; i < blocks; ++i) s[i] = scales[j][(k / 32 + i) / blocks_per_scale];
                s4 = _mm_loadu_ps(s);
            }
            const __m512 s = _mm512_permutexvar_ps(spread, _mm512_castps128_ps512(s4));
#pragma GCC unroll 8
            for (int r = 0; r < R; ++r) {
                const uint16_t* xr = x + r * xs + k;
                __m512 t = _mm512_setzero_ps();
#pragma GCC unroll 4
                for (int v = 0; v < 4; ++v) {
                    t = _mm512_dpbf16_ps(t, w[v],
                                         reinterpret_cast<__m512bh>(_mm512_maskz_loadu_epi16(xm, xr + v * words)));
                }
                acc[j][r] = _mm512_fmadd_ps(t, s, acc[j][r]);
            }
        }
    };
    int64_t k = 0;
    for (; k + 128 <= len; k += 128) step(k, 4);
    if (k < len) step(k, (len - k) / 32);
#pragma GCC unroll 4
    for (int j = 0; j < W; ++j) {
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) out[j * R + r] = _mm512_reduce_add_ps(acc[j][r]);
    }
}

// The tiles for 1..N activation rows against one weight row (ByRows) or one activation row against
// 1..N weight rows, by count; BK as dot_tile_e2m1_bf16 takes it.
template <bool ByRows, int BK, std::size_t... I>
constexpr auto e2m1_bf16_tiles(std::index_sequence<I...>) {
    return std::array{&dot_tile_e2m1_bf16 < ByRows ? static_cast<int>(I) + 1 : 1, ByRows ? 1 : static_cast<int>(I) + 1,
                      BK > ...};
}

// The tile for `count` rows at the block width: 32 (V4's FP4 scales, one block per step) or any
// multiple of 32 (a run-time block count). Callers pass 1 <= count <= N.
template <bool ByRows, std::size_t N>
MNEME_AVX512_BF16 void dot_e2m1_bf16_tile_any(int64_t count, const uint16_t* x, int64_t xs, const uint8_t* const* row,
                                              int64_t len, const float* const* scales, int64_t block_k, float* out) {
    const auto run = [&](auto bk) MNEME_AVX512_BF16 {
        static constexpr auto by_count = e2m1_bf16_tiles<ByRows, decltype(bk)::value>(std::make_index_sequence<N>{});
        by_count[static_cast<std::size_t>(count - 1)](x, xs, row, len, scales, block_k, out);
    };
    if (block_k == 32) {
        run(std::integral_constant<int, 32>{});
    } else {
        run(std::integral_constant<int, 0>{});
    }
}

MNEME_AVX512_BF16 bool dot_e2m1_bf16(const uint16_t* x, int64_t x_stride, int64_t rows, const uint8_t* row, int64_t len,
                                     const float* scales, int64_t block_k, float* out) {
    if (rows < 1 || rows > 8 || block_k < 1 || len % 32 != 0 || block_k % 32 != 0) return false;
    dot_e2m1_bf16_tile_any<true, 8>(rows, x, x_stride, &row, len, &scales, block_k, out);
    return true;
}

MNEME_AVX512_BF16 bool dot_weight_rows_e2m1_bf16(const uint16_t* x, const uint8_t* const* row, int64_t count,
                                                 int64_t len, const float* const* scales, int64_t block_k, float* out) {
    if (count < 1 || count > 4 || block_k < 1 || len % 32 != 0 || block_k % 32 != 0) return false;
    dot_e2m1_bf16_tile_any<false, 4>(count, x, 0, row, len, scales, block_k, out);
    return true;
}

template <int W, int BK>
struct e2m1_bf16_tile {
    MNEME_AVX512_BF16 static void run(const uint16_t* x, const uint8_t* const* rows, int64_t len,
                                      const float* const* scales, int64_t block_k, float* out) {
        dot_tile_e2m1_bf16<1, W, BK>(x, 0, rows, len, scales, block_k, out);
    }
};

template <int W, int BK>
MNEME_AVX512_BF16 void row_streams_e2m1_bf16_of(const uint16_t* x, const row_stream* s, int64_t count,
                                                int64_t row_bytes, int64_t scale_step, int64_t prefetch_rows,
                                                int64_t len, int64_t block_k, float alpha) {
    walk_row_streams<e2m1_bf16_tile<W, BK>, uint16_t, W>(x, s, count, row_bytes, scale_step, prefetch_rows, len,
                                                         block_k, alpha);
}

template <int BK, std::size_t... W>
constexpr auto row_streams_e2m1_bf16_table(std::index_sequence<W...>) {
    return std::array{&row_streams_e2m1_bf16_of<static_cast<int>(W) + 1, BK>...};
}

MNEME_AVX512_BF16 bool dot_row_streams_e2m1_bf16(const uint16_t* x, const row_stream* streams, int n_streams,
                                                 int64_t count, int64_t row_bytes, int64_t scale_step,
                                                 int64_t prefetch_rows, int64_t len, int64_t block_k, float alpha) {
    if (n_streams < 1 || n_streams > 4 || count < 0 || block_k < 1 || len % 32 != 0 || block_k % 32 != 0) {
        return false;
    }
    const auto run = [&](auto bk) MNEME_AVX512_BF16 {
        static constexpr auto by_count =
            row_streams_e2m1_bf16_table<decltype(bk)::value>(std::make_index_sequence<4>{});
        by_count[static_cast<std::size_t>(n_streams - 1)](x, streams, count, row_bytes, scale_step, prefetch_rows, len,
                                                          block_k, alpha);
    };
    if (block_k == 32) {
        run(std::integral_constant<int, 32>{});
    } else {
        run(std::integral_constant<int, 0>{});
    }
    return true;
}

// FP8 rows against bf16-exact activations (bf16_act_kernels): V3.2's and V4's FP8-weight linears
// take FP8-rounded inputs. A step takes 64 code bytes, all in one scale block (blocks are whole
// steps). Each code's bf16 is looked up as two bytes, its low 7 bits indexing two 128-entry tables
// with vpermt2b (which reads 7 index bits, so the sign bit is ignored there and put back by one
// vpternlogd), and the bytes interleaved into words by vpunpcklbw/vpunpckhbw, which take bytes
// 0-7 and 8-15 of each 128-bit lane: the activations are laid out to match (e4m3_bf16_layout).
// The float32 kernel widens, converts and multiply-adds 16 codes at a time; here 64 codes take
// two lookups, a merge, two interleaves and two vdpbf16ps per activation row. A V3-shaped decode
// step's 8 routed experts (24 one-row products of 512 KiB), warm, 2 threads (Zen 4): 215-219 us
// against 297-310 for the float32 kernel (mneme-kernel-bench's v3moe).
// (vpermt2b is AVX512-VBMI's, which some AVX512-BF16 cores lack: Cooper Lake.)
#define MNEME_AVX512_BF16_VBMI __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,avx512vbmi,avx2,fma,f16c")))

constexpr float e4m3_value(unsigned code) {
    const unsigned e = (code >> 3) & 15u, m = code & 7u;
    if (e == 0) return static_cast<float>(m) / 512.0f;  // subnormal: m * 2^-9
    float v = static_cast<float>(8u + m) / 8.0f;        // 1.m * 2^(e - 7)
    for (unsigned i = 7; i < e; ++i) v *= 2.0f;
    for (unsigned i = e; i < 7; ++i) v /= 2.0f;
    return v;
}
static_assert(e4m3_value(0x7e) == 448.0f && e4m3_value(0x38) == 1.0f && e4m3_value(0x08) == 0x1p-6f &&
              e4m3_value(0x07) == 7.0f / 512.0f);
// The bf16 bits of codes 0-127 (NaN, code 127, never read: rows with it take the float32 path),
// split into their high and low bytes.
alignas(64) constexpr std::array<uint8_t, 128> k_e4m3_bf16_high = [] {
    std::array<uint8_t, 128> t{};
    for (unsigned c = 0; c < 127; ++c) t[c] = static_cast<uint8_t>(bf16_bits(e4m3_value(c)) >> 8);
    return t;
}();
alignas(64) constexpr std::array<uint8_t, 128> k_e4m3_bf16_low = [] {
    std::array<uint8_t, 128> t{};
    for (unsigned c = 0; c < 127; ++c) t[c] = static_cast<uint8_t>(bf16_bits(e4m3_value(c)) & 0xffu);
    return t;
}();

// Every (r, j) pair keeps its own accumulator and sums in the same order whatever R and W are, as
// in dot_tile: per block, the steps' vdpbf16ps sums from zero, then one multiply-add by the block's
// scale. BK: the block width when fixed (128, DeepSeek's), or 0 for block_k's.
template <int R, int W, int BK>
MNEME_AVX512_BF16_VBMI void dot_tile_e4m3_bf16(const uint16_t* x, int64_t xs, const uint8_t* const* row, int64_t len,
                                               const float* const* scales, int64_t block_k, float* out) {
    const __m512i high_a = _mm512_load_si512(k_e4m3_bf16_high.data());
    const __m512i high_b = _mm512_load_si512(k_e4m3_bf16_high.data() + 64);
    const __m512i low_a = _mm512_load_si512(k_e4m3_bf16_low.data());
    const __m512i low_b = _mm512_load_si512(k_e4m3_bf16_low.data() + 64);
    const __m512i sign = _mm512_set1_epi8(static_cast<char>(0x80));
    const int64_t bk = BK != 0 ? BK : block_k;
    __m512 acc[W][R];
#pragma GCC unroll 4
    for (int j = 0; j < W; ++j) {
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) acc[j][r] = _mm512_setzero_ps();
    }
    for (int64_t k0 = 0, b = 0; k0 < len; k0 += bk, ++b) {
        const int64_t k1 = std::min(len, k0 + bk);
        __m512 t[W][R];
#pragma GCC unroll 4
        for (int j = 0; j < W; ++j) {
#pragma GCC unroll 8
            for (int r = 0; r < R; ++r) t[j][r] = _mm512_setzero_ps();
        }
        for (int64_t k = k0; k < k1; k += 64) {
#pragma GCC unroll 4
            for (int j = 0; j < W; ++j) {
                const __m512i codes = _mm512_loadu_si512(row[j] + k);
                // high | (codes & 0x80): the sign bit back into the high byte.
                const __m512i high =
                    _mm512_ternarylogic_epi32(_mm512_permutex2var_epi8(high_a, codes, high_b), codes, sign, 0xf8);
                const __m512i low = _mm512_permutex2var_epi8(low_a, codes, low_b);
                const auto w0 = reinterpret_cast<__m512bh>(_mm512_unpacklo_epi8(low, high));
                const auto w1 = reinterpret_cast<__m512bh>(_mm512_unpackhi_epi8(low, high));
#pragma GCC unroll 8
                for (int r = 0; r < R; ++r) {
                    const uint16_t* xr = x + r * xs + k;
                    t[j][r] = _mm512_dpbf16_ps(t[j][r], w0, reinterpret_cast<__m512bh>(_mm512_loadu_si512(xr)));
                    t[j][r] = _mm512_dpbf16_ps(t[j][r], w1, reinterpret_cast<__m512bh>(_mm512_loadu_si512(xr + 32)));
                }
            }
        }
#pragma GCC unroll 4
        for (int j = 0; j < W; ++j) {
            const __m512 s = _mm512_set1_ps(scales[j][b]);
#pragma GCC unroll 8
            for (int r = 0; r < R; ++r) acc[j][r] = _mm512_fmadd_ps(t[j][r], s, acc[j][r]);
        }
    }
#pragma GCC unroll 4
    for (int j = 0; j < W; ++j) {
#pragma GCC unroll 8
        for (int r = 0; r < R; ++r) out[j * R + r] = _mm512_reduce_add_ps(acc[j][r]);
    }
}

// dot_tile_e4m3_bf16 for 1..N activation rows against one weight row (ByRows) or one activation
// row against 1..N weight rows, by count, at DeepSeek's 128-wide blocks or any multiple of 64.
template <bool ByRows, int BK, std::size_t... I>
constexpr auto e4m3_bf16_tiles(std::index_sequence<I...>) {
    return std::array{&dot_tile_e4m3_bf16 < ByRows ? static_cast<int>(I) + 1 : 1, ByRows ? 1 : static_cast<int>(I) + 1,
                      BK > ...};
}
template <bool ByRows, std::size_t N>
MNEME_AVX512_BF16_VBMI void dot_e4m3_bf16_tile_any(int64_t count, const uint16_t* x, int64_t xs,
                                                   const uint8_t* const* row, int64_t len, const float* const* scales,
                                                   int64_t block_k, float* out) {
    const auto run = [&](auto bk) MNEME_AVX512_BF16_VBMI {
        static constexpr auto by_count = e4m3_bf16_tiles<ByRows, decltype(bk)::value>(std::make_index_sequence<N>{});
        by_count[static_cast<std::size_t>(count - 1)](x, xs, row, len, scales, block_k, out);
    };
    if (block_k == 128) {
        run(std::integral_constant<int, 128>{});
    } else {
        run(std::integral_constant<int, 0>{});
    }
}

bool e4m3_bf16_shape(int64_t len, int64_t block_k) {
    return len > 0 && len % 64 == 0 && block_k > 0 && block_k % 64 == 0;
}

MNEME_AVX512_BF16_VBMI bool dot_e4m3_bf16(const uint16_t* x, int64_t x_stride, int64_t rows, const uint8_t* row,
                                          int64_t len, const float* scales, int64_t block_k, float* out) {
    if (rows < 1 || rows > 8 || !e4m3_bf16_shape(len, block_k)) return false;
    dot_e4m3_bf16_tile_any<true, 8>(rows, x, x_stride, &row, len, &scales, block_k, out);
    return true;
}

MNEME_AVX512_BF16_VBMI bool dot_weight_rows_e4m3_bf16(const uint16_t* x, const uint8_t* const* row, int64_t count,
                                                      int64_t len, const float* const* scales, int64_t block_k,
                                                      float* out) {
    if (count < 1 || count > 4 || !e4m3_bf16_shape(len, block_k)) return false;
    dot_e4m3_bf16_tile_any<false, 4>(count, x, 0, row, len, scales, block_k, out);
    return true;
}

template <int W, int BK>
struct e4m3_bf16_tile {
    MNEME_AVX512_BF16_VBMI static void run(const uint16_t* x, const uint8_t* const* rows, int64_t len,
                                           const float* const* scales, int64_t block_k, float* out) {
        dot_tile_e4m3_bf16<1, W, BK>(x, 0, rows, len, scales, block_k, out);
    }
};

template <int W, int BK>
MNEME_AVX512_BF16_VBMI void row_streams_e4m3_bf16_of(const uint16_t* x, const row_stream* s, int64_t count,
                                                     int64_t row_bytes, int64_t scale_step, int64_t prefetch_rows,
                                                     int64_t len, int64_t block_k, float alpha) {
    walk_row_streams<e4m3_bf16_tile<W, BK>, uint16_t, W>(x, s, count, row_bytes, scale_step, prefetch_rows, len,
                                                         block_k, alpha);
}

template <int BK, std::size_t... W>
constexpr auto row_streams_e4m3_bf16_table(std::index_sequence<W...>) {
    return std::array{&row_streams_e4m3_bf16_of<static_cast<int>(W) + 1, BK>...};
}

MNEME_AVX512_BF16_VBMI bool dot_row_streams_e4m3_bf16(const uint16_t* x, const row_stream* streams, int n_streams,
                                                      int64_t count, int64_t row_bytes, int64_t scale_step,
                                                      int64_t prefetch_rows, int64_t len, int64_t block_k,
                                                      float alpha) {
    if (n_streams < 1 || n_streams > 4 || count < 0 || !e4m3_bf16_shape(len, block_k)) return false;
    const auto run = [&](auto bk) MNEME_AVX512_BF16_VBMI {
        static constexpr auto by_count =
            row_streams_e4m3_bf16_table<decltype(bk)::value>(std::make_index_sequence<4>{});
        by_count[static_cast<std::size_t>(n_streams - 1)](x, streams, count, row_bytes, scale_step, prefetch_rows, len,
                                                          block_k, alpha);
    };
    if (block_k == 128) {
        run(std::integral_constant<int, 128>{});
    } else {
        run(std::integral_constant<int, 0>{});
    }
    return true;
}

// A step's 64 floats, given as vectors f0-f3, to bf16 words in dot_tile_e4m3_bf16's order: word
// 8L + i of its first vector is element 16L + i, of its second element 16L + 8 + i. A pair of
// float vectors (a, b) gives a's elements 0-7 and b's 0-7, then a's 8-15 and b's 8-15.
alignas(64) constexpr std::array<uint16_t, 32> k_e4m3_bf16_pick = [] {
    std::array<uint16_t, 32> p{};
    for (std::size_t i = 0; i < 8; ++i) {
        p[i] = static_cast<uint16_t>(2 * i + 1);  // word 2e + 1 is element e's high half
        p[8 + i] = static_cast<uint16_t>(32 + 2 * i + 1);
        p[16 + i] = static_cast<uint16_t>(2 * (8 + i) + 1);
        p[24 + i] = static_cast<uint16_t>(32 + 2 * (8 + i) + 1);
    }
    return p;
}();

// dot_e4m3_bf16's activations as bf16, 64 elements a step (len a multiple of 64). True when every
// element is a bf16 value exactly and none is subnormal; when false, out is partly written.
MNEME_AVX512_BF16_VBMI bool e4m3_bf16_layout(const float* x, int64_t len, uint16_t* out) {
    if (len <= 0 || len % 64 != 0) return false;
    const __m512i pick = _mm512_load_si512(k_e4m3_bf16_pick.data());
    const __m512i low = _mm512_set1_epi32(0xffff), exponent = _mm512_set1_epi32(0x7f800000);
    const __m512i magnitude = _mm512_set1_epi32(0x7fffffff);
    __mmask16 inexact = 0;
    for (int64_t k = 0; k < len && inexact == 0; k += 64) {
        __m512i f[4];
        for (int q = 0; q < 4; ++q) {
            f[q] = _mm512_loadu_si512(x + k + 16 * q);
            inexact |= _mm512_test_epi32_mask(f[q], low);
            inexact |= _mm512_mask_test_epi32_mask(_mm512_testn_epi32_mask(f[q], exponent), f[q], magnitude);
        }
        const __m512i p01 = _mm512_permutex2var_epi16(f[0], pick, f[1]);
        const __m512i p23 = _mm512_permutex2var_epi16(f[2], pick, f[3]);
        uint16_t* o = out + k;
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(o), _mm512_castsi512_si256(p01));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + 16), _mm512_castsi512_si256(p23));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + 32), _mm512_extracti64x4_epi64(p01, 1));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(o + 48), _mm512_extracti64x4_epi64(p23, 1));
    }
    return inexact == 0;
}

// A block's 32 floats, given as two vectors a and b, to bf16 words (the high word of each float) in
// e2m1_bf16_layout's order: a's even elements, its odd ones, then b's.
alignas(64) constexpr std::array<uint16_t, 32> k_e2m1_bf16_pick = [] {
    std::array<uint16_t, 32> p{};
    for (std::size_t i = 0; i < 8; ++i) {
        p[i] = static_cast<uint16_t>(4 * i + 1);  // word 2e + 1 is element e's high half
        p[8 + i] = static_cast<uint16_t>(4 * i + 3);
        p[16 + i] = static_cast<uint16_t>(32 + 4 * i + 1);
        p[24 + i] = static_cast<uint16_t>(32 + 4 * i + 3);
    }
    return p;
}();

// dot_e2m1_bf16's activations as bf16, per step of 128 elements (a last step of 32, 64 or 96:
// `blocks` blocks of 32) four vectors of 8 * blocks words, the order of dot_tile_e2m1_bf16's
// weights: vector 2h + n, word 8L + i is element 32L + 16h + 2i + n of the step (block L's half h,
// its even (n = 0) or odd elements). True when every element is a bf16 value exactly and none is
// subnormal (vdpbf16ps reads subnormal inputs as zero); when false, out is partly written.
MNEME_AVX512_BF16 bool e2m1_bf16_layout(const float* x, int64_t len, uint16_t* out) {
    const __m512i pick = _mm512_load_si512(k_e2m1_bf16_pick.data());
    const __m512i low = _mm512_set1_epi32(0xffff), exponent = _mm512_set1_epi32(0x7f800000);
    const __m512i magnitude = _mm512_set1_epi32(0x7fffffff);
    __mmask16 inexact = 0;
    // Stops at the first step that is not: a float32 product (act-quant off) then pays for a step
    // per row, not a whole layout it does not use.
    for (int64_t k = 0; k < len && inexact == 0; k += 128) {
        const int64_t blocks = std::min<int64_t>(4, (len - k) / 32), words = 8 * blocks;
        for (int64_t l = 0; l < blocks; ++l) {
            const __m512i a = _mm512_loadu_si512(x + k + 32 * l), b = _mm512_loadu_si512(x + k + 32 * l + 16);
            for (const __m512i v : {a, b}) {
                inexact |= _mm512_test_epi32_mask(v, low);
                inexact |= _mm512_mask_test_epi32_mask(_mm512_testn_epi32_mask(v, exponent), v, magnitude);
            }
            const __m512i parts = _mm512_permutex2var_epi16(a, pick, b);
            uint16_t* o = out + k + 8 * l;
            _mm_storeu_si128(reinterpret_cast<__m128i*>(o), _mm512_castsi512_si128(parts));
            _mm_storeu_si128(reinterpret_cast<__m128i*>(o + words), _mm512_extracti32x4_epi32(parts, 1));
            _mm_storeu_si128(reinterpret_cast<__m128i*>(o + 2 * words), _mm512_extracti32x4_epi32(parts, 2));
            _mm_storeu_si128(reinterpret_cast<__m128i*>(o + 3 * words), _mm512_extracti32x4_epi32(parts, 3));
        }
    }
    return inexact == 0;
}

// order_key 16 scores at a time, and the last position that is not -inf from the masks.
MNEME_AVX512 int64_t order_keys(const float* x, int64_t n, uint32_t* keys) {
    const __m512i sign = _mm512_set1_epi32(static_cast<int>(0x80000000u)), abs = _mm512_set1_epi32(0x7fffffff);
    const __m512i inf = _mm512_set1_epi32(0x7f800000), neg_inf_key = _mm512_set1_epi32(0x007fffff);
    int64_t live = 0;
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = first_lanes(n - i);
        __m512i b = _mm512_castps_si512(_mm512_maskz_loadu_ps(m, x + i));
        const __m512i mag = _mm512_and_si512(b, abs);
        b = _mm512_maskz_mov_epi32(_mm512_test_epi32_mask(mag, mag), b);  // -0 as +0
        const __mmask16 negative = _mm512_test_epi32_mask(b, sign);
        __m512i key = _mm512_mask_xor_epi32(_mm512_or_si512(b, sign), negative, b, _mm512_set1_epi32(-1));
        key = _mm512_maskz_mov_epi32(_mm512_cmple_epu32_mask(mag, inf), key);  // NaN -> 0
        _mm512_mask_storeu_epi32(keys + i, m, key);
        const auto not_neg_inf = static_cast<uint32_t>(_mm512_mask_cmpneq_epu32_mask(m, key, neg_inf_key));
        if (not_neg_inf) live = i + 32 - __builtin_clz(not_neg_inf);
    }
    return live;
}

// The scalar quant_block_e4m3's steps on 16 lanes: the same float32 operations and bit rounding.
MNEME_AVX512 bool quant_block_e4m3(const float* x, int64_t n, float* y) {
    __m512 amax = _mm512_setzero_ps();
    __mmask16 bad = 0;
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = first_lanes(n - i);
        const __m512 a = _mm512_abs_ps(_mm512_maskz_loadu_ps(m, x + i));
        bad |= _mm512_cmp_ps_mask(a, _mm512_set1_ps(0x1p100f), _CMP_NLE_UQ);  // NaN, infinity, huge
        amax = _mm512_max_ps(amax, a);
    }
    if (bad) return false;
    const float t = std::max(_mm512_reduce_max_ps(amax), 1e-4f) * (1.0f / 448.0f);
    uint32_t tb;
    std::memcpy(&tb, &t, 4);
    const int e = static_cast<int>((tb >> 23) & 0xffu) - 127 + ((tb & 0x7fffffu) ? 1 : 0);
    const __m512 s = _mm512_castsi512_ps(_mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(e + 127) << 23)));
    const __m512 inv = _mm512_castsi512_ps(_mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(127 - e) << 23)));
    const __m512i sign = _mm512_set1_epi32(static_cast<int>(0x80000000u));
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = first_lanes(n - i);
        const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), inv);
        const __m512 a = _mm512_min_ps(_mm512_abs_ps(v), _mm512_set1_ps(448.0f));
        const __m512 sub = _mm512_sub_ps(_mm512_add_ps(a, _mm512_set1_ps(16384.0f)), _mm512_set1_ps(16384.0f));
        __m512i b = _mm512_castps_si512(a);
        b = _mm512_add_epi32(b, _mm512_add_epi32(_mm512_set1_epi32(0x7ffff),
                                                 _mm512_and_si512(_mm512_srli_epi32(b, 20), _mm512_set1_epi32(1))));
        b = _mm512_and_si512(b, _mm512_set1_epi32(static_cast<int>(~0xfffffu)));
        const __m512 r =
            _mm512_mask_mov_ps(_mm512_castsi512_ps(b), _mm512_cmp_ps_mask(a, _mm512_set1_ps(0x1p-6f), _CMP_LT_OQ), sub);
        const __m512 signed_r = _mm512_castsi512_ps(
            _mm512_or_si512(_mm512_castps_si512(r), _mm512_and_si512(_mm512_castps_si512(v), sign)));
        _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(signed_r, s));
    }
    return true;
}

MNEME_AVX512 void add_scaled(const float* x, float w, int64_t n, float* y) {
    const __m512 c = _mm512_set1_ps(w);
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = first_lanes(n - i);
        const __m512 p = _mm512_mul_ps(c, _mm512_maskz_loadu_ps(m, x + i));
        _mm512_mask_storeu_ps(y + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, y + i), p));
    }
}

// exp(x) to within 2 ulp: 2^n · e^r with n = round(x / ln 2) and r = x - n · ln 2 (ln 2 in two
// parts, the first exact times any n here), e^r by its Taylor polynomial to r^7 (|r| <= ln 2 / 2:
// the next term is below 6e-9), 2^n applied by scalef, which rounds into the subnormals and
// saturates to 0 and infinity. Clamped to [-110, 128] beforehand, beyond which exp is 0 or
// infinity in float32 anyway; NaN passes through the clamps (a second operand) and stays NaN.
MNEME_AVX512 inline __m512 exp16(__m512 x) {
    x = _mm512_min_ps(_mm512_set1_ps(128.0f), _mm512_max_ps(_mm512_set1_ps(-110.0f), x));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.42860682030941723e-6f), r);
    __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

MNEME_AVX512 float scaled_exp(float* s, int64_t n, float scale, float* max_out) {
    const __m512 sc = _mm512_set1_ps(scale);
    __m512 m = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 k = first_lanes(n - i);
        const __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, s + i), sc);
        _mm512_mask_storeu_ps(s + i, k, v);
        m = _mm512_mask_max_ps(m, k, v, m);  // (v > m) ? v : m, so NaN is passed over
    }
    const float top = _mm512_reduce_max_ps(m);
    const __m512 tv = _mm512_set1_ps(top);
    __m512 sum = _mm512_setzero_ps();
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 k = first_lanes(n - i);
        const __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, s + i), tv));
        _mm512_mask_storeu_ps(s + i, k, e);
        sum = _mm512_mask_add_ps(sum, k, sum, e);
    }
    *max_out = top;
    return _mm512_reduce_add_ps(sum);
}

MNEME_AVX512 void swiglu(const float* gate, const float* up, int64_t n, float limit, const float* weight, float* y) {
    const __m512 lim = _mm512_set1_ps(limit), neg_lim = _mm512_set1_ps(-limit), one = _mm512_set1_ps(1.0f);
    const __m512i sign = _mm512_set1_epi32(static_cast<int>(0x80000000u));
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 k = first_lanes(n - i);
        __m512 g = _mm512_maskz_loadu_ps(k, gate + i), u = _mm512_maskz_loadu_ps(k, up + i);
        if (limit > 0) {
            // std::min(g, limit) and std::clamp(u, -limit, limit): NaN stays (the second operand).
            g = _mm512_min_ps(lim, g);
            u = _mm512_min_ps(lim, _mm512_max_ps(neg_lim, u));
        }
        __m512 r = _mm512_mul_ps(
            _mm512_div_ps(
                g, _mm512_add_ps(one, exp16(_mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(g), sign))))),
            u);
        if (weight) r = _mm512_mul_ps(r, _mm512_set1_ps(*weight));
        _mm512_mask_storeu_ps(y + i, k, r);
    }
}

// Per 32 elements: the even ones, then the odd ones (dot_tile_e2m1's order). len is a multiple of 32.
MNEME_AVX512 void e2m1_x_layout(const float* x, int64_t len, float* out) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    for (int64_t i = 0; i + 32 <= len; i += 32) {
        const __m512 a = _mm512_loadu_ps(x + i), b = _mm512_loadu_ps(x + i + 16);
        _mm512_storeu_ps(out + i, _mm512_permutex2var_ps(a, even, b));
        _mm512_storeu_ps(out + i + 16, _mm512_permutex2var_ps(a, odd, b));
    }
}

MNEME_AVX512 void e8m0_scales(const uint8_t* codes, int64_t n, float* out) {
    const __m512i nan = _mm512_set1_epi32(0x7fc00000), tiny = _mm512_set1_epi32(0x00400000);
    const __m512i zero = _mm512_setzero_si512(), top = _mm512_set1_epi32(255);
    int64_t i = 0;
    // 64 codes at a time while none is 0 (2^-127, a subnormal) or 255 (NaN): each float is then the
    // code shifted into the exponent field. Batches of FP4 scale rows are all such codes.
    for (; i + 64 <= n; i += 64) {
        const __m512i c = _mm512_loadu_si512(codes + i);
        if (_mm512_cmpeq_epi8_mask(c, zero) | _mm512_cmpeq_epi8_mask(c, _mm512_set1_epi8(-1))) break;
#pragma GCC unroll 4
        for (int q = 0; q < 4; ++q) {
            const __m512i wide =
                _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(codes + i + 16 * q)));
            _mm512_storeu_ps(out + i + 16 * q, _mm512_castsi512_ps(_mm512_slli_epi32(wide, 23)));
        }
    }
    for (; i < n; i += 16) {
        const __mmask16 m = first_lanes(n - i);
        const __m512i c = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(m, codes + i));
        __m512i bits = _mm512_slli_epi32(c, 23);
        bits = _mm512_mask_mov_epi32(bits, _mm512_cmpeq_epi32_mask(c, zero), tiny);
        bits = _mm512_mask_mov_epi32(bits, _mm512_cmpeq_epi32_mask(c, top), nan);
        _mm512_mask_storeu_ps(out + i, m, _mm512_castsi512_ps(bits));
    }
}

// Four accumulators of 16 lanes (the fused multiply-adds' latency), the tail masked.
MNEME_AVX512 float sum_squares(const float* x, int64_t n) {
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
#pragma GCC unroll 4
        for (int a = 0; a < 4; ++a) {
            const __m512 v = _mm512_loadu_ps(x + i + 16 * a);
            acc[a] = _mm512_fmadd_ps(v, v, acc[a]);
        }
    }
    for (int a = 0; i < n; i += 16, ++a) {
        const __m512 v = _mm512_maskz_loadu_ps(first_lanes(n - i), x + i);
        acc[a] = _mm512_fmadd_ps(v, v, acc[a]);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])));
}

// head_dots_hv on BF16 dot products: each step takes two elements of every key (one 32-bit
// broadcast straight from the BF16 row, no widening) against two elements of 16 heads, half the
// multiply-add instructions of the float32 chain. The keys k_key_prefetch_bytes ahead are
// requested 16 at a time: a long-context decoding step reads its keys from memory, and the scan
// left to the hardware prefetcher read them at ~14 GB/s on two threads (32K keys, 16 heads x 64
// and 64 x 128, cold, alternated in one process: 222-235 -> 179-188 us, 1265-1324 -> 920-937 us).
constexpr int64_t k_key_prefetch_bytes = 4096;
template <int HV>
MNEME_AVX512_BF16 void head_dots_bf16_hv(const uint32_t* qp, int64_t heads, const uint16_t* keys, int64_t ks, int64_t n,
                                         int64_t d, float* dots, int64_t ds) {
    constexpr int KB = HV == 1 ? 8 : 16 / HV;
    alignas(64) float res[HV][16][16];  // [head vector][key of the group][head lane]
    const int64_t pairs = d / 2;
    const int64_t ahead = std::max<int64_t>(16, (k_key_prefetch_bytes / (2 * ks) + 15) / 16 * 16);
    for (int64_t j0 = 0; j0 < n; j0 += 16) {
        const int64_t nk = n - j0 < 16 ? n - j0 : 16;
        // (Prefetches never fault: those past the last key are harmless.)
        const auto* next = reinterpret_cast<const char*>(keys + (j0 + ahead) * ks);
        for (int64_t off = 0; off < 16 * 2 * ks; off += 64) __builtin_prefetch(next + off);
        for (int64_t g = 0; g < nk; g += KB) {
            const uint16_t* kp[KB];
            for (int b = 0; b < KB; ++b) kp[b] = keys + (j0 + (g + b < nk ? g + b : nk - 1)) * ks;  // no overread
            __m512 acc[KB][HV];
#pragma GCC unroll 8
            for (int b = 0; b < KB; ++b) {
#pragma GCC unroll 8
                for (int v = 0; v < HV; ++v) acc[b][v] = _mm512_setzero_ps();
            }
            for (int64_t p = 0; p < pairs; ++p) {
                __m512bh qv[HV];
#pragma GCC unroll 8
                for (int v = 0; v < HV; ++v)
                    qv[v] = reinterpret_cast<__m512bh>(_mm512_loadu_si512(qp + (p * HV + v) * 16));
#pragma GCC unroll 8
                for (int b = 0; b < KB; ++b) {
                    int32_t pair;
                    std::memcpy(&pair, kp[b] + 2 * p, 4);
                    const __m512bh kb = reinterpret_cast<__m512bh>(_mm512_set1_epi32(pair));
#pragma GCC unroll 8
                    for (int v = 0; v < HV; ++v) acc[b][v] = _mm512_dpbf16_ps(acc[b][v], qv[v], kb);
                }
            }
#pragma GCC unroll 8
            for (int b = 0; b < KB; ++b) {
                if (g + b >= 16) break;
#pragma GCC unroll 8
                for (int v = 0; v < HV; ++v) _mm512_store_ps(res[v][g + b], acc[b][v]);
            }
        }
        store_head_dots<HV>(res, nk, heads, dots + j0, ds);
    }
}

MNEME_AVX512_BF16 bool head_dots_bf16(const uint32_t* qp, int64_t heads, const uint16_t* keys, int64_t key_stride,
                                      int64_t n, int64_t d, float* dots, int64_t dot_stride) {
    if (heads < 1 || heads > 128 || d % 2 != 0 || key_stride < d) return false;
    with_head_vectors(heads, [&](auto hv) {
        head_dots_bf16_hv<decltype(hv)::value>(qp, heads, keys, key_stride, n, d, dots, dot_stride);
    });
    return true;
}

}  // namespace

const kernel_table& avx512_kernels() {
    static const kernel_table table = [] {
        kernel_table t{decode,          gemm_nt,       axpy_rows,     gemm_panel,  pack_panel,
                       decode_panel,    dot,           relu_head_sum, head_dots,   8,
                       nullptr,         nullptr,       nullptr,       order_keys,  quant_block_e4m3,
                       add_scaled,      dot_e4m3_wide, scaled_exp,    swiglu,      true,
                       dot_weight_rows, e8m0_scales,   e2m1_x_layout, sum_squares, nullptr};
        if (__builtin_cpu_supports("avx512bf16")) {
            t.e2m1_bf16 = {e2m1_bf16_layout, dot_e2m1_bf16, dot_weight_rows_e2m1_bf16, dot_row_streams_e2m1_bf16};
            t.head_dots_bf16 = head_dots_bf16;
            if (__builtin_cpu_supports("avx512vbmi")) {
                t.e4m3_bf16 = {e4m3_bf16_layout, dot_e4m3_bf16, dot_weight_rows_e4m3_bf16, dot_row_streams_e4m3_bf16};
            }
        }
        t.mqa_values = mqa_values;
        t.dot_row_streams = dot_row_streams;
        return t;
    }();
    return table;
}

}  // namespace mneme::kernels::fast
#endif
