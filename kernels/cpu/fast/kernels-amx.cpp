// Prefill products on AMX tiles (TDPBF16PS: BF16 pairs summed into float32), for weights whose
// values BF16 holds exactly: FP8 e4m3, FP4 e2m1 and BF16 itself. Float32 activations are split
// into three BF16 parts, x = hi + mid + lo exactly (each part takes the next 8 significant bits),
// so the three tile products sum the same exact products x·w as a float32 kernel does, in another
// order: float32 agreement at a third of the tiles' BF16 rate, which is still several times what
// the AVX-512 FMA units reach. (The tiles flush values below float32's normal range to zero; parts
// that small only arise from activations near 2^-110.) Block scales that are powers of two (e8m0) are folded into the
// BF16 weights (exact); float32 scales (V3's FP8) multiply each block's partial sums instead, as the decode-time `dot`
// does.
#if defined(__x86_64__)
#include <immintrin.h>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <vector>

#include "avx512-inline.h"
#include "fast-kernels.h"

#define MNEME_AMX __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,avx2,fma,f16c")))

// Tile instructions by register number. Written out (rather than GCC's tile macros) so that each
// one tells the compiler it reads or writes memory: the buffers are filled by ordinary stores.
#define MNEME_TILE_LOAD(t, base, stride) \
    asm volatile("tileloadd (%0,%1,1), %%tmm" #t ::"r"(base), "r"(static_cast<long>(stride)) : "memory")
#define MNEME_TILE_STORE(t, base, stride) \
    asm volatile("tilestored %%tmm" #t ", (%0,%1,1)" ::"r"(base), "r"(static_cast<long>(stride)) : "memory")
#define MNEME_TILE_ZERO(t) asm volatile("tilezero %%tmm" #t ::)
// C[t_c] += A[t_a] · B[t_b] (AT&T operand order: B, A, C).
#define MNEME_TILE_DP(c, a, b) asm volatile("tdpbf16ps %%tmm" #b ", %%tmm" #a ", %%tmm" #c ::)

namespace mneme::kernels::fast {
namespace {

constexpr int64_t k_step = 32;              // K elements per tile product
constexpr int64_t k_cols = 32;              // weight rows (output columns) per panel: two A tiles
constexpr int64_t k_rows = 32;              // activation rows per block: two B tiles
constexpr int64_t k_tile = 512;             // BF16 elements in a tile (16 rows of 64 bytes)
constexpr int64_t k_chunk_bytes = 1 << 20;  // the three activation parts of one chunk, meant for L2
constexpr int64_t k_min_panel_items = 8;    // work items wanted before rows are split as well
constexpr int64_t k_min_tile_outputs = 128;

// Tiles 0-3 accumulate (weight rows 0-15 / 16-31 × activation rows 0-15 / 16-31), 4-5 hold weight
// rows, 6-7 activation pairs; every tile is 16 rows of 64 bytes.
struct alignas(64) tile_config {
    uint8_t palette = 1, start_row = 0;
    uint8_t reserved[14] = {};
    uint16_t colsb[16] = {64, 64, 64, 64, 64, 64, 64, 64};
    uint8_t rows[16] = {16, 16, 16, 16, 16, 16, 16, 16};
};
static_assert(sizeof(tile_config) == 64);

// Loads the tile shapes on this thread and releases the tiles on scope exit (so that the thread's
// saved state shrinks back when it switches).
struct tile_scope {
    tile_scope() {
        static const tile_config cfg;
        asm volatile("ldtilecfg %0" ::"m"(cfg));
    }
    ~tile_scope() { asm volatile("tilerelease" ::); }
    tile_scope(const tile_scope&) = delete;
    tile_scope& operator=(const tile_scope&) = delete;
};

MNEME_AMX inline __m512 widen_bf16(__m256i h) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

// r, or 0 where r is NaN (the rest of a non-finite x, whose value hi already carries).
MNEME_AMX inline __m512 finite_rest(__m512 r) {
    return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(r, r, _CMP_ORD_Q), r);
}

// The activations as B tiles: for each 16-row block b, K step s and part p (0 = hi, 1 = mid,
// 2 = lo), one tile of 16 pairs q × 16 rows × 2 BF16 at parts + part_tile(b, s, steps, p).
inline int64_t part_tile(int64_t block, int64_t step, int64_t steps, int p) {
    return ((block * steps + step) * 3 + p) * k_tile;
}

// 32 floats from x (zeros past `left`) as three BF16 parts hi = bf16(x), mid = bf16(x - hi),
// lo = x - hi - mid: each difference is exact in float32 and lo exact in BF16, so hi + mid + lo
// = x. A non-finite x keeps its value in hi.
MNEME_AMX inline void split32(const float* x, int64_t left, uint16_t* hi, uint16_t* mid, uint16_t* lo) {
    const __m512 a = _mm512_maskz_loadu_ps(first_lanes(left), x);
    const __m512 c = _mm512_maskz_loadu_ps(first_lanes(left - 16), x + 16);
    const __m512i h = reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(c, a));
    const __m512 ra = finite_rest(_mm512_sub_ps(a, widen_bf16(_mm512_castsi512_si256(h))));
    const __m512 rc = finite_rest(_mm512_sub_ps(c, widen_bf16(_mm512_extracti64x4_epi64(h, 1))));
    const __m512i m = reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(rc, ra));
    const __m512 la = _mm512_sub_ps(ra, widen_bf16(_mm512_castsi512_si256(m)));
    const __m512 lc = _mm512_sub_ps(rc, widen_bf16(_mm512_extracti64x4_epi64(m, 1)));
    _mm512_storeu_si512(hi, h);
    _mm512_storeu_si512(mid, m);
    _mm512_storeu_si512(lo, reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(lc, la)));
}

