// Float32 matmul y = alpha * x · Wᵀ for every weight format. Each thread owns a range of weight rows
// and decodes each of its rows exactly once per call into a small float buffer; all activation rows
// are multiplied against that buffer while it is hot, so prefill reads the weights once per call.
#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <type_traits>
#include <vector>

#if defined(__x86_64__)
#include <xmmintrin.h>
#endif

#if __has_include(<unistd.h>)
#include <unistd.h>
#endif

#include "fast-kernels.h"
#include "mneme_kernels/number-formats.h"
#include "row-prefetch.h"

namespace mneme::kernels::fast {
namespace {

constexpr int64_t k_tile_rows = 16;               // weight rows decoded together
constexpr int64_t k_small_tile_rows = 4;          // float32 rows of a decode-sized product (see matmul)
constexpr int64_t k_small_tile_max_act_rows = 4;  // ... for products of at most this many activation rows
constexpr int64_t k_x_chunk_bytes = 256 * 1024;   // activation chunk meant to stay in L2
// Decode-sized products hand each thread at least this many weight bytes (~10-25 us of streaming).
// The pool's idle workers spin between the ops of a pass, so a hand-off costs well under a
// microsecond and one MoE expert's matrix (512 KiB on the bench model) is worth splitting; at
// 1 MiB, three quarters of a V3-shaped decode step ran on one core (v3-0.5g: 12.4 -> 7.5 ms/token
// on 2 threads). 64 and 128 KiB measured the same on a quiet machine and up to 10 % slower than
// 256 KiB when the host was busy (docs/PERFORMANCE.md).
constexpr int64_t k_min_bytes_per_thread = 256 * 1024;
constexpr int64_t k_min_split_bytes = 64 * 1024;  // the least, for products of several rows (few_rows_grain)
// Decode-sized products of at most this many weight bytes lose a good part of their time to
// starting up: each thread's share of a cold matrix is too short for the hardware prefetchers to
// reach full speed before it ends. One thread streaming whole matrices one after another avoids
// that (see matmul_whole_on_a_thread).
constexpr int64_t k_whole_product_max_bytes = 2 << 20;
// Decode-sized products: each thread walks its rows as this many interleaved streams (contiguous
// parts of its range, one row of each in turn). One core streaming one sequence of rows was
// limited by its own outstanding misses to ~5-6 GB/s here, about half what a triad reaches; the
// hardware prefetcher follows several streams at once (cold 512 KiB FP8 experts, 2 threads:
// 10-12 -> 15-17 GB/s; v3-0.5g decode +10-28 %; docs/PERFORMANCE.md).
constexpr int k_row_streams = 3;
constexpr int64_t k_scale_batch_rows = 16;  // scale rows converted at a time (see matmul_few_rows)
// One activation row (decode): each round of the walk takes the next row of every stream in one
// kernel_table::dot_weight_rows call (the activations loaded once for all of them, their sums'
// chains overlapping, and all the streams' rows read at once). v3-0.5g decode, 2 threads (Zen 5):
// 20-26 -> 17-18 us per 512 KiB expert, 670-835 -> 490-620 us for the 32 MiB bf16 LM head,
// 246-270 -> 283-327 tokens/s. Rows taken a stream's 4 consecutive rows at a time instead were
// slower than row by row (LM head 770 -> 1270 us): 12 rows read at once per thread.
static_assert(k_row_streams <= 4, "dot_weight_rows takes at most 4 weight rows");
// When the activation rows outgrow L1 (group_step_min_bytes), a stream steps over this many
// weight rows at a time and runs each group of activation rows (one dot call's worth) over all of
// them before the next group, so one group's activations stay in L1 instead of every group being
// fetched again for every weight row: at 16 rows and K = 1024 that was 64 KiB of L2 reads per 1 KiB
// FP8 row, and 14-16 rows cost more than 17 on the packed panels. 512 x 1024 FP8, 2 threads (Zen 5,
// 48 KiB L1): warm, 16 rows 117-127 -> 92-95 us; 24 cold products, 14 rows 143-153 -> 110-112 us,
// 16 rows 134-196 -> 106-116 us, 13 rows the same either way and 9-11 rows slower when stepped.
// Every output is still one dot call over one weight row, so a row's result does not change.
// The threshold is the L1 data cache plus a twelfth (52 KiB on Zen 5's 48 KiB, where 12-13 rows
// of K = 1024 ran the same either way). Zen 4's 32 KiB holds 8 such rows: at 12, a cold
// 512 x 1024 product on one thread took 314 us unstepped, 224 us stepped.
constexpr int64_t k_group_step_rows = 8;
int64_t group_step_min_bytes() {
    static const int64_t bytes = [] {
        long l1 = 0;
#if defined(_SC_LEVEL1_DCACHE_SIZE)
        l1 = sysconf(_SC_LEVEL1_DCACHE_SIZE);
#endif
        const int64_t d = l1 >= 16 * 1024 && l1 <= 1024 * 1024 ? l1 : 32 * 1024;
        return d + d / 12;
    }();
    return bytes;
}
// Up to this many activation rows, every row of a product is computed exactly as if it were alone
// (the register-decoding GEMV in groups of dot_max_rows rows, or the tiled path, chosen by the weight format
// only): a verify pass of n-gram drafting (at most k_exact_rows rows, see mneme_generate_desc)
// must reproduce single-token decoding bit for bit. From the next row count on, the packed-panel
// kernel is used (fewer rows cannot amortise decoding and transposing a panel); its summation
// order differs, so larger prefill batches agree with token-by-token decoding to rounding only.
constexpr int64_t k_exact_rows = 16;
constexpr int64_t k_panel_min_rows = k_exact_rows + 1;
constexpr int64_t k_panel_max_k = 512;
constexpr int64_t k_min_panel_items = 8;  // work items wanted before narrow products split rows

// Activation rows a multiple of 4 KiB apart (V3's hidden size of 1024 or 7168 floats, its experts'
// 2048; FP4 rows laid out 1024 floats apart) all fall in one set of the L1 cache, whose 8 ways then
// cannot hold the rows a kernel reads side by side (12 broadcast rows of a panel product, up to 16
// rows of a dot) next to the weights. Rows the kernels read are therefore laid out one cache line
// further apart. Panel products of 512 columns, one thread: 108 GFLOP/s at a 2 KiB stride, 95 at
// 4 KiB, 55 at 8 KiB (Zen 4, 32 KiB L1).
constexpr int64_t k_alias_stride_bytes = 4096;
constexpr std::size_t k_unalias_keep_floats = std::size_t{1} << 20;  // a thread's copy buffer kept up to 4 MiB

// The row stride, in elements, for a copy of rows of `elems` elements of `elem_bytes` each: whole
// 64-byte lines, and one more where that would put the rows a multiple of 4 KiB apart.
int64_t unaliased_stride(int64_t elems, int64_t elem_bytes) {
    const int64_t per_line = 64 / elem_bytes;
    const int64_t s = (elems + per_line - 1) / per_line * per_line;
    return (s * elem_bytes) % k_alias_stride_bytes == 0 ? s + per_line : s;
}

// Row n, columns [k0, k0 + len), dequantised; one scale per block segment.
void decode_range(const kernel_table& kt, const weight_view& w, int64_t n, int64_t k0, int64_t len, float* out) {
    const uint8_t* row = w.data + n * w.row_bytes;
    if (w.scale_fmt == scale_format::none) {
        kt.decode(w.format, row, k0, len, 1.0f, out);
        return;
    }
    // One scale row; the block index steps along it (no division per block: FP4's are 32 wide).
    const int64_t base = (n / w.block_n) * w.scale_row_elems;
    for (int64_t k = k0, b = k0 / w.block_k; k < k0 + len; ++b) {
        const int64_t end = std::min(k0 + len, (b + 1) * w.block_k);
        kt.decode(w.format, row, k, end - k, block_scale_at(w, base + b), out + (k - k0));
        k = end;
    }
}

// The block scales of weight row n, one per block of block_k columns.
void load_scales(const kernel_table& kt, const weight_view& w, int64_t n, int64_t n_blocks, int64_t block_k,
                 float* scales) {
    if (w.scale_fmt == scale_format::none || block_k != w.block_k) {
        for (int64_t b = 0; b < n_blocks; ++b) scales[b] = weight_block_scale(w, n, b * block_k);
        return;
    }
    // Blocks of the scales' own width: scale b of the row's scale row, without a division per
    // block. FP4 experts take a scale row per weight row, 1 per 32 weights: converted one by one,
    // those took a quarter of a one-row FP4 product's time (512 x 1024, Zen 5).
    const int64_t base = (n / w.block_n) * w.scale_row_elems;
    if (w.scale_fmt == scale_format::e8m0 && kt.e8m0_scales) return kt.e8m0_scales(w.scale + base, n_blocks, scales);
    for (int64_t b = 0; b < n_blocks; ++b) scales[b] = block_scale_at(w, base + b);
}

// The first byte of weight row n's scale row. The scales are a tensor of their own, read beside
// the rows: FP4 experts take one 32-byte scale row per 512-byte weight row, and left to the hardware
// prefetcher those reads were as costly as the rows' arithmetic.
const uint8_t* scale_row_of(const weight_view& w, int64_t n) {
    return w.scale + (n / w.block_n) * w.scale_row_elems * (w.scale_fmt == scale_format::f32 ? 4 : 1);
}

// `floats` floats of `store` from a 64-byte boundary: vector loads that straddle cache lines cost a
// one-row product about a quarter of its speed.
float* aligned_floats(std::vector<float>& store, int64_t floats) {
    store.resize(static_cast<std::size_t>(floats + 16));
    float* p = store.data();
    return p + (64 - reinterpret_cast<uintptr_t>(p) % 64) % 64 / sizeof(float);
}

// Whether rows `stride` floats apart fall in one L1 set (see k_alias_stride_bytes).
bool rows_alias(int64_t stride) {
    return (stride * 4) % k_alias_stride_bytes == 0;
}

// x itself, or its rows copied into `store` (or, up to k_unalias_keep_floats, the thread's kept
// buffer) from a 64-byte boundary at unaliased_stride where they are a multiple of 4 KiB apart;
// stride is set to the result's.
const float* unaliased_rows(const float* x, int64_t rows, int64_t k, int64_t& stride, std::vector<float>& store) {
    if (rows < 2 || !rows_alias(stride)) return x;
    const int64_t padded = unaliased_stride(k, 4);
    const auto floats = static_cast<std::size_t>(rows * padded);
    thread_local std::vector<float> kept;
    float* out = aligned_floats(floats <= k_unalias_keep_floats ? kept : store, rows * padded);
    for (int64_t r = 0; r < rows; ++r) std::memcpy(out + r * padded, x + r * stride, static_cast<std::size_t>(k) * 4);
    stride = padded;
    return out;
}

// The activation rows times k_e4m3_wide_unit, for kernel_table::dot_e4m3_wide, in `store`: rows
// `stride` floats apart from a 64-byte boundary (aligned_floats). Null, leaving the caller on dot, when a finite
// element is too large for that.
const float* widen_rows(const float* x, int64_t rows, int64_t x_stride, int64_t k, int64_t stride,
                        std::vector<float>& store) {
    float* wide = aligned_floats(store, rows * stride);
    for (int64_t r = 0; r < rows; ++r) {
        const float* xr = x + r * x_stride;
        float* wr = wide + r * stride;
        float top = 0.0f;
        for (int64_t i = 0; i < k; ++i) {
            const float a = std::fabs(xr[i]);
            top = a < std::numeric_limits<float>::infinity() && a > top ? a : top;  // NaN and inf pass
            wr[i] = xr[i] * k_e4m3_wide_unit;
        }
        if (top >= k_e4m3_wide_limit) return nullptr;
    }
    return wide;
}

// False when every activation row has an element among its first 64 that BF16 cannot hold
// (float32 activations, as V3's), which bf16_act_kernels::layout would find only after the copy
// into its buffer had begun.
bool any_row_may_be_bf16(const float* x, int64_t rows, int64_t x_stride, int64_t k) {
    const int64_t head = std::min<int64_t>(k, 64);
    for (int64_t r = 0; r < rows; ++r) {
        uint32_t low = 0;
        for (int64_t i = 0; i < head; ++i) low |= std::bit_cast<uint32_t>(x[r * x_stride + i]) & 0xffffu;
        if (low == 0) return true;
    }
    return false;
}

// Whether this thread's float32 arithmetic reads subnormal inputs as they are: an application may
// have set MXCSR.DAZ (denormals are zero) in the threads it hands the runtime, and the widened e4m3
// weights of dot_e4m3_wide are subnormal for e4m3's own subnormals.
bool subnormals_kept() {
#if defined(__x86_64__)
    return (_mm_getcsr() & 0x40u) == 0;
#else
    return true;
#endif
}

// Decode-sized products (a few activation rows): each weight row is decoded in registers and
// multiplied at once, so it is read from memory once and never written back as floats. Returns
// false when the instruction set has no such kernel for the format.
bool few_rows_apply(const kernel_table& kt, int64_t rows, const weight_view& w) {
    // float32 rows are multiplied in place by the tiled path below, which is as fast for them.
    // FP4 rows and their scale blocks must be whole 32-code steps (see kernel_table::dot_e2m1).
    const bool fp4 = w.format == weight_format::e2m1 && kt.dot_e2m1 && w.k % 32 == 0 &&
                     (w.scale_fmt == scale_format::none || w.block_k % 32 == 0);
    const bool supported = w.format == weight_format::e4m3 || w.format == weight_format::bf16 || fp4;
    return kt.dot && kt.dot_max_rows >= 1 && supported && rows <= k_exact_rows && w.k > 0;
}

// matmul_few_rows' work items (tiles of weight rows) and how many of them one thread takes at least:
// k_min_bytes_per_thread of weights for one activation row, less for more rows, whose arithmetic per
// weight byte grows with them, down to k_min_split_bytes (MLA's per-head 32 KiB products stay whole).
// V4's prefill runs its routed experts one at a time, 1-16 rows against 272 KiB of FP4 each, which
// all stayed on one thread (v4-0.5g, 128-token prompt, MNEME_CPU_PROFILE: 1-4 rows 119 -> 84 us,
// 5-16 rows 170 -> 125 us a product; prefill 766/802/797 -> 864/840/810 tokens/s, alternated).
std::size_t few_rows_tiles(const weight_view& w) {
    return static_cast<std::size_t>((w.n + k_tile_rows - 1) / k_tile_rows);
}
std::size_t few_rows_grain(const weight_view& w, int64_t rows) {
    const int64_t tile_bytes = std::max<int64_t>(1, k_tile_rows * w.row_bytes);
    const int64_t min_bytes = std::max(k_min_split_bytes, k_min_bytes_per_thread / std::max<int64_t>(1, rows));
    return static_cast<std::size_t>(std::max<int64_t>(1, min_bytes / tile_bytes));
}

bool matmul_few_rows(const exec_ctx& ex, const kernel_table& kt, const float* x, int64_t rows, int64_t x_stride,
                     const weight_view& w, float* y, int64_t y_stride, double alpha) {
    if (!few_rows_apply(kt, rows, w)) return false;
    const bool scaled = w.scale_fmt != scale_format::none;
    const int64_t block_k = scaled ? w.block_k : w.k;
    const int64_t n_blocks = (w.k + block_k - 1) / block_k;
    const std::size_t tiles = few_rows_tiles(w), grain = few_rows_grain(w, rows);
    const int64_t weight_bytes = w.n * w.row_bytes;
    // Rows requested ahead in each stream (0: none; see row-prefetch.cpp).
    const row_prefetch_plan prefetch =
        rows == 1 ? row_prefetch_for_one_row(weight_bytes) : row_prefetch_current(weight_bytes);
    const int64_t prefetch_rows = prefetch.rows;
    const auto started = prefetch.timed ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
    const int64_t scale_row_bytes = scaled ? n_blocks * (w.scale_fmt == scale_format::f32 ? 4 : 1) : 0;
    const float a = static_cast<float>(alpha);
    // FP4 and FP8 rows take their activations as bf16 where every activation is one exactly (V3.2's
    // and V4's FP8-rounded inputs; bf16_act_kernels; xb rows xb_stride apart), else FP4 rows take them in
    // the kernels' order (kernel_table::e2m1_x_layout) and FP8 rows widened where that is used.
    std::vector<float> arranged_store;
    const float* xd = x;  // the activations as dot and dot_weight_rows take them
    int64_t xd_stride = x_stride;
    const bf16_act_kernels* xk =
        w.format == weight_format::e2m1                                                           ? &kt.e2m1_bf16
        : w.format == weight_format::e4m3 && w.no_nan_codes && w.k % 64 == 0 && block_k % 64 == 0 ? &kt.e4m3_bf16
                                                                                                  : nullptr;
    const uint16_t* xb = nullptr;
    const int64_t xb_stride = rows > 1 ? unaliased_stride(w.k, 2) : w.k;
    if (xk && xk->layout && any_row_may_be_bf16(x, rows, x_stride, w.k)) {
        auto* b = reinterpret_cast<uint16_t*>(aligned_floats(arranged_store, (rows * xb_stride + 1) / 2));
        int64_t exact = 0;
        for (int64_t r = 0; r < rows; ++r) exact += xk->layout(x + r * x_stride, w.k, b + r * xb_stride) ? 1 : 0;
        if (exact == rows) {
            xb = b;
        } else if (exact > 0) {
            // Some rows bf16, some not (FP8 rounding rounds all of a product's rows or none): each
            // row alone, so that it is summed as it would be alone.
            for (int64_t r = 0; r < rows; ++r) {
                matmul_few_rows(ex, kt, x + r * x_stride, 1, x_stride, w, y + r * y_stride, y_stride, alpha);
            }
            return true;
        }
    }
    std::vector<float> wide_store;
    const int64_t wide_stride = unaliased_stride(w.k, 4);
    const float* wide = !xb && w.format == weight_format::e4m3 && kt.dot_e4m3_wide && e4m3_widening_used()
                            ? widen_rows(x, rows, x_stride, w.k, wide_stride, wide_store)
                            : nullptr;
    // A decode-sized product's scale rows, where each weight row has its own packed row of e8m0 codes
    // (FP4 experts: 32 codes a row), are converted k_scale_batch_rows rows at a time: converted row
    // by row they cost a one-row 512 x 1024 product 2.4 of its 13.5 us (one thread, warm, Zen 5).
    // (Not when a stream steps over several weight rows at a time; see walk below.)
    const bool stepped_walk = !(rows == 1 && kt.dot_weight_rows) && rows > kt.dot_max_rows &&
                              rows * (wide ? wide_stride : w.k) * 4 > group_step_min_bytes();
    const bool batch_scales = !stepped_walk && scaled && w.block_n == 1 && block_k == w.block_k &&
                              w.scale_fmt == scale_format::e8m0 && kt.e8m0_scales && w.scale_row_elems == n_blocks;
    std::vector<float> unaliased_store;
    if (!xb && w.format == weight_format::e2m1 && kt.e2m1_x_layout) {
        const int64_t stride = rows > 1 ? unaliased_stride(w.k, 4) : w.k;
        float* arranged = aligned_floats(arranged_store, rows * stride);
        for (int64_t r = 0; r < rows; ++r) kt.e2m1_x_layout(x + r * x_stride, w.k, arranged + r * stride);
        xd = arranged;
        xd_stride = stride;
    } else if (!xb && !wide) {
        xd = unaliased_rows(x, rows, w.k, xd_stride, unaliased_store);
    }
    parallel(ex, tiles, grain, [&](std::size_t t0, std::size_t t1) {
        const bool use_wide = wide && subnormals_kept();
        const int64_t n_begin = static_cast<int64_t>(t0) * k_tile_rows;
        const int64_t n_end = std::min<int64_t>(w.n, static_cast<int64_t>(t1) * k_tile_rows);
        struct stream {
            int64_t next = 0, end = 0;
            // Of the block row `next` is in: n_blocks of scale_store; with batched scale rows, those
            // of rows [batch_first, batch_end), n_blocks each.
            float* scales = nullptr;
            int64_t batch_first = 0, batch_end = 0;
        };
        const int64_t scale_rows = batch_scales ? k_scale_batch_rows : 1;
        // Written before it is read where the weights have scales (filling it cost a one-row FP4
        // product ~4 %); unscaled rows take it as one block of scale 1.
        const auto scale_store =
            std::make_unique_for_overwrite<float[]>(static_cast<std::size_t>(k_row_streams * scale_rows * n_blocks));
        if (!scaled) std::fill_n(scale_store.get(), k_row_streams * n_blocks, 1.0f);
        stream streams[k_row_streams];
        const int64_t per_stream = (n_end - n_begin + k_row_streams - 1) / k_row_streams;
        for (int i = 0; i < k_row_streams; ++i) {
            stream& st = streams[i];
            st.next = std::min(n_end, n_begin + i * per_stream);
            st.end = std::min(n_end, st.next + per_stream);
            st.scales = scale_store.get() + i * scale_rows * n_blocks;
            if (scaled && st.next < st.end && !batch_scales) load_scales(kt, w, st.next, n_blocks, block_k, st.scales);
        }
        // Row n's scales, n being the stream's next row, in float32.
        const auto scales_of_next = [&](stream& st, int64_t n) -> const float* {
            if (!batch_scales) {
                if (scaled && n % w.block_n == 0) load_scales(kt, w, n, n_blocks, block_k, st.scales);
                return st.scales;
            }
            if (n >= st.batch_end) {
                st.batch_first = n;
                st.batch_end = std::min(st.end, n + k_scale_batch_rows);
                kt.e8m0_scales(w.scale + n * n_blocks, (st.batch_end - n) * n_blocks, st.scales);
                // The next batch's codes are requested now (k_scale_batch_rows rows' worth).
                const uint8_t* ahead = w.scale + st.batch_end * n_blocks;
                const int64_t ahead_bytes =
                    (std::min(st.end, st.batch_end + k_scale_batch_rows) - st.batch_end) * n_blocks;
                for (int64_t off = 0; off < ahead_bytes; off += 64) __builtin_prefetch(ahead + off);
            }
            return st.scales + (n - st.batch_first) * n_blocks;
        };
        std::vector<float> buf;
        // (few_rows_apply has checked the format, and FP4's shape, for dot_weight_rows as for dot.)
        const bool weight_rows = rows == 1 && kt.dot_weight_rows;
        // Activation rows [r0, r0 + dot_max_rows) against weight row n; false on NaN codes. The
        // kernel keeps one accumulator per activation row, so a row's sum does not depend on the
        // rows beside it.
        const auto dot_group = [&](int64_t r0, int64_t n, const float* scales, float* out) {
            const int64_t cnt = std::min<int64_t>(kt.dot_max_rows, rows - r0);
            const uint8_t* row = w.data + n * w.row_bytes;
            if (xb) return xk->dot(xb + r0 * xb_stride, xb_stride, cnt, row, w.k, scales, block_k, out + r0);
            return use_wide ? kt.dot_e4m3_wide(wide + r0 * wide_stride, wide_stride, cnt, row, w.k, scales, block_k,
                                               out + r0, w.no_nan_codes)
                            : kt.dot(w.format, xd + r0 * xd_stride, xd_stride, cnt, row, w.k, scales, block_k, out + r0,
                                     w.no_nan_codes);
        };
        const auto store_row = [&](int64_t n, bool decoded, float* out) {
            if (!decoded) {
                // NaN codes: decode the row as the reference does and multiply it plainly.
                buf.resize(static_cast<std::size_t>(w.k));
                decode_range(kt, w, n, 0, w.k, buf.data());
                const float* row_ptr = buf.data();
                kt.gemm_nt(x, x_stride, rows, &row_ptr, 1, w.k, out, 1, false);
            }
            for (int64_t r = 0; r < rows; ++r) y[r * y_stride + n] = alpha == 1.0 ? out[r] : out[r] * a;
        };
        // One activation row (decode): the next row of every stream in one dot_weight_rows call.
        // False when every stream is done.
        const auto round_of_streams = [&] {
            const uint8_t* row_ptrs[k_row_streams];
            const float* row_scales[k_row_streams];
            int64_t ns[k_row_streams];
            int64_t count = 0;
            for (stream& st : streams) {
                if (st.next >= st.end) continue;
                const int64_t n = st.next++;
                const float* scales = scales_of_next(st, n);
                if (prefetch_rows > 0 && n + prefetch_rows < st.end) {
                    const uint8_t* ahead = w.data + (n + prefetch_rows) * w.row_bytes;
                    for (int64_t off = 0; off < w.row_bytes; off += 64) __builtin_prefetch(ahead + off);
                    if (scaled && !batch_scales && (n + prefetch_rows) % w.block_n == 0) {
                        const uint8_t* s = scale_row_of(w, n + prefetch_rows);
                        for (int64_t off = 0; off < scale_row_bytes; off += 64) __builtin_prefetch(s + off);
                    }
                }
                row_ptrs[count] = w.data + n * w.row_bytes;
                row_scales[count] = scales;
                ns[count++] = n;
            }
            if (count == 0) return false;
            float out[k_row_streams];
            if (xb ? xk->dot_weight_rows(xb, row_ptrs, count, w.k, row_scales, block_k, out)
                   : kt.dot_weight_rows(w.format, use_wide, use_wide ? wide : xd, row_ptrs, count, w.k, row_scales,
                                        block_k, out, w.no_nan_codes)) {
                for (int64_t j = 0; j < count; ++j) y[ns[j]] = alpha == 1.0 ? out[j] : out[j] * a;
                return true;
            }
            for (int64_t j = 0; j < count; ++j) {  // a NaN code among them: each row alone
                float one = 0.0f;
                const bool decoded = dot_group(0, ns[j], row_scales[j], &one);
                store_row(ns[j], decoded, &one);
            }
            return true;
        };
        // Several activation rows: two instances of the walk over the streams, one weight row per
        // step and steps of weight rows. One activation row takes round_of_streams instead.
        const auto walk = [&](auto stepped) {
            for (bool more = true; more;) {
                more = false;
                for (stream& st : streams) {
                    if (st.next >= st.end) continue;
                    more = true;
                    if constexpr (!decltype(stepped)::value) {
                        const int64_t n = st.next++;
                        // The scale row changes only every block_n weight rows. Rows ahead are
                        // requested now where the process's trial found that faster (row-prefetch.cpp:
                        // on some hosts the hardware prefetcher alone leaves short rows waiting on
                        // misses, on others the requests cost more). (The prefetches are written out
                        // where used: GCC judged a lambda holding only prefetches free of effects and
                        // dropped its calls.)
                        const float* scales = scales_of_next(st, n);
                        if (prefetch_rows > 0 && n + prefetch_rows < st.end) {
                            const uint8_t* ahead = w.data + (n + prefetch_rows) * w.row_bytes;
                            for (int64_t off = 0; off < w.row_bytes; off += 64) __builtin_prefetch(ahead + off);
                            if (scaled && !batch_scales && (n + prefetch_rows) % w.block_n == 0) {
                                const uint8_t* s = scale_row_of(w, n + prefetch_rows);
                                for (int64_t off = 0; off < scale_row_bytes; off += 64) __builtin_prefetch(s + off);
                            }
                        }
                        float out[k_exact_rows];
                        bool decoded = true;
                        for (int64_t r0 = 0; r0 < rows && decoded; r0 += kt.dot_max_rows) {
                            decoded = dot_group(r0, n, scales, out);
                        }
                        store_row(n, decoded, out);
                    } else {
                        // A step of weight rows within one scale row, each group of activations over all.
                        const int64_t n0 = st.next;
                        int64_t n1 = std::min(st.end, n0 + k_group_step_rows);
                        if (scaled) n1 = std::min(n1, (n0 / w.block_n + 1) * w.block_n);
                        st.next = n1;
                        if (scaled && n0 % w.block_n == 0) load_scales(kt, w, n0, n_blocks, block_k, st.scales);
                        float out[k_group_step_rows][k_exact_rows];
                        bool decoded[k_group_step_rows];
                        for (int64_t r0 = 0; r0 < rows; r0 += kt.dot_max_rows) {
                            for (int64_t n = n0; n < n1; ++n) {
                                if (r0 == 0) {  // this stream's next step, a row at a time
                                    if (prefetch_rows > 0 && n + k_group_step_rows < st.end) {
                                        const uint8_t* ahead = w.data + (n + k_group_step_rows) * w.row_bytes;
                                        for (int64_t off = 0; off < w.row_bytes; off += 64) {
                                            __builtin_prefetch(ahead + off);
                                        }
                                    }
                                    decoded[n - n0] = true;
                                }
                                if (decoded[n - n0]) decoded[n - n0] = dot_group(r0, n, st.scales, out[n - n0]);
                            }
                        }
                        for (int64_t n = n0; n < n1; ++n) store_row(n, decoded[n - n0], out[n - n0]);
                    }
                }
            }
        };
        // One activation row where the kernels walk the streams themselves (dot_row_streams): calls
        // in chunks of rounds within which no stream enters another scale row, or, with batched
        // scale rows, takes more rows than a batch.
        const bool walked_by_kernel =
            weight_rows && (xb ? xk->dot_row_streams != nullptr
                               : kt.dot_row_streams && (w.format != weight_format::e4m3 || w.no_nan_codes));
        const auto chunk_of_streams = [&] {
            row_stream rs[k_row_streams];
            stream* active[k_row_streams];
            int count = 0;
            int64_t rounds = batch_scales ? k_scale_batch_rows : std::numeric_limits<int64_t>::max();
            for (stream& st : streams) {
                if (st.next >= st.end) continue;
                active[count++] = &st;
                rounds = std::min(rounds, st.end - st.next);
                if (scaled && !batch_scales) rounds = std::min(rounds, w.block_n - st.next % w.block_n);
            }
            if (count == 0) return false;
            for (int i = 0; i < count; ++i) {
                stream& st = *active[i];
                const int64_t n = st.next;
                if (batch_scales) {
                    kt.e8m0_scales(w.scale + n * n_blocks, rounds * n_blocks, st.scales);
                    const uint8_t* ahead = w.scale + (n + rounds) * n_blocks;  // the next chunk's codes
                    const int64_t ahead_bytes = std::min(st.end - (n + rounds), k_scale_batch_rows) * n_blocks;
                    for (int64_t off = 0; off < ahead_bytes; off += 64) __builtin_prefetch(ahead + off);
                } else if (scaled && n % w.block_n == 0) {
                    load_scales(kt, w, n, n_blocks, block_k, st.scales);
                }
                rs[i] = {w.data + n * w.row_bytes, st.scales, y + n, st.end - (n + rounds)};
                st.next += rounds;
            }
            const int64_t scale_step = batch_scales ? n_blocks : 0;
            if (xb ? xk->dot_row_streams(xb, rs, count, rounds, w.row_bytes, scale_step, prefetch_rows, w.k, block_k, a)
                   : kt.dot_row_streams(w.format, use_wide, use_wide ? wide : xd, rs, count, rounds, w.row_bytes,
                                        scale_step, prefetch_rows, w.k, block_k, a)) {
                return true;
            }
            for (int i = 0; i < count; ++i) {  // not taken after all: each row alone
                const int64_t n0 = active[i]->next - rounds;
                for (int64_t n = n0; n < n0 + rounds; ++n) {
                    float one = 0.0f;
                    store_row(n, dot_group(0, n, rs[i].scales + (n - n0) * scale_step, &one), &one);
                }
            }
            return true;
        };
        if (walked_by_kernel) {
            while (chunk_of_streams()) {
            }
        } else if (weight_rows) {
            while (round_of_streams()) {
            }
        } else if (stepped_walk) {
            walk(std::true_type{});
        } else {
            walk(std::false_type{});
        }
    });
    if (prefetch.timed) {
        const auto ns =
            std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - started);
        row_prefetch_record(prefetch, ns.count(), weight_bytes);
    }
    return true;
}

// Prefill-sized products: tiles of k_panel_cols weight rows are decoded, transposed into a packed
// panel (column by column) and multiplied by broadcasting activations against it (see
// kernel_table::gemm_panel). Returns false when the instruction set has no such kernel.
bool matmul_panel(const exec_ctx& ex, const kernel_table& kt, const float* x, int64_t rows, int64_t x_stride,
                  const weight_view& w, float* y, int64_t y_stride, double alpha) {
    if (!kt.gemm_panel || !kt.pack_panel || rows < k_panel_min_rows) return false;
    const int64_t kdim = w.k;
    // The activation chunk stays in L2 and the panel (32 × kc floats) in L1/L2.
    const auto tiles = static_cast<std::size_t>((w.n + k_panel_cols - 1) / k_panel_cols);
    // Narrow products (fewer panels than a pool has threads) split their rows as well, each run
    // decoding its panel again.
    const int64_t runs = tiles >= k_min_panel_items ? 1 : std::min<int64_t>(k_min_panel_items, (rows + 63) / 64);
    const int64_t run_rows = (rows + runs - 1) / runs;
    int64_t kc = std::min<int64_t>(kdim, k_panel_max_k);
    if (run_rows * kc * 4 > k_x_chunk_bytes) kc = std::max<int64_t>(64, k_x_chunk_bytes / (4 * run_rows) / 16 * 16);
    kc = std::max<int64_t>(1, std::min(kc, kdim));
    const float a = static_cast<float>(alpha);
    parallel(ex, tiles * static_cast<std::size_t>(runs), 1, [&](std::size_t i0, std::size_t i1) {
        // Weights decoded into the panel directly; where decode_panel cannot (odd scale blocks),
        // decoded rows (row-major, as decode writes them) transposed 16 × 16 in registers.
        // The panel is written whole (len rows, zero beyond cnt) before gemm_panel reads it, so it
        // is not zeroed: with several ranges per thread each product allocates it several times.
        std::vector<float> rowbuf;
        const auto panel_store = std::make_unique_for_overwrite<float[]>(static_cast<std::size_t>(k_panel_cols * kc));
        float* const panel = panel_store.get();
        for (int64_t k0 = 0; k0 < kdim; k0 += kc) {
            const int64_t len = std::min(kc, kdim - k0);
            for (std::size_t i = i0; i < i1; ++i) {
                const int64_t t = static_cast<int64_t>(i) / runs, r0 = static_cast<int64_t>(i) % runs * run_rows;
                const int64_t r_cnt = std::min(run_rows, rows - r0);
                if (r_cnt <= 0) continue;
                const int64_t n0 = t * k_panel_cols;
                const int64_t cnt = std::min(k_panel_cols, w.n - n0);
                if (!kt.decode_panel || !kt.decode_panel(w, n0, cnt, k0, len, panel)) {
                    rowbuf.resize(static_cast<std::size_t>(k_panel_cols * kc));
                    for (int64_t j = 0; j < cnt; ++j) decode_range(kt, w, n0 + j, k0, len, rowbuf.data() + j * kc);
                    kt.pack_panel(rowbuf.data(), kc, cnt, len, panel);
                }
                kt.gemm_panel(x + r0 * x_stride + k0, x_stride, r_cnt, panel, cnt, len, y + r0 * y_stride + n0,
                              y_stride, k0 > 0);
            }
        }
        if (alpha == 1.0) return;
        for (std::size_t i = i0; i < i1; ++i) {
            const int64_t t = static_cast<int64_t>(i) / runs, r0 = static_cast<int64_t>(i) % runs * run_rows;
            const int64_t n0 = t * k_panel_cols;
            const int64_t n1 = std::min(n0 + k_panel_cols, w.n);
            for (int64_t r = r0; r < std::min(rows, r0 + run_rows); ++r) {
                for (int64_t n = n0; n < n1; ++n) y[r * y_stride + n] *= a;
            }
        }
    });
    return true;
}

}  // namespace

