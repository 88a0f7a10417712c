// The per-instruction-set building blocks of the fast kernels. The drivers (matmul-fast.cpp,
// attention-fast.cpp) own threading and blocking; these functions own the inner loops.
#pragma once

#include <cstdint>
#include <cstring>

#include "mneme_kernels/cpu-fast.h"

namespace mneme::kernels::fast {

// An e8m0 block scale code in float32.
inline float e8m0_scale(uint8_t code) {
    // 2^(b-127) built from its bits (e8m0_to_f32 goes through ldexp, too slow once per 32 elements);
    // b = 0 is the float32 subnormal 2^-127 and b = 255 is NaN, as in e8m0_to_f32.
    const uint32_t b = code;
    const uint32_t bits = b == 0 ? 0x00400000u : b == 255 ? 0x7fc00000u : b << 23;
    float s;
    std::memcpy(&s, &bits, 4);
    return s;
}

// Block scale number idx (block row · scale_row_elems + block column) in float32.
inline float block_scale_at(const weight_view& w, int64_t idx) {
    if (w.scale_fmt == scale_format::none) return 1.0f;
    if (w.scale_fmt == scale_format::f32) {
        float s;
        std::memcpy(&s, w.scale + idx * 4, 4);
        return s;
    }
    return e8m0_scale(w.scale[idx]);
}

// The block scale of weight element (n, k) in float32 (1 when the weight has none).
inline float weight_block_scale(const weight_view& w, int64_t n, int64_t k) {
    if (w.scale_fmt == scale_format::none) return 1.0f;
    return block_scale_at(w, (n / w.block_n) * w.scale_row_elems + (k / w.block_k));
}

// Weight rows per packed panel (two AVX-512 vectors).
inline constexpr int64_t k_panel_cols = 32;

// One stream of weight rows for kernel_table::dot_row_streams: consecutive rows from `row`, each
// with the block scales at `scales` (one scale row for all of them), results stored from `out` on.
struct row_stream {
    const uint8_t* row = nullptr;
    const float* scales = nullptr;
    float* out = nullptr;
    int64_t rows_after = 0;  // the stream's rows beyond this call's: how far ahead rows may be requested
};

// Products of FP4 or FP8 weight rows against activations that bf16 holds exactly (e4m3 codes times
// a power of two: V3.2's and V4's FP8-rounded inputs), on vdpbf16ps: each product of such an
// activation and a weight code (2 or 4 significant bits) is exact, and two of them are summed per
// lane and instruction. layout writes x (len a multiple of the step: 32 for FP4, 64 for FP8) as
// bf16 in the order the dots take, and returns whether every element was a bf16 value exactly,
// zero or normal (otherwise the caller takes dot's float32 path). dot, dot_weight_rows and
// dot_row_streams are kernel_table's for those activations, on their shapes (block_k a multiple of
// the step; false, computing nothing, otherwise; FP8 rows the caller has checked for NaN codes):
// the same exact products, summed in another order than the float32 kernels, and as there each
// row pair's result the same whatever rows are beside it, bit for bit across the three.
struct bf16_act_kernels {
    bool (*layout)(const float* x, int64_t len, uint16_t* out) = nullptr;
    bool (*dot)(const uint16_t* x, int64_t x_stride, int64_t rows, const uint8_t* row, int64_t len, const float* scales,
                int64_t block_k, float* out) = nullptr;
    bool (*dot_weight_rows)(const uint16_t* x, const uint8_t* const* row, int64_t count, int64_t len,
                            const float* const* scales, int64_t block_k, float* out) = nullptr;
    bool (*dot_row_streams)(const uint16_t* x, const row_stream* streams, int n_streams, int64_t count,
                            int64_t row_bytes, int64_t scale_step, int64_t prefetch_rows, int64_t len, int64_t block_k,
                            float alpha) = nullptr;
};

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
    // Prefill-sized products against a packed panel of k_panel_cols weight rows stored column by
    // column (panel[k * k_panel_cols + j] = W[j, k], zero beyond n): y[r, j] (= or +=)
    // sum_k x[r, k] * panel[k, j] for r < rows, j < n <= k_panel_cols. Each activation element is
    // broadcast against the panel's vectors, so outputs stay in registers for the whole length.
    // Null where the instruction set has no such kernel.
    void (*gemm_panel)(const float* x, int64_t x_stride, int64_t rows, const float* panel, int64_t n, int64_t len,
                       float* y, int64_t y_stride, bool accumulate);
    // Packs rows[j * ld + k] (j < n <= k_panel_cols, k < len) into panel[k * k_panel_cols + j], zero
    // for j >= n: the layout gemm_panel reads. Null with gemm_panel.
    void (*pack_panel)(const float* rows, int64_t ld, int64_t n, int64_t len, float* panel);
    // Decodes weight rows n0 .. n0+n (n <= k_panel_cols), columns k0 .. k0+len, straight into the
    // layout pack_panel writes, with exactly the values decode gives (so the products are the same
    // bit for bit). Returns false, writing nothing, when it cannot (format, or block scales that
    // change inside a 16-column step); the caller then decodes and packs. Null where absent.
    bool (*decode_panel)(const weight_view& w, int64_t n0, int64_t n, int64_t k0, int64_t len, float* panel);
    // Decode-time GEMV that decodes weights in registers (no row buffer): out[r] =
    // sum_k x[r, k] * W(row[k]) * scales[k / block_k] for r < rows <= dot_max_rows, k < len, for FP8 e4m3
    // and bf16 rows (and FP4 where dot_e2m1). Each block's partial sum is scaled once, so results differ from
    // decode-then-multiply only in rounding. Returns false, computing nothing, for other formats
    // and for e4m3 rows holding a NaN code (0x7f/0xff): the caller then takes the decoding path,
    // which reproduces them. With codes_checked the caller vouches that the row holds none (see
    // weight_view::no_nan_codes) and the row is not scanned for them. Null where the instruction
    // set has no such kernel.
    bool (*dot)(weight_format fmt, const float* x, int64_t x_stride, int64_t rows, const uint8_t* row, int64_t len,
                const float* scales, int64_t block_k, float* out, bool codes_checked);
    // The lightning indexer's head sum: out[j] = sum over h = 0, 1, ... of w[h] * max(dots[h *
    // dot_stride + j], 0) for j < n, summed in that order from 0 with separate multiply and add
    // (the reference kernel's rounding, bit for bit).
    void (*relu_head_sum)(const float* dots, int64_t dot_stride, const float* w, int64_t heads, int64_t n, float* out);
    // One query's indexer dots without packing the keys: dots[h * dot_stride + j] = sum over c = 0,
    // 1, ... of q[h * d + c] * keys[j][c] for h < heads, j < n, each a chain of fused multiply-adds
    // from zero in that order (gemm_panel's arithmetic, so the same values bit for bit). The heads
    // ride in the vector lanes and each key element is broadcast, so only the 16 dots of a key are
    // transposed, not its d elements. qt is q as pack_heads lays it out. Returns false, computing
    // nothing, for more than 128 heads. Null where the instruction set has no such kernel.
    bool (*head_dots)(const float* qt, int64_t heads, const float* const* keys, int64_t n, int64_t d, float* dots,
                      int64_t dot_stride);
    // The most activation rows one dot call takes. Each row's sum is computed in the same order
    // whatever the number of rows beside it, so a row's result never depends on its group.
    int64_t dot_max_rows;
    // A whole prefill-sized matmul (y = alpha * x · Wᵀ, rows > 16) on matrix tiles, or false,
    // computing nothing, for weights it cannot take exactly. Null where the CPU has no tiles.
    bool (*matmul_tiles)(const exec_ctx& ex, const float* x, int64_t rows, int64_t x_stride, const weight_view& w,
                         float* y, int64_t y_stride, double alpha);
    // The indexer's dots of a prefill-sized batch on matrix tiles. tile_query_parts splits the
    // query rows (rows × d float32) into three BF16 parts that sum to them exactly, in
    // tile_parts_size(rows, d) elements; tile_dots then sets dots[r · dot_stride + j] = sum over
    // c of q[r, c] · key_j[c] for r < rows, j < n, keys being BF16 rows (keys[j · key_stride + c]):
    // the exact products summed in float32 in another order than gemm_panel. Null where absent.
    void (*tile_query_parts)(const float* q, int64_t rows, int64_t d, uint16_t* parts);
    void (*tile_dots)(const uint16_t* parts, int64_t rows, int64_t d, const uint16_t* keys, int64_t key_stride,
                      int64_t n, float* dots, int64_t dot_stride);
    // Top-k's order-preserving keys: keys[i] = order_key(x[i]) for i < n (see below). Returns one
    // past the last position whose key is not that of -inf (0 when every score is -inf).
    int64_t (*order_keys)(const float* x, int64_t n, uint32_t* keys);
    // One block of V3.2's FP8 activation round trip (y = x through e4m3 with the block's power-of-two
    // scale), the reference's values bit for bit. Returns false, writing nothing, when the block
    // holds NaN, infinity or magnitudes above 2^100 (the caller then takes the reference).
    bool (*quant_block_e4m3)(const float* x, int64_t n, float* y);
    // y[i] = y[i] + w * x[i] for i < n, a multiplication then an addition (the reference's two
    // roundings, not a fused multiply-add).
    void (*add_scaled)(const float* x, float w, int64_t n, float* y);
    // dot for e4m3 rows with activations given times k_e4m3_wide_unit (x_wide, laid out as x):
    // each weight then becomes a float32 from its bits alone (value · 2^-120, a subnormal for e4m3's
    // subnormals) instead of through float16, fewer instructions per weight. The products equal
    // dot's bit for bit (both are the true product times 2^-8), provided every finite |x| is below
    // k_e4m3_wide_limit and subnormal inputs are not flushed to zero (MXCSR.DAZ clear); the caller
    // checks both, and uses this only where subnormal inputs are cheap (e4m3_widening_used).
    // Returns false, computing nothing, for rows holding a NaN code, as dot does (codes_checked as
    // there). Null where absent.
    bool (*dot_e4m3_wide)(const float* x_wide, int64_t x_stride, int64_t rows, const uint8_t* row, int64_t len,
                          const float* scales, int64_t block_k, float* out, bool codes_checked);
    // Softmax's numerators in place: s[j] = exp(s[j] * scale - m) for j < n (n >= 1), m being the
    // largest s[j] * scale (NaN ignored for it, as std::max ignores it); sets *max_out = m and
    // returns the numerators' sum. exp is a polynomial within 2 ulp of std::exp (the float32
    // path's rounding, not the reference's bits), the same for a value wherever it sits in s.
    // Null where absent (attention then calls std::exp).
    float (*scaled_exp)(float* s, int64_t n, float scale, float* max_out);
    // SwiGLU over n elements: y[i] = g / (1 + exp(-g)) * u, with g = min(gate[i], limit) and u =
    // up[i] clamped to [-limit, limit] when limit > 0, then times *weight when weight is not null:
    // the reference's operations in its order, exp being scaled_exp's. Null where absent.
    void (*swiglu)(const float* gate, const float* up, int64_t n, float limit, const float* weight, float* y);
    // Whether dot takes FP4 (e2m1) rows as well, for len and block_k multiples of 32 (whole bytes of
    // 32 codes; it returns false for other shapes), with the activations laid out by e2m1_x_layout.
    // FP4 has no NaN code.
    bool dot_e2m1;
    // One activation row against `count` (1-4) weight rows, row[j] with its block scales scales[j]:
    // out[j] is, bit for bit, what dot (or dot_e4m3_wide when `wide`, x then being x_wide) gives for
    // weight row j alone, from one pass over the activations. e4m3, bf16 and (where dot_e2m1, on
    // dot's shapes) e2m1 rows; returns false, computing nothing, for other formats and shapes and
    // when any of the rows holds a NaN code (codes_checked as in dot). Null where absent.
    bool (*dot_weight_rows)(weight_format fmt, bool wide, const float* x, const uint8_t* const* row, int64_t count,
                            int64_t len, const float* const* scales, int64_t block_k, float* out, bool codes_checked);
    // out[i] = block_scale_at's float32 for the e8m0 scale code codes[i], i < n: 2^(c-127), the
    // subnormal 2^-127 for 0 and NaN for 255. FP4 experts take a row of K/32 of them per weight row,
    // converted before the row is multiplied.
    void (*e8m0_scales)(const uint8_t* codes, int64_t n, float* out);
    // The order in which dot and dot_weight_rows take the activations of e2m1 rows: out is x (len a
    // multiple of 32) rearranged into it. Null where they take x as it is. (AVX-512 and AVX2 decode
    // a byte's two codes into one lane of two vectors, so each step of 32 codes (AVX2: 16) takes its
    // even elements, then its odd ones.)
    void (*e2m1_x_layout)(const float* x, int64_t len, float* out);
    // x[0]^2 + ... + x[n-1]^2 (n >= 0) in float32, with the vector lanes as partial sums: another
    // order than the reference's running sum, which chains every addition on the last (RMSNorm over
    // V4's 4096-wide hyper-connection rows spent ~4 us a row on it). Null where absent.
    float (*sum_squares)(const float* x, int64_t n);
    // One query's indexer dots on BF16 dot products, for a query that bf16 holds exactly (V3.2's
    // FP8-rounded index queries, V4's FP4-rounded ones) against BF16 keys: qp is the query as
    // pack_heads_bf16 lays it out, key j the d BF16 elements (d even) at keys + j * key_stride.
    // dots[h * dot_stride + j] = the exact products q[h][c] · key_j[c] summed in float32 two elements (c, c + 1) at a
    // time from zero, another order than head_dots' chain; a subnormal BF16 key element reads as zero and a product or
    // sum below 2^-126 flushes to zero (the instruction's rules). Returns false, computing nothing, for more than 128
    // heads or an odd d. Null where the CPU has no AVX512-BF16.
    bool (*head_dots_bf16)(const uint32_t* qp, int64_t heads, const uint16_t* keys, int64_t key_stride, int64_t n,
                           int64_t d, float* dots, int64_t dot_stride);
    // Attention's weighted sum of value rows shared by every head (MQA):
    // y[h * y_stride + i] = sum_{j < n} p[h * p_stride + j] * v[j][i] for h < heads, i < len, each
    // sum a chain of FMAs in order of j from zero, whatever heads are computed beside it. Each value
    // row is read once per register tile (32 outputs of up to 8 heads with AVX-512, 16 of up to 6
    // with AVX2), where axpy_rows reloads and stores the outputs every four rows for every head.
    // Null where absent.
    void (*mqa_values)(const float* p, int64_t p_stride, int64_t heads, const float* const* v, int64_t n, int64_t len,
                       float* y, int64_t y_stride) = nullptr;
    // A decoding product's walk over its weight-row streams (one activation row): `count` rounds,
    // round i taking row i of each of the n_streams (1-4) streams in one pass over the activations,
    // as one dot_weight_rows call on those rows would, and storing each result (times alpha unless
    // alpha is 1) at its stream's out[i]. Row i's block scales are at the stream's scales + i *
    // scale_step. While a round runs, each stream's row prefetch_rows ahead is requested, within
    // the stream's rows_after (none when prefetch_rows is 0). Every result is dot_weight_rows' bit for bit
    // (dot_e4m3_wide's activations when `wide`; e2m1's as e2m1_x_layout lays them out). e4m3 rows the caller has
    // checked for NaN codes (weight_view::no_nan_codes), bf16 rows, and e2m1 rows on dot's shapes;
    // false, computing nothing, for anything else. The loop over rounds runs here rather than in
    // the caller: per round the caller's bookkeeping and calls cost a one-row 512 x 1024 FP8 product
    // a fifth of its time (warm, one thread, Zen 5). Null where absent.
    bool (*dot_row_streams)(weight_format fmt, bool wide, const float* x, const row_stream* streams, int n_streams,
                            int64_t count, int64_t row_bytes, int64_t scale_step, int64_t prefetch_rows, int64_t len,
                            int64_t block_k, float alpha) = nullptr;
    // FP4 (e2m1_bf16) and FP8 (e4m3_bf16) products against activations that bf16 holds exactly
    // (V3.2's and V4's FP8-rounded ones; see bf16_act_kernels). Empty where the CPU has no
    // AVX512-BF16.
    bf16_act_kernels e2m1_bf16{};
    bf16_act_kernels e4m3_bf16{};
};