// Rows [16·b0, 16·b1) of x (rows past `rows` are zero), columns [k0, k0 + len) (zero past len up
// to `steps` K steps), split by split32 into B tiles.
MNEME_AMX void split_rows(const float* x, int64_t x_stride, int64_t rows, int64_t b0, int64_t b1, int64_t k0,
                          int64_t len, int64_t steps, uint16_t* parts) {
    alignas(64) uint16_t row_parts[3][16][k_step];
    for (int64_t b = b0; b < b1; ++b) {
        for (int64_t s = 0; s < steps; ++s) {
            const int64_t k = s * k_step;
            for (int64_t i = 0; i < 16; ++i) {
                const int64_t r = b * 16 + i;
                const bool live = r < rows;
                split32(live ? x + r * x_stride + k0 + k : x, live ? len - k : 0, row_parts[0][i], row_parts[1][i],
                        row_parts[2][i]);
            }
            for (int p = 0; p < 3; ++p) {
                __m512 t[16];
                for (int i = 0; i < 16; ++i) t[i] = _mm512_load_ps(row_parts[p][i]);
                transpose16(t);  // t[q] = pair q of each row
                uint16_t* dst = parts + part_tile(b, s, steps, p);
                for (int q = 0; q < 16; ++q) _mm512_storeu_ps(dst + q * k_step, t[q]);
            }
        }
    }
}

// How a matrix's block scales reach the products.
enum class scaling { none, folded, per_block };

// BF16 bits of e4m3 magnitudes 0-7 (the subnormals m·2^-9, normalised; 0 stays 0).
alignas(64) constexpr uint16_t k_e4m3_subnormal_bf16[32] = {0, 0x3b00, 0x3b80, 0x3bc0, 0x3c00, 0x3c20, 0x3c40, 0x3c60};

// BF16 bits of the sixteen e2m1 codes (the float32 values' upper halves, exact).
constexpr uint16_t e2m1_bf16(int code) {
    return static_cast<uint16_t>(std::bit_cast<uint32_t>(k_e2m1_values[code]) >> 16);
}
alignas(64) constexpr uint16_t k_e2m1_bf16[32] = {e2m1_bf16(0),  e2m1_bf16(1),  e2m1_bf16(2),  e2m1_bf16(3),
                                                  e2m1_bf16(4),  e2m1_bf16(5),  e2m1_bf16(6),  e2m1_bf16(7),
                                                  e2m1_bf16(8),  e2m1_bf16(9),  e2m1_bf16(10), e2m1_bf16(11),
                                                  e2m1_bf16(12), e2m1_bf16(13), e2m1_bf16(14), e2m1_bf16(15)};

