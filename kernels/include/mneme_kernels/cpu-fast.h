// Vectorised float32 kernels for the CPU backend's production path. They compute the same ops as the
// reference kernels in cpu-ops.h (which stay the oracle and the float64 path) and agree with them to
// float32 rounding: only the summation order differs. The instruction set is chosen at run time.
#pragma once

#include <cstdint>
#include <string>
#include <type_traits>

#include "mneme_kernels/cpu-ops.h"

namespace mneme::kernels::fast {

enum class isa : uint32_t { scalar = 0, avx2 = 1, avx512 = 2, amx = 3 };

// The best instruction set this CPU supports (AVX2 needs FMA and F16C; AVX-512 needs F, BW and VL;
// amx is AVX-512 plus AVX512-BF16 and AMX tiles with BF16, which the OS must let the process use).
isa detect_isa();
bool isa_supported(isa i);
// The instruction set the fast kernels use; starts as detect_isa(). Selecting one the CPU lacks
// falls back to the best supported one below it. Returns the one now in use.
isa active_isa();
isa select_isa(isa wanted);
const char* isa_name(isa i);
// The best supported instruction set no wider than the one named "scalar", "avx2", "avx512" or
// "amx" (MNEME_CPU_ISA's values); detect_isa() for any other name. Sets above the named one are
// not probed (probing amx asks the OS for tile state).
isa isa_at_most(const char* name);

// Decode-sized FP8 products can turn e4m3 codes into float32 by their bits alone, which makes
// e4m3's subnormal codes float32 subnormals fed to FMAs: free on some cores, a microcode assist of
// ~100 cycles on others. `probe` (the default) times a few FMAs on subnormal inputs once and uses
// that form only where they cost no more than twice normal ones; `on` and `off` force it (tests,
// measurements). Both forms give the same bits.
enum class e4m3_widening : uint32_t { probe = 0, on = 1, off = 2 };
void set_e4m3_widening(e4m3_widening mode);
bool e4m3_widening_used();

// Decode-sized products (1-16 activation rows) can request the weight rows they read next in each
// stream (software prefetch). That made cold products faster on one host and a whole decode step
// slower on another, so `probe` (the default) tries both on the process's first one-row products,
// timing them, and keeps the faster per weight byte for each size class of product (prefetching
// unless leaving it out is clearly faster); `on` and `off` force it (measurements). Setting `probe`
// starts a new trial. The same bits either way.
enum class row_prefetch : uint32_t { probe = 0, on = 1, off = 2 };
void set_row_prefetch(row_prefetch mode);
// Whether products of `weight_bytes` prefetch now (true while a trial has not decided: products
// outside it do).
bool row_prefetch_used(int64_t weight_bytes);
// The choice per size class, for profiles ("<64K no, >=64K yes, ...").
std::string row_prefetch_summary();

// When set, the float32 path runs the reference kernels instead (for before/after measurements).
void set_reference_only(bool on);
bool reference_only();

void matmul(const exec_ctx& ex, const float* x, int64_t rows, int64_t x_stride, const weight_view& w, float* y,
            int64_t y_stride, double alpha);

// One product of matmul's arguments, for matmul_side_by_side.
struct matmul_item {
    const float* x = nullptr;
    int64_t rows = 0, x_stride = 0;
    weight_view w;
    float* y = nullptr;
    int64_t y_stride = 0;
    double alpha = 1.0;
};
// Whether matmul runs this product on a single thread of the pool: a decode-sized product too
// small to be worth splitting (MLA's per-head 32 KiB products, for instance).
bool matmul_on_one_thread(int64_t rows, const weight_view& w);
// Whether a decode-sized product is small enough that a thread streaming it whole beats the pool
// splitting it: a run of at least as many such products as there are threads is best run side by
// side (MoE's experts at decode: gate and up of each, then the down products). Also true of
// prefill-sized products of weights too small to split well (MLA's per-head products over a prompt).
bool matmul_whole_on_a_thread(int64_t rows, const weight_view& w);
// Independent products (no output overlaps another's inputs or output), each one on one thread,
// the pool's threads taking whole products: each output is exactly what matmul gives. For runs of
// products that matmul_on_one_thread, which would otherwise leave all but one thread idle, and for
// runs of products that matmul_whole_on_a_thread.
void matmul_side_by_side(const exec_ctx& ex, const matmul_item* items, std::size_t n);
void attention(const exec_ctx& ex, const attention_args& a, const float* q, const float* k, const float* v,
               const float* sink, float* out);
// Softmax's numerators in place: s[j] = exp(s[j] * scale - m) for j < n, m being the largest
// s[j] * scale (NaN passed over, as std::max does), stored in *max_out; returns their sum. Where
// the instruction set has one (AVX2, AVX-512), exp is a vectorised polynomial within 2 ulp of
// std::exp, the same for a value wherever it sits in s; elsewhere std::exp.
float softmax_numerators(float* s, int64_t n, float scale, float* max_out);
void indexer_scores(const exec_ctx& ex, const float* q, const float* w, const float* k, int64_t d, int64_t heads,
                    int64_t queries, int64_t n_keys, int64_t k_stride, int64_t start_pos, int64_t ratio, float* out);
// The same scan over BF16 keys (k_stride in elements). Widening BF16 is exact, so the scores equal
// indexer_scores over the widened keys bit for bit. V3.2's index keys leave the FP8 round trip as
// e4m3 values times a power of two, which BF16 holds exactly: half the bytes a long context reads.
void indexer_scores_bf16(const exec_ctx& ex, const float* q, const float* w, const uint16_t* k, int64_t d,
                         int64_t heads, int64_t queries, int64_t n_keys, int64_t k_stride, int64_t start_pos,
                         int64_t ratio, float* out);

// FP8 e4m3 activation round trip (block-wise power-of-two scales), equal to the reference
// quant_roundtrip bit for bit.
void quant_roundtrip_e4m3(const exec_ctx& ex, const float* x, int64_t rows, int64_t n, int64_t x_stride,
                          int64_t block, float* y, int64_t y_stride);
// FP4 e2m1 activation round trip (V4's indexer queries and keys), equal to the reference bit for bit.
void quant_roundtrip_e2m1(const exec_ctx& ex, const float* x, int64_t rows, int64_t n, int64_t x_stride, int64_t block,
                          float* y, int64_t y_stride);

// Top-k positions of each row, the same list in the same order as the reference topk (larger
// first, NaN last, ties to the lower position), found by selection rather than a partial sort.
void topk(const exec_ctx& ex, const float* x, int64_t rows, int64_t n, int64_t stride, int64_t k, int32_t* out);

// SwiGLU over rows of n elements, as the reference swiglu (row_weight null) or swiglu_weighted
// does, with a vectorised exp where the instruction set has one (see softmax_numerators).
void swiglu(const exec_ctx& ex, const float* gate, const float* up, int64_t rows, int64_t n, double limit,
            const float* row_weight, float* y);

// MoE's combine: y[idx[r]] += w[r] * x[r] for r in order (columns in parallel), the reference
// add_rows_scaled's arithmetic bit for bit.
void add_rows_scaled(const exec_ctx& ex, const float* x, int64_t rows, int64_t n, const int32_t* idx, const float* w,
                     float* y);

// Call-site helpers for code templated on the activation type: float goes to the fast kernels
// (unless reference_only()), double to the reference kernels.
template <class T>
void matmul_any(const exec_ctx& ex, const T* x, int64_t rows, int64_t x_stride, const weight_view& w, T* y,
                int64_t y_stride, double alpha) {
    if constexpr (std::is_same_v<T, float>) {
        if (!reference_only()) return matmul(ex, x, rows, x_stride, w, y, y_stride, alpha);
    }
    kernels::matmul<T>(ex, x, rows, x_stride, w, y, y_stride, alpha);
}

template <class T>
void attention_any(const exec_ctx& ex, const attention_args& a, const T* q, const T* k, const T* v, const T* sink,
                   T* out) {
    if constexpr (std::is_same_v<T, float>) {
        if (!reference_only()) return attention(ex, a, q, k, v, sink, out);
    }
    kernels::attention<T>(ex, a, q, k, v, sink, out);
}

template <class T>
void indexer_scores_any(const exec_ctx& ex, const T* q, const T* w, const T* k, int64_t d, int64_t heads,
                        int64_t queries, int64_t n_keys, int64_t k_stride, int64_t start_pos, int64_t ratio, T* out) {
    if constexpr (std::is_same_v<T, float>) {
        if (!reference_only()) {
            return indexer_scores(ex, q, w, k, d, heads, queries, n_keys, k_stride, start_pos, ratio, out);
        }
    }
    kernels::indexer_scores<T>(ex, q, w, k, d, heads, queries, n_keys, k_stride, start_pos, ratio, out);
}

// RMSNorm over rows of d (kernels::rms_norm's arguments) with the sum of squares taken in vector
// lanes: the reference's results to float32 rounding.
void rms_norm(const exec_ctx& ex, const float* x, int64_t rows, int64_t d, int64_t x_stride, const float* weight,
              double eps, float* y, int64_t y_stride);

template <class T>
void rms_norm_any(const exec_ctx& ex, const T* x, int64_t rows, int64_t d, int64_t x_stride, const T* weight,
                  double eps, T* y, int64_t y_stride) {
    if constexpr (std::is_same_v<T, float>) {
        if (!reference_only()) return rms_norm(ex, x, rows, d, x_stride, weight, eps, y, y_stride);
    }
    kernels::rms_norm<T>(ex, x, rows, d, x_stride, weight, eps, y, y_stride);
}

template <class T>
void quant_roundtrip_any(const exec_ctx& ex, const T* x, int64_t rows, int64_t n, int64_t x_stride, quant_format fmt,
                         int64_t block, T* y, int64_t y_stride) {
    if constexpr (std::is_same_v<T, float>) {
        if (!reference_only() && fmt == quant_format::e4m3) {
            return quant_roundtrip_e4m3(ex, x, rows, n, x_stride, block, y, y_stride);
        }
        if (!reference_only() && fmt == quant_format::e2m1) {
            return quant_roundtrip_e2m1(ex, x, rows, n, x_stride, block, y, y_stride);
        }
    }
    kernels::quant_roundtrip<T>(ex, x, rows, n, x_stride, fmt, block, y, y_stride);
}

template <class T>
void add_rows_scaled_any(const exec_ctx& ex, const T* x, int64_t rows, int64_t n, const int32_t* idx, const T* w, T* y,
                         int64_t y_rows) {
    if constexpr (std::is_same_v<T, float>) {
        if (!reference_only()) return add_rows_scaled(ex, x, rows, n, idx, w, y);
    }
    kernels::add_rows_scaled<T>(ex, x, rows, n, idx, w, y, y_rows);
}

template <class T>
void swiglu_any(const exec_ctx& ex, const T* gate, const T* up, int64_t rows, int64_t n, double limit,
                const T* row_weight, T* y) {
    if constexpr (std::is_same_v<T, float>) {
        if (!reference_only()) return swiglu(ex, gate, up, rows, n, limit, row_weight, y);
    }
    if (row_weight) return kernels::swiglu_weighted<T>(ex, gate, up, rows, n, limit, row_weight, y);
    kernels::swiglu<T>(ex, gate, up, rows * n, limit, y);
}

template <class T>
void topk_any(const exec_ctx& ex, const T* x, int64_t rows, int64_t n, int64_t stride, int64_t k, int32_t* out) {
    if constexpr (std::is_same_v<T, float>) {
        if (!reference_only()) return topk(ex, x, rows, n, stride, k, out);
    }
    kernels::topk<T>(ex, x, rows, n, stride, k, out);
}

}  // namespace mneme::kernels::fast

namespace mneme::kernels::fast {

// Row n of W dequantised to float32 by the active instruction set; must equal
// kernels::decode_weight_row<float> bit for bit (the tests hold it to that).
void decode_row(const weight_view& w, int64_t n, float* out);

}  // namespace mneme::kernels::fast
