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

#include <limits>

#include "fast-kernels.h"
#include "mneme_kernels/number-formats.h"

#define MNEME_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")))

namespace mneme::kernels::fast {
namespace {

MNEME_AVX512 inline __m512 e4m3x16(const uint8_t* p) {
    // e4m3 shares float16's layout shifted by 7 bits with an exponent bias 8 lower: the shifted bits
    // read as float16 are the value times 2^-8 exactly (subnormals included).
    const __m256i b = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    const __m256i mag = _mm256_and_si256(b, _mm256_set1_epi16(0x7f));
    const __m256i sign = _mm256_slli_epi16(_mm256_and_si256(b, _mm256_set1_epi16(0x80)), 8);
    const __m256i h = _mm256_or_si256(sign, _mm256_slli_epi16(mag, 7));
    const __m512 v = _mm512_mul_ps(_mm512_cvtph_ps(h), _mm512_set1_ps(256.0f));
    const __mmask16 nan = _mm256_cmpeq_epi16_mask(mag, _mm256_set1_epi16(0x7f));  // 0x7f / 0xff are NaN
    return _mm512_mask_mov_ps(v, nan, _mm512_set1_ps(std::numeric_limits<float>::quiet_NaN()));
}

MNEME_AVX512 inline __m512 e2m1x16(const uint8_t* p, __m512 table) {
    const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
    const __m128i lo = _mm_and_si128(b, _mm_set1_epi8(0x0f));
    const __m128i hi = _mm_and_si128(_mm_srli_epi16(b, 4), _mm_set1_epi8(0x0f));
    return _mm512_permutexvar_ps(_mm512_cvtepu8_epi32(_mm_unpacklo_epi8(lo, hi)), table);  // element 2k = low nibble
}

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
    for (int r = 0; r < MR; ++r)
        for (int j = 0; j < NR; ++j) acc[r][j] = _mm512_setzero_ps();
    int64_t k = 0;
    for (; k + 16 <= len; k += 16) {
        __m512 wv[NR];
        for (int j = 0; j < NR; ++j) wv[j] = _mm512_loadu_ps(w[j] + k);
        for (int r = 0; r < MR; ++r) {
            const __m512 xv = _mm512_loadu_ps(x + r * xs + k);
            for (int j = 0; j < NR; ++j) acc[r][j] = _mm512_fmadd_ps(xv, wv[j], acc[r][j]);
        }
    }
    if (k < len) {
        const __mmask16 m = static_cast<__mmask16>((1u << (len - k)) - 1u);
        __m512 wv[NR];
        for (int j = 0; j < NR; ++j) wv[j] = _mm512_maskz_loadu_ps(m, w[j] + k);
        for (int r = 0; r < MR; ++r) {
            const __m512 xv = _mm512_maskz_loadu_ps(m, x + r * xs + k);
            for (int j = 0; j < NR; ++j) acc[r][j] = _mm512_fmadd_ps(xv, wv[j], acc[r][j]);
        }
    }
    for (int r = 0; r < MR; ++r) {
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

}  // namespace

const kernel_table& avx512_kernels() {
    static const kernel_table table{decode, gemm_nt, axpy_rows};
    return table;
}

}  // namespace mneme::kernels::fast
#endif