inline constexpr float k_e4m3_wide_unit = 0x1p112f;
inline constexpr float k_e4m3_wide_limit = 0x1p16f;  // x · 2^112 stays finite below this

// Order-preserving map of a float to uint32: larger float, larger key; every NaN below -inf; -0 and
// +0 equal, as the reference top-k compares them. Positive: the sign bit set (above every
// negative). Negative: all bits flipped (larger magnitude, smaller key); -inf becomes 0x007fffff,
// so 0 is free for NaN.
inline constexpr uint32_t k_nan_order_key = 0;
inline constexpr uint32_t k_neg_inf_order_key = 0x007fffffu;
inline uint32_t order_key(float v) {
    uint32_t b;
    std::memcpy(&b, &v, 4);
    const uint32_t mag = b & 0x7fffffffu;
    b = mag == 0 ? 0u : b;
    const uint32_t key = (b & 0x80000000u) ? ~b : (b | 0x80000000u);
    return mag > 0x7f800000u ? k_nan_order_key : key;
}

inline int64_t tile_parts_size(int64_t rows, int64_t d) {
    return 3 * ((rows + 31) / 32 * 32) * ((d + 31) / 32 * 32);
}

// head_dots' query layout: vectors of 16 heads, head_vectors(heads) of them (1, 2, 4 or 8) per
// element c: qt[(c * w + v) * 16 + i] = q[(16 v + i) * d + c], zero beyond the last head.
inline int64_t head_vectors(int64_t heads) {
    const int64_t v = (heads + 15) / 16;
    return v <= 1 ? 1 : v <= 2 ? 2 : v <= 4 ? 4 : 8;
}
inline void pack_heads(const float* q, int64_t heads, int64_t d, float* qt) {
    const int64_t lanes = head_vectors(heads) * 16;
    for (int64_t c = 0; c < d; ++c) {
        for (int64_t h = 0; h < lanes; ++h) qt[c * lanes + h] = h < heads ? q[h * d + c] : 0.0f;
    }
}