void matmul(const exec_ctx& ex, const float* x, int64_t rows, int64_t x_stride, const weight_view& w, float* y,
            int64_t y_stride, double alpha) {
    if (rows <= 0 || w.n <= 0) return;
    const kernel_table& kt = active_kernels();
    if (matmul_few_rows(ex, kt, x, rows, x_stride, w, y, y_stride, alpha)) return;  // lays its rows out itself
    // Rows to be laid apart (unaliased_rows) go a block at a time where all of them would outgrow
    // the thread's kept buffer: a long prompt's copy would otherwise be a transient as large as its
    // activations, which no memory plan counts.
    if (rows_alias(x_stride)) {
        const auto padded = static_cast<std::size_t>(unaliased_stride(w.k, 4));
        const auto block = static_cast<int64_t>(std::max<std::size_t>(1, k_unalias_keep_floats / padded));
        if (rows > block) {
            const int64_t blocks = (rows + block - 1) / block, per = (rows + blocks - 1) / blocks;
            for (int64_t r0 = 0; r0 < rows; r0 += per) {
                matmul(ex, x + r0 * x_stride, std::min(per, rows - r0), x_stride, w, y + r0 * y_stride, y_stride,
                       alpha);
            }
            return;
        }
    }
    std::vector<float> x_copy;
    x = unaliased_rows(x, rows, w.k, x_stride, x_copy);
    if (rows >= k_panel_min_rows && kt.matmul_tiles && kt.matmul_tiles(ex, x, rows, x_stride, w, y, y_stride, alpha)) {
        return;
    }
    if (matmul_panel(ex, kt, x, rows, x_stride, w, y, y_stride, alpha)) return;
    const int64_t kdim = w.k;
    // Split K only when the activation rows would not fit in L2 together, and never for up to
    // k_exact_rows rows (where no register-decoding kernel takes them): a split sums each row in
    // another order than the row alone would be.
    int64_t kc = kdim;
    if (rows > k_exact_rows && rows * kdim * 4 > k_x_chunk_bytes) {
        kc = std::max<int64_t>(256, k_x_chunk_bytes / (4 * rows) / 64 * 64);
    }
    kc = std::max<int64_t>(1, std::min(kc, kdim));
    // Plain float32 rows are used in place.
    const bool in_place = w.format == weight_format::f32 && w.scale_fmt == scale_format::none && w.row_bytes % 4 == 0;
    // A few activation rows against few, long float32 rows (V4's mHC mixes: 24 x 4096 per decoding
    // step) split into tiles of 16 rows gave one thread twice the other's share; tiles of k_small_tile_rows
    // (a micro-kernel's width) split them evenly. Nothing is decoded, so a short tile costs nothing more.
    const int64_t tile_rows = in_place && rows <= k_small_tile_max_act_rows ? k_small_tile_rows : k_tile_rows;
    const auto tiles = static_cast<std::size_t>((w.n + tile_rows - 1) / tile_rows);
    const float a = static_cast<float>(alpha);
    parallel(ex, tiles, 1, [&](std::size_t t0, std::size_t t1) {
        std::vector<float> buf(in_place ? 0 : static_cast<std::size_t>(k_tile_rows * kc));
        const float* rows_of_tile[k_tile_rows];
        for (int64_t k0 = 0; k0 < kdim; k0 += kc) {
            const int64_t len = std::min(kc, kdim - k0);
            for (std::size_t t = t0; t < t1; ++t) {
                const int64_t n0 = static_cast<int64_t>(t) * tile_rows;
                const int64_t cnt = std::min(tile_rows, w.n - n0);
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
            const int64_t n0 = static_cast<int64_t>(t) * tile_rows;
            const int64_t n1 = std::min(n0 + tile_rows, w.n);
            for (int64_t r = 0; r < rows; ++r) {
                for (int64_t n = n0; n < n1; ++n) y[r * y_stride + n] *= a;
            }
        }
    });
}

bool matmul_on_one_thread(int64_t rows, const weight_view& w) {
    if (rows <= 0 || w.n <= 0 || reference_only()) return false;
    // parallel() runs a range of at most `grain` items on the calling thread.
    return few_rows_apply(active_kernels(), rows, w) && few_rows_tiles(w) <= few_rows_grain(w, rows);
}

bool matmul_whole_on_a_thread(int64_t rows, const weight_view& w) {
    if (rows <= 0 || w.n <= 0 || reference_only()) return false;
    const kernel_table& kt = active_kernels();
    if (few_rows_apply(kt, rows, w)) return w.n * w.row_bytes <= k_whole_product_max_bytes;
    // Prefill-sized products of small weights, such as MLA's per-head 32 KiB products for every
    // prompt token: split, each thread gets a few panels and waits on the others' at the end of
    // every product; side by side, a thread runs whole products. A panel product's result does not
    // depend on how it is split.
    return rows >= k_panel_min_rows && kt.gemm_panel && !kt.matmul_tiles && w.n * w.row_bytes <= k_min_split_bytes;
}

void matmul_side_by_side(const exec_ctx& ex, const matmul_item* items, std::size_t n) {
    parallel(ex, n, 1, [&](std::size_t i0, std::size_t i1) {
        const exec_ctx alone{};  // this thread only: the other threads take the other products
        for (std::size_t i = i0; i < i1; ++i) {
            const matmul_item& it = items[i];
            matmul(alone, it.x, it.rows, it.x_stride, it.w, it.y, it.y_stride, it.alpha);
        }
    });
}

}  // namespace mneme::kernels::fast

namespace mneme::kernels::fast {

void decode_row(const weight_view& w, int64_t n, float* out) { decode_range(active_kernels(), w, n, 0, w.k, out); }

}  // namespace mneme::kernels::fast
