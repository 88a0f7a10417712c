// AVX-512 helpers shared by the AVX-512 and AMX kernel files: FP8/FP4 weight conversions and a
// 16 × 16 register transpose. Everything here is internal to each including file (an anonymous
// namespace) and carries its target attribute, so no AVX-512 code can reach callers on other CPUs.
#pragma once

#if defined(__x86_64__)
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <limits>

#include "mneme_kernels/number-formats.h"

#define MNEME_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")))

namespace mneme::kernels::fast {
namespace {

// The mask of the first min(max(left, 0), 16) lanes: a loop's tail, or none past the end.
MNEME_AVX512 inline __mmask16 first_lanes(int64_t left) {
    return static_cast<__mmask16>((1u << std::clamp<int64_t>(left, 0, 16)) - 1u);
}

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

// True when any byte of row[0..len) is an e4m3 NaN code (magnitude bits all ones, the largest
// magnitude): a running bytewise maximum, compared once at the end (two vector operations per 64
// bytes; decode-sized products scan every row before multiplying it).
MNEME_AVX512 inline bool has_e4m3_nan(const uint8_t* row, int64_t len) {
    const __m512i m7f = _mm512_set1_epi8(0x7f);
    __m512i top0 = _mm512_setzero_si512(), top1 = _mm512_setzero_si512();
    int64_t i = 0;
    for (; i + 128 <= len; i += 128) {
        top0 = _mm512_max_epu8(top0, _mm512_and_si512(_mm512_loadu_si512(row + i), m7f));
        top1 = _mm512_max_epu8(top1, _mm512_and_si512(_mm512_loadu_si512(row + i + 64), m7f));
    }
    for (; i < len; i += 64) {
        const __mmask64 m = len - i >= 64 ? ~__mmask64{0} : (uint64_t{1} << (len - i)) - 1;
        top0 = _mm512_max_epu8(top0, _mm512_and_si512(_mm512_maskz_loadu_epi8(m, row + i), m7f));
    }
    return _mm512_cmpeq_epi8_mask(_mm512_max_epu8(top0, top1), m7f) != 0;
}

// 32 e4m3 codes as float16 bit patterns worth value * 2^-8: sign-extending each byte to 16 bits
// and shifting left by 7 puts the sign at bit 15 and the magnitude at bits 7..13; bit 14 (a copy
// of the sign) is cleared. Three integer operations per 32 weights.
MNEME_AVX512 inline __m512i e4m3x32_as_f16(__m256i codes) {
    const __m512i shifted = _mm512_slli_epi16(_mm512_cvtepi8_epi16(codes), 7);
    return _mm512_and_si512(shifted, _mm512_set1_epi16(static_cast<short>(0xbfff)));
}

// The same for 16 codes.
MNEME_AVX512 inline __m256i e4m3x16_as_f16(__m128i codes) {
    const __m256i shifted = _mm256_slli_epi16(_mm256_cvtepi8_epi16(codes), 7);
    return _mm256_and_si256(shifted, _mm256_set1_epi16(static_cast<short>(0xbfff)));
}

// In-register transpose of a 16 × 16 block: r[i] holds row i on entry and column i on exit
// (unpack pairs of rows, then interleave 64-bit, 128-bit and 256-bit groups).
MNEME_AVX512 inline __attribute__((always_inline)) void transpose16(__m512 r[16]) {
    __m512 t[16];
#pragma GCC unroll 16
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
#pragma GCC unroll 16
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
        r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xee);
        r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xee);
    }
#pragma GCC unroll 16
    for (int i = 0; i < 4; ++i) {
        t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
        t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xdd);
        t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
        t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xdd);
    }
#pragma GCC unroll 16
    for (int i = 0; i < 8; ++i) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
        r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
    }
}

}  // namespace
}  // namespace mneme::kernels::fast

#endif