// 32 e4m3 codes as BF16 times 2^delta, exactly: normal codes are rebased (exponent bias 7 -> 127,
// mantissa moved up by 4 bits), subnormals come from a table, NaN codes become a NaN.
MNEME_AMX inline __m512i e4m3x32_bf16(__m256i codes, int delta) {
    const __m512i c = _mm512_cvtepu8_epi16(codes);
    const __m512i mag = _mm512_and_si512(c, _mm512_set1_epi16(0x7f));
    __m512i bits = _mm512_add_epi16(_mm512_slli_epi16(mag, 4), _mm512_set1_epi16(120 << 7));
    const __mmask32 sub = _mm512_cmplt_epu16_mask(mag, _mm512_set1_epi16(8));
    bits = _mm512_mask_permutexvar_epi16(bits, sub, mag, _mm512_load_si512(k_e4m3_subnormal_bf16));
    if (delta != 0) {
        bits = _mm512_mask_add_epi16(bits, _mm512_test_epi16_mask(mag, mag), bits,
                                     _mm512_set1_epi16(static_cast<short>(delta * 128)));
    }
    bits =
        _mm512_mask_mov_epi16(bits, _mm512_cmpeq_epi16_mask(mag, _mm512_set1_epi16(0x7f)), _mm512_set1_epi16(0x7fc0));
    return _mm512_or_si512(bits, _mm512_slli_epi16(_mm512_and_si512(c, _mm512_set1_epi16(0x80)), 8));
}

// 32 e2m1 codes (16 bytes, low nibble first) as BF16 times 2^delta, exactly.
MNEME_AMX inline __m512i e2m1x32_bf16(__m128i packed, int delta) {
    const __m512i b = _mm512_cvtepu8_epi32(packed);
    const __m512i idx = _mm512_and_si512(_mm512_or_si512(b, _mm512_slli_epi32(b, 12)), _mm512_set1_epi32(0x000f000f));
    __m512i bits = _mm512_permutexvar_epi16(idx, _mm512_load_si512(k_e2m1_bf16));
    if (delta != 0) {
        bits = _mm512_mask_add_epi16(bits, _mm512_test_epi16_mask(idx, _mm512_set1_epi16(7)), bits,
                                     _mm512_set1_epi16(static_cast<short>(delta * 128)));
    }
    return bits;
}

// 32 weights of a row from element k (zeros past `left`) as BF16 times 2^delta.
template <weight_format F>
MNEME_AMX inline __m512i row32(const uint8_t* row, int64_t k, int64_t left, int delta) {
    const auto mask = static_cast<__mmask32>(left >= 32 ? ~0u : (1u << left) - 1u);
    if constexpr (F == weight_format::bf16) {
        return _mm512_maskz_loadu_epi16(mask, row + 2 * k);
    } else if constexpr (F == weight_format::e4m3) {
        return e4m3x32_bf16(_mm256_maskz_loadu_epi8(mask, row + k), delta);
    } else {
        if (left >= 32) return e2m1x32_bf16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + k / 2)), delta);
        alignas(16) uint8_t codes[16] = {};
        std::memcpy(codes, row + k / 2, static_cast<std::size_t>((left + 1) / 2));
        if (left % 2) codes[left / 2] &= 0x0f;  // the high nibble is past the row's last element
        return e2m1x32_bf16(_mm_load_si128(reinterpret_cast<const __m128i*>(codes)), delta);
    }
}

// Weight rows n0 .. n0+cnt (cnt <= 32), columns k0 .. k0+len, as A tiles: for K step s and half h
// (rows 16h .. 16h+15), 16 rows of 32 BF16 at panel + (2s + h)·k_tile. Zero past cnt and len.
// Folded e8m0 scales are added to the exponents; each row is walked once, front to back.
template <weight_format F, bool Folded>
MNEME_AMX void pack_rows(const weight_view& w, int64_t n0, int64_t cnt, int64_t k0, int64_t len, int64_t steps,
                         uint16_t* panel) {
    for (int64_t j = 0; j < k_cols; ++j) {
        uint16_t* dst = panel + (j / 16) * k_tile + (j % 16) * k_step;
        if (j >= cnt) {
            for (int64_t s = 0; s < steps; ++s) _mm512_storeu_si512(dst + 2 * s * k_tile, _mm512_setzero_si512());
            continue;
        }
        const uint8_t* row = w.data + (n0 + j) * w.row_bytes;
        const uint8_t* scales = nullptr;
        int64_t block = 0, offset = 0;  // the scale block of element k0 + k, and k's place in it
        if constexpr (Folded) {
            scales = w.scale + ((n0 + j) / w.block_n) * w.scale_row_elems;
            block = k0 / w.block_k;
            offset = k0 % w.block_k;
        }
        for (int64_t s = 0; s < steps; ++s, dst += 2 * k_tile) {
            const int64_t k = s * k_step;
            if (k >= len) {
                _mm512_storeu_si512(dst, _mm512_setzero_si512());
                continue;
            }
            int delta = 0;
            if constexpr (Folded) {
                delta = static_cast<int>(scales[block]) - 127;
                offset += k_step;
                if (offset >= w.block_k) {
                    offset -= w.block_k;
                    ++block;
                }
            }
            _mm512_storeu_si512(dst, row32<F>(row, k0 + k, len - k, delta));
        }
    }
}