// head_dots_bf16's query layout: per pair of elements (2p, 2p + 1), head_vectors(heads) vectors of
// 16 heads, each lane the pair as two BF16 halves (element 2p in the low one): qp[(p * w + v) * 16 +
// i] for head 16 v + i, zero beyond the last head; d even. Returns false when an element is not a
// BF16 value exactly, or is a subnormal one (which the BF16 dot products would read as zero).
inline bool pack_heads_bf16(const float* q, int64_t heads, int64_t d, uint32_t* qp) {
    const int64_t lanes = head_vectors(heads) * 16;
    for (int64_t p = 0; p < d / 2; ++p) {
        for (int64_t h = 0; h < lanes; ++h) {
            uint32_t pair = 0;
            for (int64_t e = 0; e < 2 && h < heads; ++e) {
                uint32_t bits;
                std::memcpy(&bits, q + h * d + 2 * p + e, 4);
                const uint32_t exponent = bits & 0x7f800000u;
                if ((bits & 0xffffu) != 0 || (exponent == 0 && (bits & 0x7fffffffu) != 0)) return false;
                pair |= (bits >> 16) << (16 * e);
            }
            qp[p * lanes + h] = pair;
        }
    }
    return true;
}

const kernel_table& scalar_kernels();
const kernel_table& avx2_kernels();
const kernel_table& avx512_kernels();
const kernel_table& amx_kernels();  // avx512_kernels() plus matmul_tiles

// The table of the active instruction set.
const kernel_table& active_kernels();

}  // namespace mneme::kernels::fast