template <weight_format F>
MNEME_AMX void pack_as(const weight_view& w, scaling sc, int64_t n0, int64_t cnt, int64_t k0, int64_t len,
                       int64_t steps, uint16_t* panel) {
    if (sc == scaling::folded) return pack_rows<F, true>(w, n0, cnt, k0, len, steps, panel);
    pack_rows<F, false>(w, n0, cnt, k0, len, steps, panel);
}

MNEME_AMX void pack_weights(const weight_view& w, scaling sc, int64_t n0, int64_t cnt, int64_t k0, int64_t len,
                            int64_t steps, uint16_t* panel) {
    switch (w.format) {
        case weight_format::bf16:
            return pack_as<weight_format::bf16>(w, sc, n0, cnt, k0, len, steps, panel);
        case weight_format::e4m3:
            return pack_as<weight_format::e4m3>(w, sc, n0, cnt, k0, len, steps, panel);
        case weight_format::e2m1:
            return pack_as<weight_format::e2m1>(w, sc, n0, cnt, k0, len, steps, panel);
        default:
            return;  // choose_scaling admits no other format
    }
}

// Tile sums of weight rows 0-31 against the 32 activation rows of 16-row blocks b and b+1 (b
// alone when `two` is false) over K steps [s0, s1), stored as tmp[n][r] (32 × 32 floats).
void tile_block(const uint16_t* panel, const uint16_t* parts, int64_t b, int64_t steps, int64_t s0, int64_t s1,
                bool two, float* tmp) {
    MNEME_TILE_ZERO(0);
    MNEME_TILE_ZERO(1);
    MNEME_TILE_ZERO(2);
    MNEME_TILE_ZERO(3);
    for (int64_t s = s0; s < s1; ++s) {
        MNEME_TILE_LOAD(4, panel + 2 * s * k_tile, 64);
        MNEME_TILE_LOAD(5, panel + (2 * s + 1) * k_tile, 64);
        for (int p = 2; p >= 0; --p) {  // the smallest part first
            MNEME_TILE_LOAD(6, parts + part_tile(b, s, steps, p), 64);
            MNEME_TILE_DP(0, 4, 6);
            MNEME_TILE_DP(2, 5, 6);
            if (two) {
                MNEME_TILE_LOAD(7, parts + part_tile(b + 1, s, steps, p), 64);
                MNEME_TILE_DP(1, 4, 7);
                MNEME_TILE_DP(3, 5, 7);
            }
        }
    }
    MNEME_TILE_STORE(0, tmp, k_rows * 4);
    MNEME_TILE_STORE(2, tmp + 16 * k_rows, k_rows * 4);
    if (two) {
        MNEME_TILE_STORE(1, tmp + 16, k_rows * 4);
        MNEME_TILE_STORE(3, tmp + 16 * k_rows + 16, k_rows * 4);
    }
}

// acc[n][r] (= or +=) scale[n] · tmp[n][r] for the 32 × 32 block (activation rows 0-15 only
// when `two` is false: tile_block stored no others).
MNEME_AMX void scale_into(const float* tmp, const float* scale, bool store, bool two, float* acc) {
    for (int64_t n = 0; n < k_cols; ++n) {
        const __m512 s = _mm512_set1_ps(scale[n]);
        for (int64_t h = 0; h < (two ? k_rows : 16); h += 16) {
            const __m512 v = _mm512_mul_ps(_mm512_load_ps(tmp + n * k_rows + h), s);
            float* out = acc + n * k_rows + h;
            _mm512_store_ps(out, store ? v : _mm512_add_ps(_mm512_load_ps(out), v));
        }
    }
}

// y[r][n] (= or +=) src[n][r] for r < r_cnt, n < cnt, times alpha when `scale` is set.
MNEME_AMX void transpose_into(const float* src, int64_t r_cnt, int64_t cnt, bool store, bool scale, float alpha,
                              float* y, int64_t y_stride) {
    for (int64_t nh = 0; nh < k_cols && nh < cnt; nh += 16) {
        const __mmask16 m = first_lanes(cnt - nh);
        for (int64_t rh = 0; rh < k_rows && rh < r_cnt; rh += 16) {
            __m512 t[16];
            for (int i = 0; i < 16; ++i) t[i] = _mm512_load_ps(src + (nh + i) * k_rows + rh);
            transpose16(t);  // t[i] = activation row rh + i
            for (int64_t i = 0; i < 16 && rh + i < r_cnt; ++i) {
                float* out = y + (rh + i) * y_stride + nh;
                __m512 v = store ? t[i] : _mm512_add_ps(_mm512_maskz_loadu_ps(m, out), t[i]);
                if (scale) v = _mm512_mul_ps(v, _mm512_set1_ps(alpha));
                _mm512_mask_storeu_ps(out, m, v);
            }
        }
    }
}

// The scaling a matrix allows, or false when the tiles cannot reproduce its values exactly.
bool choose_scaling(const weight_view& w, scaling& sc) {
    if (w.format != weight_format::bf16 && w.format != weight_format::e4m3 && w.format != weight_format::e2m1) {
        return false;
    }
    if (w.scale_fmt == scale_format::none) {
        sc = scaling::none;
        return true;
    }
    if (w.block_k % k_step != 0) return false;
    if (w.scale_fmt == scale_format::e8m0 && w.format != weight_format::bf16) {
        // Powers of two times 4-bit values are exact BF16 normals for any of these exponents
        // (2^-63 .. 2^63; e4m3 spans 2^-9 .. 448), and the products of such weights with even
        // the smallest part of an activation stay far from float32's flush to zero.
        const int64_t count = ((w.n + w.block_n - 1) / w.block_n) * w.scale_row_elems;
        const bool tame = std::all_of(w.scale, w.scale + count, [](uint8_t b) { return b >= 64 && b <= 190; });
        if (tame) {
            sc = scaling::folded;
            return true;
        }
    }
    sc = scaling::per_block;
    return true;
}

MNEME_AMX bool matmul_tiles(const exec_ctx& ex, const float* x, int64_t rows, int64_t x_stride, const weight_view& w,
                            float* y, int64_t y_stride, double alpha) {
    scaling sc = scaling::none;
    // Narrow products (routers, index projections) gain less from the tiles than splitting every
    // activation costs: below 128 outputs the vector kernels are as fast or faster here.
    if (rows < 1 || w.n < k_min_tile_outputs || w.k < 1 || !choose_scaling(w, sc)) return false;
    // K chunk: whole scale blocks (per_block), at most 512 elements unless a block is longer.
    const int64_t seg = sc == scaling::per_block ? w.block_k : k_step;
    const int64_t kc = std::min(std::max<int64_t>(seg, 512 / seg * seg), (w.k + seg - 1) / seg * seg);
    const int64_t max_steps = (kc + k_step - 1) / k_step;
    // Row group: the three parts of a chunk stay in L2 while every panel passes over them.
    const int64_t group = std::max<int64_t>(k_rows, k_chunk_bytes / (6 * max_steps * k_step) / k_rows * k_rows);
    thread_local std::vector<uint16_t> parts_store;
    parts_store.resize(static_cast<std::size_t>(std::min(group, (rows + 15) / 16 * 16) * max_steps * k_step * 3));
    uint16_t* parts = parts_store.data();
    const auto panels = static_cast<std::size_t>((w.n + k_cols - 1) / k_cols);
    const int64_t seg_steps = sc == scaling::per_block ? w.block_k / k_step : max_steps;
    for (int64_t g0 = 0; g0 < rows; g0 += group) {
        const int64_t g_rows = std::min(group, rows - g0);
        const int64_t g_blocks = (g_rows + 15) / 16;
        const float* xg = x + g0 * x_stride;
        float* yg = y + g0 * y_stride;
        for (int64_t k0 = 0; k0 < w.k; k0 += kc) {
            const int64_t len = std::min(kc, w.k - k0);
            const int64_t steps = (len + k_step - 1) / k_step;
            parallel(ex, static_cast<std::size_t>(g_blocks), 1, [&](std::size_t b0, std::size_t b1) {
                split_rows(xg, x_stride, g_rows, static_cast<int64_t>(b0), static_cast<int64_t>(b1), k0, len, steps,
                           parts);
            });
            const bool first = k0 == 0, last = k0 + kc >= w.k;
            // Work items: a panel and a run of row pairs. Narrow products (fewer panels than a
            // pool has threads, e.g. routers and index projections) split their rows too, at the
            // price of packing a panel once per run.
            const int64_t pairs = (g_blocks + 1) / 2;
            const int64_t runs = panels >= k_min_panel_items ? 1 : std::min<int64_t>(pairs, k_min_panel_items);
            const int64_t run_pairs = (pairs + runs - 1) / runs;
            parallel(ex, panels * static_cast<std::size_t>(runs), 1, [&](std::size_t i0, std::size_t i1) {
                tile_scope tiles;
                thread_local std::vector<uint16_t> panel_store;
                panel_store.resize(static_cast<std::size_t>(max_steps * 2 * k_tile));
                uint16_t* panel = panel_store.data();
                alignas(64) float tmp[k_cols * k_rows], acc[k_cols * k_rows];
                std::vector<float> scales(
                    static_cast<std::size_t>(sc == scaling::per_block ? steps / seg_steps + 1 : 0) * k_cols);
                for (std::size_t item = i0; item < i1; ++item) {
                    const auto t = static_cast<int64_t>(item) / runs, run = static_cast<int64_t>(item) % runs;
                    const int64_t b_begin = 2 * run * run_pairs, b_end = std::min(g_blocks, 2 * (run + 1) * run_pairs);
                    if (b_begin >= b_end) continue;
                    const int64_t n0 = t * k_cols, cnt = std::min(k_cols, w.n - n0);
                    pack_weights(w, sc, n0, cnt, k0, len, steps, panel);
                    if (sc == scaling::per_block) {
                        // Chunks start on block boundaries here; columns share a block row in runs.
                        const int64_t kb0 = k0 / w.block_k, segs = (steps + seg_steps - 1) / seg_steps;
                        int64_t nb = n0 / w.block_n, next = (nb + 1) * w.block_n;
                        for (int64_t j = 0; j < k_cols; ++j) {
                            if (n0 + j >= next) {
                                ++nb;
                                next += w.block_n;
                            }
                            for (int64_t i = 0; i < segs; ++i) {
                                scales[i * k_cols + j] =
                                    j < cnt ? block_scale_at(w, nb * w.scale_row_elems + kb0 + i) : 0.0f;
                            }
                        }
                    }
                    for (int64_t b = b_begin; b < b_end; b += 2) {
                        const bool two = b + 1 < g_blocks;
                        const int64_t r_cnt = std::min(k_rows, g_rows - b * 16);
                        const float* sums = tmp;
                        if (sc == scaling::per_block) {
                            for (int64_t s = 0, i = 0; s < steps; s += seg_steps, ++i) {
                                tile_block(panel, parts, b, steps, s, std::min(steps, s + seg_steps), two, tmp);
                                scale_into(tmp, scales.data() + i * k_cols, s == 0, two, acc);
                            }
                            sums = acc;
                        } else {
                            tile_block(panel, parts, b, steps, 0, steps, two, tmp);
                        }
                        transpose_into(sums, r_cnt, cnt, first, last && alpha != 1.0, static_cast<float>(alpha),
                                       yg + b * 16 * y_stride + n0, y_stride);
                    }
                }
            });
        }
    }
    return true;
}

// The indexer's query rows as A tiles: part p of row r, elements c < d (zero up to dp, d rounded up
// to 32), at parts[(p · rows_pad + r) · dp + c], rows_pad = rows rounded up to 32 (zero rows).
MNEME_AMX void tile_query_parts(const float* q, int64_t rows, int64_t d, uint16_t* parts) {
    const int64_t dp = (d + k_step - 1) / k_step * k_step, rows_pad = (rows + k_rows - 1) / k_rows * k_rows;
    for (int64_t r = 0; r < rows_pad; ++r) {
        for (int64_t c = 0; c < dp; c += k_step) {
            const bool live = r < rows;
            uint16_t* hi = parts + r * dp + c;
            split32(live ? q + r * d + c : q, live ? d - c : 0, hi, hi + rows_pad * dp, hi + 2 * rows_pad * dp);
        }
    }
}

// dots[r · dot_stride + j] = sum over c of q[r, c] · key_j[c] for r < rows, j < n, from the query
// parts above and BF16 keys (keys[j · key_stride + c]). Each 32 keys are packed as B tiles (pairs
// × keys, one 16 × 16 transpose per 16 keys and 32 elements) and met by every 32 query rows.
MNEME_AMX void tile_dots(const uint16_t* parts, int64_t rows, int64_t d, const uint16_t* keys, int64_t key_stride,
                         int64_t n, float* dots, int64_t dot_stride) {
    const int64_t dp = (d + k_step - 1) / k_step * k_step, steps = dp / k_step;
    const int64_t rows_pad = (rows + k_rows - 1) / k_rows * k_rows;
    tile_scope tiles;
    thread_local std::vector<uint16_t> packed_store;
    packed_store.resize(static_cast<std::size_t>(2 * steps * k_tile));
    uint16_t* packed = packed_store.data();
    alignas(64) float tmp[k_rows * k_rows];
    for (int64_t j0 = 0; j0 < n; j0 += 32) {
        // Keys j0 .. j0+31 (zero past n): tile (h, s) holds keys 16h .. 16h+15, elements 32s .. 32s+31.
        for (int64_t h = 0; h < 2; ++h) {
            for (int64_t s = 0; s < steps; ++s) {
                __m512 t[16];
                for (int64_t i = 0; i < 16; ++i) {
                    const int64_t j = j0 + 16 * h + i;
                    const __mmask32 m =
                        j < n ? static_cast<__mmask32>((uint64_t{1} << std::min<int64_t>(32, d - 32 * s)) - 1) : 0;
                    t[i] =
                        _mm512_castsi512_ps(_mm512_maskz_loadu_epi16(m, keys + (j < n ? j : 0) * key_stride + 32 * s));
                }
                transpose16(t);  // t[q] = element pair q of each key
                uint16_t* dst = packed + (h * steps + s) * k_tile;
                for (int q = 0; q < 16; ++q) _mm512_storeu_ps(dst + q * k_step, t[q]);
            }
        }
        const int64_t j_cnt = std::min<int64_t>(32, n - j0);
        for (int64_t r0 = 0; r0 < rows_pad; r0 += k_rows) {
            MNEME_TILE_ZERO(0);
            MNEME_TILE_ZERO(1);
            MNEME_TILE_ZERO(2);
            MNEME_TILE_ZERO(3);
            for (int64_t s = 0; s < steps; ++s) {
                MNEME_TILE_LOAD(6, packed + s * k_tile, 64);
                MNEME_TILE_LOAD(7, packed + (steps + s) * k_tile, 64);
                for (int p = 2; p >= 0; --p) {  // the smallest part first
                    const uint16_t* a = parts + (p * rows_pad + r0) * dp + s * k_step;
                    MNEME_TILE_LOAD(4, a, dp * 2);
                    MNEME_TILE_DP(0, 4, 6);
                    MNEME_TILE_DP(1, 4, 7);
                    MNEME_TILE_LOAD(5, a + 16 * dp, dp * 2);
                    MNEME_TILE_DP(2, 5, 6);
                    MNEME_TILE_DP(3, 5, 7);
                }
            }
            MNEME_TILE_STORE(0, tmp, k_rows * 4);
            MNEME_TILE_STORE(1, tmp + 16, k_rows * 4);
            MNEME_TILE_STORE(2, tmp + 16 * k_rows, k_rows * 4);
            MNEME_TILE_STORE(3, tmp + 16 * k_rows + 16, k_rows * 4);
            const int64_t r_cnt = std::min(k_rows, rows - r0);
            for (int64_t r = 0; r < r_cnt; ++r) {
                float* out = dots + (r0 + r) * dot_stride + j0;
                _mm512_mask_storeu_ps(out, first_lanes(j_cnt), _mm512_load_ps(tmp + r * k_rows));
                if (j_cnt > 16)
                    _mm512_mask_storeu_ps(out + 16, first_lanes(j_cnt - 16), _mm512_load_ps(tmp + r * k_rows + 16));
            }
        }
    }
}

}  // namespace

const kernel_table& amx_kernels() {
    static const kernel_table table = [] {
        kernel_table t = avx512_kernels();
        t.matmul_tiles = matmul_tiles;
        t.tile_query_parts = tile_query_parts;
        t.tile_dots = tile_dots;
        return t;
    }();
    return table;
}

}  // namespace mneme::kernels::fast
#endif
