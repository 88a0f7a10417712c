// Translates plugin ops (mneme_op) into calls of the reference kernels, after checking dtypes,
// shapes and bounds so that a host bug becomes an error, not a wild memory access.
#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstring>
#include <type_traits>
#include <vector>

#include "cpu-backend.h"
#include "mneme_kernels/cpu-fast.h"
#include "mneme_kernels/cpu-ops.h"
#include "mneme_kernels/number-formats.h"
#include "plugin-boundary.h"

namespace mneme::cpu {
namespace {

using plugin::dtype_size;
using plugin::raise;
namespace k = mneme::kernels;

int64_t row_count(const mneme_tensor& t) { return t.ne[1] * t.ne[2] * t.ne[3]; }
int64_t elements(const mneme_tensor& t) { return t.ne[0] * row_count(t); }

uint64_t byte_extent(const mneme_tensor& t) {
    if (t.dtype == MNEME_DTYPE_FP4_E2M1) {
        return static_cast<uint64_t>((t.ne[0] + 1) / 2) +
               static_cast<uint64_t>((t.ne[1] - 1) * t.nb[1] + (t.ne[2] - 1) * t.nb[2] + (t.ne[3] - 1) * t.nb[3]);
    }
    uint64_t last = 0;
    for (int d = 0; d < MNEME_MAX_DIMS; ++d) last += static_cast<uint64_t>((t.ne[d] - 1) * t.nb[d]);
    return last + static_cast<uint64_t>(dtype_size(t.dtype));
}

template <class T>
T* data_of(const mneme_tensor& t) {
    return reinterpret_cast<T*>(t.buffer->data + t.offset);
}

void check_tensor(const mneme_tensor& t, const char* role) {
    if (!t.buffer) raise(MNEME_ERROR_INVALID_ARGUMENT, role, ": no buffer");
    for (int d = 0; d < MNEME_MAX_DIMS; ++d) {
        if (t.ne[d] < 1) raise(MNEME_ERROR_INVALID_ARGUMENT, role, ": ne[", d, "] = ", t.ne[d]);
        if (t.nb[d] < 0) raise(MNEME_ERROR_INVALID_ARGUMENT, role, ": negative stride");
    }
    if (t.offset > t.buffer->size || byte_extent(t) > t.buffer->size - t.offset) {
        raise(MNEME_ERROR_INVALID_ARGUMENT, role, ": view exceeds its buffer (", t.buffer->size, " bytes)");
    }
}

// Rows must be contiguous inside; returns the row stride in elements.
int64_t row_stride(const mneme_tensor& t, const char* role) {
    const int64_t es = dtype_size(t.dtype);
    if (es == 0 || t.nb[0] != es) raise(MNEME_ERROR_INVALID_ARGUMENT, role, ": rows must be contiguous");
    if (t.nb[1] % es) raise(MNEME_ERROR_INVALID_ARGUMENT, role, ": misaligned row stride");
    // Higher dimensions must stack rows uniformly so that "rows" can be walked with one stride.
    if ((t.ne[2] > 1 && t.nb[2] != t.nb[1] * t.ne[1]) || (t.ne[3] > 1 && t.nb[3] != t.nb[2] * t.ne[2])) {
        raise(MNEME_ERROR_INVALID_ARGUMENT, role, ": dimensions 2 and 3 must be packed");
    }
    return t.ne[1] > 1 || row_count(t) > 1 ? t.nb[1] / es : t.ne[0];
}

bool is_contiguous(const mneme_tensor& t) {
    const int64_t es = dtype_size(t.dtype);
    int64_t expect = es;
    for (int d = 0; d < MNEME_MAX_DIMS; ++d) {
        if (t.ne[d] > 1 && t.nb[d] != expect) return false;
        expect *= t.ne[d];
    }
    return es != 0;
}

void require_contiguous(const mneme_tensor& t, const char* role) {
    if (!is_contiguous(t)) raise(MNEME_ERROR_INVALID_ARGUMENT, role, ": must be contiguous");
}

bool is_float(mneme_dtype d) { return d == MNEME_DTYPE_F32 || d == MNEME_DTYPE_F64; }

template <class P>
const P& params_of(const mneme_op& op) {
    if (!op.params || op.params_size < sizeof(P)) raise(MNEME_ERROR_INVALID_ARGUMENT, "op params missing or short");
    return *static_cast<const P*>(op.params);
}

void require_same_shape(const mneme_tensor& a, const mneme_tensor& b, const char* what) {
    for (int d = 0; d < MNEME_MAX_DIMS; ++d) {
        if (a.ne[d] != b.ne[d]) raise(MNEME_ERROR_INVALID_ARGUMENT, what, ": shapes differ in dim ", d);
    }
}

// Whether the FP8 codes of [offset, offset + bytes) of a buffer hold no byte that reads as a NaN
// code; scanned on a tensor's first use (one pass over it, as its first product would make anyway).
bool free_of_nan_codes(mneme_buffer& b, uint64_t offset, uint64_t bytes) {
    const std::pair<uint64_t, uint64_t> extent{offset, bytes};
    {
        const std::lock_guard lock(b.scans_mutex);
        if (const auto it = b.scans.find(extent); it != b.scans.end()) return it->second;
    }
    const bool clean = k::free_of_e4m3_nan_codes(b.data + offset, bytes);
    const std::lock_guard lock(b.scans_mutex);
    b.scans[extent] = clean;
    b.any_scans.store(true, std::memory_order_release);
    return clean;
}

k::weight_view weight_of(const mneme_op& op) {
    const mneme_tensor& w = op.src[1];
    k::weight_view v;
    v.data = w.buffer->data + w.offset;
    v.k = w.ne[0];
    v.n = w.ne[1];
    v.row_bytes = w.nb[1];
    if (w.dtype == MNEME_DTYPE_F8_E4M3) v.no_nan_codes = free_of_nan_codes(*w.buffer, w.offset, byte_extent(w));
    switch (w.dtype) {
        case MNEME_DTYPE_F32: v.format = k::weight_format::f32; break;
        case MNEME_DTYPE_F64: v.format = k::weight_format::f64; break;
        case MNEME_DTYPE_BF16: v.format = k::weight_format::bf16; break;
        case MNEME_DTYPE_F16: v.format = k::weight_format::f16; break;
        case MNEME_DTYPE_F8_E4M3: v.format = k::weight_format::e4m3; break;
        case MNEME_DTYPE_FP4_E2M1: v.format = k::weight_format::e2m1; break;
        default: raise(MNEME_ERROR_UNSUPPORTED, "matmul: weight dtype ", w.dtype, " not supported");
    }
    if (w.dtype != MNEME_DTYPE_FP4_E2M1 && w.nb[0] != dtype_size(w.dtype)) {
        raise(MNEME_ERROR_INVALID_ARGUMENT, "matmul: weight rows must be contiguous");
    }
    if (op.n_src >= 3 && op.src[2].buffer) {
        const mneme_tensor& s = op.src[2];
        check_tensor(s, "matmul scale");
        const auto& p = params_of<mneme_op_matmul>(op);
        if (p.block_k == 0 || p.block_n == 0) raise(MNEME_ERROR_INVALID_ARGUMENT, "matmul: zero scale block");
        v.block_k = p.block_k;
        v.block_n = p.block_n;
        const int64_t need_k = (v.k + v.block_k - 1) / v.block_k, need_n = (v.n + v.block_n - 1) / v.block_n;
        if (s.ne[0] != need_k || s.ne[1] != need_n) {
            raise(MNEME_ERROR_INVALID_ARGUMENT, "matmul: scale grid ", s.ne[0], "x", s.ne[1], ", expected ", need_k,
                  "x", need_n);
        }
        if (s.dtype == MNEME_DTYPE_F32) {
            v.scale_fmt = k::scale_format::f32;
        } else if (s.dtype == MNEME_DTYPE_F8_E8M0) {
            v.scale_fmt = k::scale_format::e8m0;
        } else {
            raise(MNEME_ERROR_UNSUPPORTED, "matmul: scale dtype ", s.dtype, " not supported");
        }
        v.scale = s.buffer->data + s.offset;
        v.scale_row_elems = s.nb[1] / dtype_size(s.dtype);
    }
    return v;
}

void check_matmul_shapes(const mneme_op& op) {
    const mneme_tensor &x = op.src[0], &w = op.src[1], &y = op.dst;
    if (x.ne[0] != w.ne[0]) raise(MNEME_ERROR_INVALID_ARGUMENT, "matmul: K mismatch ", x.ne[0], " vs ", w.ne[0]);
    if (y.ne[0] != w.ne[1] || row_count(y) != row_count(x)) raise(MNEME_ERROR_INVALID_ARGUMENT, "matmul: bad dst");
}

template <class T>
void run_matmul(mneme_backend& be, const mneme_op& op) {
    const mneme_tensor &x = op.src[0], &y = op.dst;
    check_matmul_shapes(op);
    const double alpha = op.params ? params_of<mneme_op_matmul>(op).alpha : 1.0;
    k::fast::matmul_any<T>(be.exec, data_of<T>(x), row_count(x), row_stride(x, "matmul src0"), weight_of(op),
                           data_of<T>(y), row_stride(y, "matmul dst"), alpha);
}

template <class T>
void run_rms_norm(mneme_backend& be, const mneme_op& op) {
    const mneme_tensor &x = op.src[0], &y = op.dst;
    require_same_shape(x, y, "rms_norm");
    const T* weight = nullptr;
    if (op.n_src >= 2 && op.src[1].buffer) {
        if (op.src[1].dtype != y.dtype || op.src[1].ne[0] != x.ne[0]) {
            raise(MNEME_ERROR_INVALID_ARGUMENT, "rms_norm: weight must be [ne0] of the activation type");
        }
        weight = data_of<T>(op.src[1]);
    }
    k::fast::rms_norm_any<T>(be.exec, data_of<T>(x), row_count(x), x.ne[0], row_stride(x, "rms_norm src"), weight,
                             params_of<mneme_op_rms_norm>(op).eps, data_of<T>(y), row_stride(y, "rms_norm dst"));
}

template <class T>
void run_rope(mneme_backend& be, const mneme_op& op) {
    const mneme_tensor &x = op.src[0], &c = op.src[1], &s = op.src[2], &y = op.dst;
    const auto& p = params_of<mneme_op_rope>(op);
    require_same_shape(x, y, "rope");
    require_contiguous(c, "rope cos");
    require_contiguous(s, "rope sin");
    if (p.n_rot % 2 || p.offset + p.n_rot > x.ne[0]) raise(MNEME_ERROR_INVALID_ARGUMENT, "rope: bad rotated slice");
    const int64_t tokens = x.ne[2] * x.ne[3], heads = x.ne[1];
    if (c.ne[0] != p.n_rot / 2 || row_count(c) != tokens || s.ne[0] != c.ne[0] || row_count(s) != tokens ||
        c.dtype != y.dtype || s.dtype != y.dtype) {
        raise(MNEME_ERROR_INVALID_ARGUMENT, "rope: cos/sin tables must be [n_rot/2, tokens] of the activation type");
    }
    const int64_t xs = row_stride(x, "rope src"), ys = row_stride(y, "rope dst");
    T* yd = data_of<T>(y);
    const T* xd = data_of<T>(x);
    if (xd != yd) {  // dst = src outside the rotated slice
        for (int64_t r = 0; r < tokens * heads; ++r) std::memcpy(yd + r * ys, xd + r * xs, sizeof(T) * x.ne[0]);
    }
    k::rope<T>(be.exec, xd, tokens, heads, xs, data_of<T>(c), data_of<T>(s),
               p.layout == MNEME_ROPE_HALF_SPLIT ? k::rope_layout::half_split : k::rope_layout::interleaved, p.offset,
               p.n_rot, p.inverse != 0, yd, ys);
}

template <class T>
void run_quant(mneme_backend& be, const mneme_op& op) {
    const mneme_tensor &x = op.src[0], &y = op.dst;
    require_same_shape(x, y, "quant_roundtrip");
    const auto& p = params_of<mneme_op_quant>(op);
    if (p.block == 0 || p.scale_mode != MNEME_QUANT_SCALE_POW2 ||
        (p.format != MNEME_DTYPE_F8_E4M3 && p.format != MNEME_DTYPE_FP4_E2M1)) {
        raise(MNEME_ERROR_UNSUPPORTED, "quant_roundtrip: unsupported format/scale/block");
    }
    k::fast::quant_roundtrip_any<T>(be.exec, data_of<T>(x), row_count(x), x.ne[0], row_stride(x, "quant src"),
                          p.format == MNEME_DTYPE_F8_E4M3 ? k::quant_format::e4m3 : k::quant_format::e2m1, p.block,
                          data_of<T>(y), row_stride(y, "quant dst"));
}

template <class T>
void run_layer_norm(mneme_backend& be, const mneme_op& op) {
    const mneme_tensor &x = op.src[0], &y = op.dst;
    require_same_shape(x, y, "layer_norm");
    const T* w = nullptr;
    const T* b = nullptr;
    for (uint32_t i = 1; i < 3 && i < op.n_src; ++i) {
        if (!op.src[i].buffer) continue;
        if (op.src[i].dtype != y.dtype || op.src[i].ne[0] != x.ne[0]) {
            raise(MNEME_ERROR_INVALID_ARGUMENT, "layer_norm: weight/bias must be [ne0] of the activation type");
        }
        (i == 1 ? w : b) = data_of<T>(op.src[i]);
    }
    k::layer_norm<T>(be.exec, data_of<T>(x), row_count(x), x.ne[0], row_stride(x, "layer_norm src"), w, b,
                     params_of<mneme_op_norm>(op).eps, data_of<T>(y), row_stride(y, "layer_norm dst"));
}

template <class T>
void run_hadamard(mneme_backend& be, const mneme_op& op) {
    const mneme_tensor &x = op.src[0], &y = op.dst;
    require_same_shape(x, y, "hadamard");
    if (!std::has_single_bit(static_cast<uint64_t>(x.ne[0]))) {
        raise(MNEME_ERROR_INVALID_ARGUMENT, "hadamard: width ", x.ne[0], " is not a power of two");
    }
    k::hadamard<T>(be.exec, data_of<T>(x), row_count(x), x.ne[0], row_stride(x, "hadamard src"), data_of<T>(y),
                   row_stride(y, "hadamard dst"));
}

// ABI 1.0 callers pass the attention params without key_start/ratio: those read as 0.
mneme_op_attention attention_params(const mneme_op& op) {
    constexpr uint32_t v10_size = offsetof(mneme_op_attention, key_start);
    if (!op.params || op.params_size < v10_size) raise(MNEME_ERROR_INVALID_ARGUMENT, "op params missing or short");
    mneme_op_attention p{};
    std::memcpy(&p, op.params, std::min<std::size_t>(op.params_size, sizeof(p)));
    return p;
}

template <class T>
void run_attention(mneme_backend& be, const mneme_op& op) {
    const mneme_tensor &q = op.src[0], &kk = op.src[1], &v = op.src[2], &y = op.dst;
    const mneme_op_attention p = attention_params(op);
    k::attention_args a;
    a.heads = q.ne[1];
    a.queries = q.ne[2] * q.ne[3];
    a.dk = q.ne[0];
    a.dv = v.ne[0];
    if (kk.ne[0] != a.dk || row_count(kk) != row_count(v) || y.ne[0] != a.dv || y.ne[1] != a.heads ||
        y.ne[2] * y.ne[3] != a.queries) {
        raise(MNEME_ERROR_INVALID_ARGUMENT, "attention: shapes of q [Dk,H,S], k [Dk,T], v [Dv,T], dst [Dv,H,S] disagree");
    }
    const int64_t es = dtype_size(y.dtype);
    for (const auto* t : {&q, &kk, &v, &y}) {
        if (t->nb[0] != es || t->nb[1] % es || t->nb[2] % es) raise(MNEME_ERROR_INVALID_ARGUMENT, "attention: bad strides");
    }
    a.q_head_stride = q.nb[1] / es;
    a.q_stride = q.nb[2] / es;
    a.k_stride = kk.nb[1] / es;
    a.v_stride = v.nb[1] / es;
    a.n_keys = row_count(kk);
    a.out_head_stride = y.nb[1] / es;
    a.out_stride = y.nb[2] / es;
    a.scale = p.scale;
    a.start_pos = p.start_pos;
    a.window = p.window;
    a.key_start = p.key_start;
    if (op.n_src > 5 && op.src[5].buffer) {
        const mneme_tensor& c = op.src[5];
        if (c.dtype != y.dtype || c.ne[0] != a.dk || a.dk != a.dv || p.ratio < 1) {
            raise(MNEME_ERROR_INVALID_ARGUMENT,
                  "attention: compressed entries must be [Dk, Tc] of the activation type with Dk == Dv and ratio >= 1");
        }
        a.comp = data_of<T>(c);
        a.comp_stride = row_stride(c, "attention compressed entries");
        a.n_comp = row_count(c);
        a.ratio = p.ratio;
    }
    if (op.n_src > 3 && op.src[3].buffer) {
        const mneme_tensor& idx = op.src[3];
        if (idx.dtype != MNEME_DTYPE_I32 || row_count(idx) != a.queries) {
            raise(MNEME_ERROR_INVALID_ARGUMENT, "attention: indices must be I32 [n, S]");
        }
        require_contiguous(idx, "attention indices");
        a.indices = data_of<int32_t>(idx);
        a.n_indices = idx.ne[0];
    }
    const T* sink = nullptr;
    if (op.n_src > 4 && op.src[4].buffer) {
        if (op.src[4].ne[0] != a.heads || op.src[4].dtype != y.dtype) {
            raise(MNEME_ERROR_INVALID_ARGUMENT, "attention: sink must be [H] of the activation type");
        }
        sink = data_of<T>(op.src[4]);
    }
    k::fast::attention_any<T>(be.exec, a, data_of<T>(q), data_of<T>(kk), data_of<T>(v), sink, data_of<T>(y));
}

template <class T>
void run_indexer(mneme_backend& be, const mneme_op& op) {
    const mneme_tensor &q = op.src[0], &w = op.src[1], &kk = op.src[2], &y = op.dst;
    const auto& p = params_of<mneme_op_indexer>(op);
    const int64_t d = q.ne[0], heads = q.ne[1], queries = q.ne[2] * q.ne[3], n_keys = row_count(kk);
    if (kk.ne[0] != d || w.ne[0] != heads || row_count(w) != queries || y.ne[0] != n_keys || row_count(y) != queries ||
        p.ratio < 1) {
        raise(MNEME_ERROR_INVALID_ARGUMENT, "indexer: shapes of q [D,Hi,S], w [Hi,S], k [D,T], dst [T,S] disagree");
    }
    require_contiguous(q, "indexer q");
    require_contiguous(w, "indexer w");
    require_contiguous(y, "indexer dst");
    const int64_t ks = row_stride(kk, "indexer keys");
    if (kk.dtype == MNEME_DTYPE_BF16) {
        if constexpr (std::is_same_v<T, float>) {
            const auto* keys = data_of<uint16_t>(kk);
            if (!k::fast::reference_only()) {
                return k::fast::indexer_scores_bf16(be.exec, data_of<T>(q), data_of<T>(w), keys, d, heads, queries,
                                                    n_keys, ks, p.start_pos, p.ratio, data_of<T>(y));
            }
            // The oracle: the keys widened (exactly) to float32, then the reference kernel.
            std::vector<float> wide(static_cast<std::size_t>(n_keys * d));
            for (int64_t j = 0; j < n_keys; ++j) {
                for (int64_t c = 0; c < d; ++c)
                    wide[static_cast<std::size_t>(j * d + c)] = k::bf16_to_f32(keys[j * ks + c]);
            }
            return k::indexer_scores<T>(be.exec, data_of<T>(q), data_of<T>(w), wide.data(), d, heads, queries, n_keys,
                                        d, p.start_pos, p.ratio, data_of<T>(y));
        }
    }
    if (kk.dtype != y.dtype)
        raise(MNEME_ERROR_INVALID_ARGUMENT, "indexer: keys must have dst's dtype or BF16 (dst F32)");
    k::fast::indexer_scores_any<T>(be.exec, data_of<T>(q), data_of<T>(w), data_of<T>(kk), d, heads, queries, n_keys, ks,
                                   p.start_pos, p.ratio, data_of<T>(y));
}

template <class T>
void run_add_rows(mneme_backend& be, const mneme_op& op) {
    const mneme_tensor &x = op.src[0], &idx = op.src[1], &w = op.src[2], &y = op.dst;
    const int64_t rows = row_count(x), n = x.ne[0];
    if (y.ne[0] != n || idx.dtype != MNEME_DTYPE_I32 || idx.ne[0] * row_count(idx) != rows ||
        w.ne[0] * row_count(w) != rows || w.dtype != y.dtype) {
        raise(MNEME_ERROR_INVALID_ARGUMENT, "add_rows_scaled: shapes disagree");
    }
    for (const auto* t : {&x, &idx, &w, &y}) require_contiguous(*t, "add_rows_scaled");
    const int32_t* ids = data_of<int32_t>(idx);
    for (int64_t r = 0; r < rows; ++r) {
        if (ids[r] < 0 || ids[r] >= row_count(y)) raise(MNEME_ERROR_INVALID_ARGUMENT, "add_rows_scaled: row ", ids[r], " out of range");
    }
    k::fast::add_rows_scaled_any<T>(be.exec, data_of<T>(x), rows, n, ids, data_of<T>(w), data_of<T>(y), row_count(y));
}

template <class T>
void run_softmax(mneme_backend& be, const mneme_op& op) {
    const mneme_tensor &x = op.src[0], &y = op.dst;
    require_same_shape(x, y, "softmax");
    const int64_t xs = row_stride(x, "softmax src"), ys = row_stride(y, "softmax dst");
    if (xs != ys) raise(MNEME_ERROR_INVALID_ARGUMENT, "softmax: src and dst strides differ");
    k::softmax<T>(be.exec, data_of<T>(x), row_count(x), x.ne[0], xs, params_of<mneme_op_softmax>(op).scale,
                  data_of<T>(y));
}

template <class T>
void run_swiglu(mneme_backend& be, const mneme_op& op) {
    const mneme_tensor &g = op.src[0], &u = op.src[1], &y = op.dst;
    require_same_shape(g, y, "swiglu");
    require_same_shape(u, y, "swiglu");
    for (const auto* t : {&g, &u, &y}) require_contiguous(*t, "swiglu");
    const double limit = op.params ? params_of<mneme_op_swiglu>(op).limit : 0.0;
    if (op.n_src > 2 && op.src[2].buffer) {
        const mneme_tensor& w = op.src[2];
        if (w.dtype != y.dtype || elements(w) != row_count(y)) {
            raise(MNEME_ERROR_INVALID_ARGUMENT, "swiglu: row weights must be [rows] of the activation type");
        }
        require_contiguous(w, "swiglu row weights");
        k::fast::swiglu_any<T>(be.exec, data_of<T>(g), data_of<T>(u), row_count(y), y.ne[0], limit, data_of<T>(w),
                               data_of<T>(y));
        return;
    }
    k::fast::swiglu_any<T>(be.exec, data_of<T>(g), data_of<T>(u), 1, elements(y), limit, nullptr, data_of<T>(y));
}

template <class T>
void run_hc_coeffs(mneme_backend& be, const mneme_op& op) {
    const mneme_tensor &m = op.src[0], &scale = op.src[1], &base = op.src[2], &y = op.dst;
    const auto& p = params_of<mneme_op_hc>(op);
    const int64_t n = p.n_streams;
    if (n < 1 || p.sinkhorn_iters < 1) raise(MNEME_ERROR_INVALID_ARGUMENT, "hc_coeffs: n_streams and sinkhorn_iters must be >= 1");
    const bool head = m.ne[0] == n;
    if (!head && m.ne[0] != (2 + n) * n) {
        raise(MNEME_ERROR_INVALID_ARGUMENT, "hc_coeffs: mixes have ", m.ne[0], " rows, expected n or (2+n)*n");
    }
    require_same_shape(m, y, "hc_coeffs");
    if (elements(scale) != (head ? 1 : 3) || elements(base) != m.ne[0] || scale.dtype != y.dtype || base.dtype != y.dtype) {
        raise(MNEME_ERROR_INVALID_ARGUMENT, "hc_coeffs: scale must be [3] ([1] for a head) and base [M], activation type");
    }
    for (const auto* t : {&m, &scale, &base, &y}) require_contiguous(*t, "hc_coeffs");
    k::hc_coeffs<T>(be.exec, data_of<T>(m), row_count(m), n, head, data_of<T>(scale), data_of<T>(base),
                    p.sinkhorn_iters, p.eps, p.post_mult, data_of<T>(y));
}

template <class T>
void run_stream_mix(mneme_backend& be, const mneme_op& op) {
    const mneme_tensor &x = op.src[0], &c = op.src[1], &y = op.dst;
    const auto& p = params_of<mneme_op_stream_mix>(op);
    const int64_t d = x.ne[0], tokens = x.ne[2] * x.ne[3];
    const mneme_tensor* z = op.n_src > 2 && op.src[2].buffer ? &op.src[2] : nullptr;
    if (x.ne[1] != p.n_in || p.n_in < 1 || p.n_out < 1 || y.ne[0] != d || y.ne[1] != p.n_out ||
        y.ne[2] * y.ne[3] != tokens || row_count(c) != tokens || c.dtype != y.dtype) {
        raise(MNEME_ERROR_INVALID_ARGUMENT, "stream_mix: shapes of x [D,n_in,S], c [M,S], dst [D,n_out,S] disagree");
    }
    const int64_t need_w = static_cast<int64_t>(p.weight_offset) + p.n_in * p.n_out;
    if (need_w > c.ne[0] || (z && static_cast<int64_t>(p.bias_offset) + p.n_out > c.ne[0])) {
        raise(MNEME_ERROR_INVALID_ARGUMENT, "stream_mix: coefficient offsets exceed the ", c.ne[0], " rows of c");
    }
    if (z && (z->ne[0] != d || row_count(*z) != tokens || z->dtype != y.dtype)) {
        raise(MNEME_ERROR_INVALID_ARGUMENT, "stream_mix: update must be [D, S]");
    }
    for (const auto* t : {&x, &c, &y}) require_contiguous(*t, "stream_mix");
    if (z) require_contiguous(*z, "stream_mix update");
    const auto overlaps = [&](const mneme_tensor& t) {
        return y.buffer == t.buffer && y.offset < t.offset + elements(t) * dtype_size(t.dtype) &&
               t.offset < y.offset + elements(y) * dtype_size(y.dtype);
    };
    if (overlaps(x)) raise(MNEME_ERROR_INVALID_ARGUMENT, "stream_mix: dst must not overlap the streams");
    if (z && overlaps(*z)) raise(MNEME_ERROR_INVALID_ARGUMENT, "stream_mix: dst must not overlap the update");
    k::stream_mix<T>(be.exec, data_of<T>(x), d, p.n_in, tokens, data_of<T>(c), c.ne[0], p.n_out, p.weight_offset,
                     z ? data_of<T>(*z) : nullptr, p.bias_offset, data_of<T>(y));
}

template <class T>
void run_compress(mneme_backend& be, const mneme_op& op) {
    const mneme_tensor &a = op.src[0], &b = op.src[1], &ape = op.src[2], &y = op.dst;
    const auto& p = params_of<mneme_op_compress>(op);
    k::compress_args c;
    c.channels = a.ne[0];
    c.width = y.ne[0];
    c.rows = row_count(a);
    c.ratio = p.ratio;
    c.first_pos = p.first_pos;
    c.first_block = p.first_block;
    c.n_blocks = row_count(y);
    c.overlap = p.overlap != 0;
    if (p.ratio < 1 || p.first_pos < 0 || p.first_block < 0 || c.channels != (c.overlap ? 2 : 1) * c.width ||
        b.ne[0] != c.channels || row_count(b) != c.rows || ape.ne[0] != c.channels || row_count(ape) != p.ratio ||
        b.dtype != y.dtype || ape.dtype != y.dtype) {
        raise(MNEME_ERROR_INVALID_ARGUMENT,
              "compress_pool: shapes of a/b [C,R], ape [C,ratio], dst [W,NB] disagree (C = W, or 2W with overlap)");
    }
    // Every candidate token of every block must be among the rows.
    const int64_t j0 = p.first_block, j1 = p.first_block + c.n_blocks;
    const int64_t first_tok = (c.overlap && j0 > 0 ? j0 - 1 : j0) * p.ratio;
    if (first_tok < p.first_pos || j1 * p.ratio > p.first_pos + c.rows) {
        raise(MNEME_ERROR_INVALID_ARGUMENT, "compress_pool: blocks ", j0, "..", j1 - 1, " need positions ", first_tok,
              "..", j1 * p.ratio - 1, ", rows hold ", p.first_pos, "..", p.first_pos + c.rows - 1);
    }
    require_contiguous(ape, "compress_pool ape");
    c.a_stride = row_stride(a, "compress_pool a");
    c.b_stride = row_stride(b, "compress_pool b");
    c.out_stride = row_stride(y, "compress_pool dst");
    k::compress_pool<T>(be.exec, c, data_of<T>(a), data_of<T>(b), data_of<T>(ape), data_of<T>(y));
}

template <class T>
void run_engram_gate(mneme_backend& be, const mneme_op& op) {
    const mneme_tensor &x = op.src[0], &kv = op.src[1], &qw = op.src[2], &kw = op.src[3], &y = op.dst;
    const auto& p = params_of<mneme_op_engram_gate>(op);
    const int64_t d = x.ne[0], n = x.ne[1], tokens = x.ne[2] * x.ne[3];
    require_same_shape(x, y, "engram_gate");
    if (op.n_src < 4 || kv.ne[0] != (n + 1) * d || row_count(kv) != tokens || qw.ne[0] != d || row_count(qw) != n ||
        kw.ne[0] != d || row_count(kw) != n || kv.dtype != y.dtype || qw.dtype != y.dtype || kw.dtype != y.dtype) {
        raise(MNEME_ERROR_INVALID_ARGUMENT, "engram_gate: shapes of x [D,n,S], kv [(n+1)D,S], weights [D,n] disagree");
    }
    for (const auto* t : {&x, &qw, &kw, &y}) require_contiguous(*t, "engram_gate");
    k::engram_gate<T>(be.exec, data_of<T>(x), d, n, tokens, data_of<T>(kv), row_stride(kv, "engram_gate kv"),
                      data_of<T>(qw), data_of<T>(kw), p.eps, p.clamp, data_of<T>(y));
}

template <class T>
void run_conv(mneme_backend& be, const mneme_op& op) {
    const mneme_tensor &x = op.src[0], &w = op.src[1], &y = op.dst;
    const auto& p = params_of<mneme_op_conv>(op);
    const int64_t c = x.ne[0], k = w.ne[0], tokens = row_count(y), hist = row_count(x) - tokens;
    if (y.ne[0] != c || row_count(w) != c || w.dtype != y.dtype || p.dilation < 1 || hist < (k - 1) * p.dilation) {
        raise(MNEME_ERROR_INVALID_ARGUMENT, "causal_conv: src0 [C, H+S] with H >= (k-1)*dilation, weights [k, C], dst [C, S]");
    }
    for (const auto* t : {&x, &w, &y}) require_contiguous(*t, "causal_conv");
    k::causal_conv<T>(be.exec, data_of<T>(x), c, hist, tokens, data_of<T>(w), k, p.dilation, p.silu != 0,
                      data_of<T>(y));
}

template <class T>
void run_topk(mneme_backend& be, const mneme_op& op) {
    const mneme_tensor &x = op.src[0], &y = op.dst;
    const auto kk = static_cast<int64_t>(params_of<mneme_op_topk>(op).k);
    if (y.dtype != MNEME_DTYPE_I32 || y.ne[0] != kk || row_count(y) != row_count(x) || kk > x.ne[0] || kk < 1) {
        raise(MNEME_ERROR_INVALID_ARGUMENT, "topk: dst must be I32 [k, rows] with 1 <= k <= n");
    }
    require_contiguous(y, "topk dst");
    k::fast::topk_any<T>(be.exec, data_of<T>(x), row_count(x), x.ne[0], row_stride(x, "topk src"), kk,
                         data_of<int32_t>(y));
}

template <class T>
void run_binary(mneme_backend& be, const mneme_op& op) {
    const mneme_tensor &a = op.src[0], &b = op.src[1], &y = op.dst;
    require_same_shape(a, y, "add/mul");
    for (const auto* t : {&a, &b, &y}) require_contiguous(*t, "add/mul");
    const int64_t b_rows = row_count(b);
    if (b.ne[0] != a.ne[0] || (b_rows != 1 && b_rows != row_count(a))) {
        raise(MNEME_ERROR_INVALID_ARGUMENT, "add/mul: src1 must match src0 or be one row");
    }
    if (op.type == MNEME_OP_ADD) {
        k::add<T>(be.exec, data_of<T>(a), data_of<T>(b), row_count(a), a.ne[0], b_rows, data_of<T>(y));
    } else {
        k::mul<T>(be.exec, data_of<T>(a), data_of<T>(b), row_count(a), a.ne[0], b_rows, data_of<T>(y));
    }
}

template <class T>
void run_scale(mneme_backend& be, const mneme_op& op) {
    require_same_shape(op.src[0], op.dst, "scale");
    require_contiguous(op.src[0], "scale src");
    require_contiguous(op.dst, "scale dst");
    const auto& p = params_of<mneme_op_scale>(op);
    k::scale<T>(be.exec, data_of<T>(op.src[0]), elements(op.dst), p.scale, p.bias, data_of<T>(op.dst));
}

// COPY and GET_ROWS decode rows of any stored format into the activation type. COPY takes
// optional block scales as src1 (params: mneme_op_matmul with the block sizes).
template <class T>
void run_rows(mneme_backend& be, const mneme_op& op) {
    const mneme_tensor& src = op.src[0];
    const mneme_tensor& y = op.dst;
    const int64_t ys = row_stride(y, "dst");
    mneme_op as_matmul = op;
    as_matmul.src[1] = src;
    as_matmul.n_src = 2;
    if (op.type == MNEME_OP_COPY && op.n_src >= 2 && op.src[1].buffer) {
        as_matmul.src[2] = op.src[1];
        as_matmul.n_src = 3;
    }
    k::weight_view table = weight_of(as_matmul);
    if (y.ne[0] != src.ne[0]) raise(MNEME_ERROR_INVALID_ARGUMENT, "copy/get_rows: row widths differ");
    const int64_t rows = row_count(y);
    T* out = data_of<T>(y);
    const bool copy = op.type == MNEME_OP_COPY;
    std::vector<int64_t> picks;  // GET_ROWS: the source row of each output row (COPY: row r)
    if (copy) {
        if (row_count(src) != rows) raise(MNEME_ERROR_INVALID_ARGUMENT, "copy: row counts differ");
    } else {
        const mneme_tensor& idx = op.src[1];
        if (row_count(idx) * idx.ne[0] != rows)
            raise(MNEME_ERROR_INVALID_ARGUMENT, "get_rows: index count != dst rows");
        require_contiguous(idx, "get_rows index");
        if (idx.dtype != MNEME_DTYPE_I32 && idx.dtype != MNEME_DTYPE_I64) {
            raise(MNEME_ERROR_INVALID_ARGUMENT, "get_rows: index must be I32 or I64");
        }
        picks.resize(static_cast<std::size_t>(rows));
        for (int64_t r = 0; r < rows; ++r) {
            const int64_t i = idx.dtype == MNEME_DTYPE_I32 ? data_of<int32_t>(idx)[r] : data_of<int64_t>(idx)[r];
            if (i < 0 || i >= table.n) raise(MNEME_ERROR_INVALID_ARGUMENT, "get_rows: index ", i, " out of range");
            picks[static_cast<std::size_t>(r)] = i;
        }
    }
    // Rows in parallel (a prefill gathers thousands: embeddings, each expert's tokens; V4 copies its
    // hyper-connection streams, 128 x 4096 floats a time at a 128-token prefill, which took ~260 us
    // row by row on one thread), decoded by the fast kernels for float32 (decode_row equals
    // decode_weight_row bit for bit).
    // A copy between overlapping bytes (rows moved within one buffer) keeps the row-by-row order.
    const bool overlapping = copy && src.buffer == y.buffer && src.offset < y.offset + byte_extent(y) &&
                             y.offset < src.offset + byte_extent(src);
    const auto grain = overlapping
                           ? static_cast<std::size_t>(rows)
                           : static_cast<std::size_t>(std::max<int64_t>(1, 16384 / std::max<int64_t>(1, table.k)));
    k::parallel(be.exec, static_cast<std::size_t>(rows), grain, [&](std::size_t r0, std::size_t r1) {
        for (std::size_t r = r0; r < r1; ++r) {
            T* dst = out + static_cast<int64_t>(r) * ys;
            const int64_t from = copy ? static_cast<int64_t>(r) : picks[r];
            if constexpr (std::is_same_v<T, float>) {
                if (!k::fast::reference_only()) {
                    k::fast::decode_row(table, from, dst);
                    continue;
                }
            }
            k::decode_weight_row<T>(table, from, dst);
        }
    });
}

// COPY into a BF16 tensor: from float32 rounding to nearest even (as f32_to_bf16), from BF16 as
// is. How caches that BF16 holds exactly are written and grown.
void run_copy_to_bf16(const mneme_op& op) {
    const mneme_tensor &src = op.src[0], &y = op.dst;
    const int64_t rows = row_count(y), n = y.ne[0];
    if (src.ne[0] != n || row_count(src) != rows) raise(MNEME_ERROR_INVALID_ARGUMENT, "copy: shapes differ");
    const int64_t ss = row_stride(src, "copy src"), ys = row_stride(y, "copy dst");
    uint16_t* out = data_of<uint16_t>(y);
    if (src.dtype == MNEME_DTYPE_BF16) {
        const uint16_t* in = data_of<uint16_t>(src);
        for (int64_t r = 0; r < rows; ++r) std::memcpy(out + r * ys, in + r * ss, static_cast<std::size_t>(n) * 2);
        return;
    }
    if (src.dtype != MNEME_DTYPE_F32)
        raise(MNEME_ERROR_INVALID_ARGUMENT, "copy to BF16: the source must be F32 or BF16");
    const float* in = data_of<float>(src);
    for (int64_t r = 0; r < rows; ++r) {
        for (int64_t c = 0; c < n; ++c) out[r * ys + c] = k::f32_to_bf16(in[r * ss + c]);
    }
}

template <class T>
void run_typed(mneme_backend& be, const mneme_op& op) {
    switch (op.type) {
        case MNEME_OP_MATMUL: return run_matmul<T>(be, op);
        case MNEME_OP_RMS_NORM: return run_rms_norm<T>(be, op);
        case MNEME_OP_ROPE: return run_rope<T>(be, op);
        case MNEME_OP_SOFTMAX: return run_softmax<T>(be, op);
        case MNEME_OP_SWIGLU: return run_swiglu<T>(be, op);
        case MNEME_OP_ADD:
        case MNEME_OP_MUL: return run_binary<T>(be, op);
        case MNEME_OP_SCALE: return run_scale<T>(be, op);
        case MNEME_OP_TOPK: return run_topk<T>(be, op);
        case MNEME_OP_QUANT_ROUNDTRIP: return run_quant<T>(be, op);
        case MNEME_OP_LAYER_NORM: return run_layer_norm<T>(be, op);
        case MNEME_OP_HADAMARD: return run_hadamard<T>(be, op);
        case MNEME_OP_ATTENTION: return run_attention<T>(be, op);
        case MNEME_OP_INDEXER_SCORES: return run_indexer<T>(be, op);
        case MNEME_OP_ADD_ROWS_SCALED: return run_add_rows<T>(be, op);
        case MNEME_OP_HC_COEFFS: return run_hc_coeffs<T>(be, op);
        case MNEME_OP_STREAM_MIX: return run_stream_mix<T>(be, op);
        case MNEME_OP_COMPRESS_POOL: return run_compress<T>(be, op);
        case MNEME_OP_ENGRAM_GATE: return run_engram_gate<T>(be, op);
        case MNEME_OP_CAUSAL_CONV: return run_conv<T>(be, op);
        case MNEME_OP_COPY:
        case MNEME_OP_GET_ROWS: return run_rows<T>(be, op);
        default: raise(MNEME_ERROR_UNSUPPORTED, "op type ", op.type, " not supported by the CPU backend");
    }
}

}  // namespace

bool supports(const mneme_op& op) {
    switch (op.type) {
        case MNEME_OP_MATMUL:
        case MNEME_OP_RMS_NORM:
        case MNEME_OP_ROPE:
        case MNEME_OP_SOFTMAX:
        case MNEME_OP_SWIGLU:
        case MNEME_OP_ADD:
        case MNEME_OP_MUL:
        case MNEME_OP_SCALE:
        case MNEME_OP_GET_ROWS:
        case MNEME_OP_QUANT_ROUNDTRIP:
        case MNEME_OP_LAYER_NORM:
        case MNEME_OP_HADAMARD:
        case MNEME_OP_ATTENTION:
        case MNEME_OP_ADD_ROWS_SCALED:
        case MNEME_OP_HC_COEFFS:
        case MNEME_OP_STREAM_MIX:
        case MNEME_OP_COMPRESS_POOL:
        case MNEME_OP_ENGRAM_GATE:
        case MNEME_OP_CAUSAL_CONV: return is_float(op.dst.dtype);
        case MNEME_OP_COPY:  // also into BF16 (run_copy_to_bf16)
            return is_float(op.dst.dtype) ||
                   (op.dst.dtype == MNEME_DTYPE_BF16 &&
                    (op.src[0].dtype == MNEME_DTYPE_F32 || op.src[0].dtype == MNEME_DTYPE_BF16));
        case MNEME_OP_INDEXER_SCORES:
            return is_float(op.dst.dtype) && (op.n_src < 3 || op.src[2].dtype == op.dst.dtype ||
                                              (op.src[2].dtype == MNEME_DTYPE_BF16 && op.dst.dtype == MNEME_DTYPE_F32));
        case MNEME_OP_TOPK: return is_float(op.src[0].dtype) && op.dst.dtype == MNEME_DTYPE_I32;
        default: return false;
    }
}

namespace {

// The checks every op passes before it runs.
void validate(const mneme_op& op) {
    if (op.struct_size < sizeof(mneme_op)) raise(MNEME_ERROR_INVALID_ARGUMENT, "mneme_op.struct_size too small");
    if (op.n_src > MNEME_OP_MAX_SRC) raise(MNEME_ERROR_INVALID_ARGUMENT, "too many op sources");
    check_tensor(op.dst, "dst");
    for (uint32_t i = 0; i < op.n_src; ++i) {
        if (op.src[i].buffer) check_tensor(op.src[i], "src");
    }
    if (!supports(op)) raise(MNEME_ERROR_UNSUPPORTED, "CPU backend does not support op ", op.type, " with these types");
    if (op.type == MNEME_OP_COPY && op.dst.dtype == MNEME_DTYPE_BF16) return;  // run_copy_to_bf16 checks the rest
    const mneme_dtype t = op.type == MNEME_OP_TOPK ? op.src[0].dtype : op.dst.dtype;
    if (op.type != MNEME_OP_COPY && op.type != MNEME_OP_GET_ROWS && op.type != MNEME_OP_MATMUL &&
        op.type != MNEME_OP_ADD_ROWS_SCALED) {
        if (op.src[0].dtype != t) raise(MNEME_ERROR_INVALID_ARGUMENT, "op src0 dtype differs from the activation type");
    }
    if (op.type == MNEME_OP_MATMUL && op.src[0].dtype != t) {
        raise(MNEME_ERROR_INVALID_ARGUMENT, "matmul: src0 dtype differs from dst");
    }
}

// A tensor's bytes: its extent, and where it is rows of `width` contiguous bytes `stride` apart
// (a 2-D tensor of contiguous rows), those; otherwise one row as wide as the extent.
struct byte_span {
    const uint8_t *begin, *end;
    int64_t width, stride;
};

byte_span bytes_of(const mneme_tensor& t) {
    const uint8_t* p = t.buffer->data + t.offset;
    const auto extent = static_cast<int64_t>(byte_extent(t));
    const bool rows = t.dtype != MNEME_DTYPE_FP4_E2M1 && t.nb[0] == static_cast<int64_t>(dtype_size(t.dtype)) &&
                      t.ne[1] > 1 && t.ne[2] == 1 && t.ne[3] == 1 && t.nb[1] >= t.ne[0] * t.nb[0];
    return {p, p + extent, rows ? t.ne[0] * t.nb[0] : extent, rows ? t.nb[1] : 0};
}

// Whether two tensors share a byte. Rows with the same stride whose columns lie apart within it
// never do, though their extents interleave: MLA's per-head products over a prompt write column
// slices of one [heads x width, tokens] tensor (one such slice of every row).
bool overlaps(const byte_span& a, const byte_span& b) {
    if (!(a.begin < b.end && b.begin < a.end)) return false;
    if (a.stride == 0 || a.stride != b.stride) return true;
    const int64_t d = ((b.begin - a.begin) % a.stride + a.stride) % a.stride;  // b's columns from a's, in a row
    return !(d >= a.width && d + b.width <= a.stride);
}

// Whether op `a` writes bytes that op `b` reads or writes.
bool writes_into(const mneme_op& a, const mneme_op& b) {
    const byte_span d = bytes_of(a.dst);
    const auto meets = [&](const mneme_tensor& t) { return overlaps(d, bytes_of(t)); };
    if (meets(b.dst)) return true;
    for (uint32_t i = 0; i < b.n_src; ++i) {
        if (b.src[i].buffer && meets(b.src[i])) return true;
    }
    return false;
}

// A valid float32 matmul as a matmul_item; false for any other op (an invalid one included: it is
// left to execute(), which reports it).
bool float_matmul(const mneme_op& op, k::fast::matmul_item& item) {
    if (op.type != MNEME_OP_MATMUL || op.dst.dtype != MNEME_DTYPE_F32) return false;
    try {
        validate(op);
        check_matmul_shapes(op);
        item.x = data_of<float>(op.src[0]);
        item.rows = row_count(op.src[0]);
        item.x_stride = row_stride(op.src[0], "matmul src0");
        item.w = weight_of(op);
        item.y = data_of<float>(op.dst);
        item.y_stride = row_stride(op.dst, "matmul dst");
        item.alpha = op.params ? params_of<mneme_op_matmul>(op).alpha : 1.0;
    } catch (const plugin::failure&) {
        return false;
    }
    return true;
}

}  // namespace

void execute(mneme_backend& be, const mneme_op& op) {
    validate(op);
    if (op.type == MNEME_OP_COPY && op.dst.dtype == MNEME_DTYPE_BF16) return run_copy_to_bf16(op);
    const mneme_dtype t = op.type == MNEME_OP_TOPK ? op.src[0].dtype : op.dst.dtype;
    if (t == MNEME_DTYPE_F64) {
        run_typed<double>(be, op);
    } else {
        run_typed<float>(be, op);
    }
}

std::size_t execute_some(mneme_backend& be, const mneme_op* ops, std::size_t n) {
    // Consecutive independent products (none writes what another reads or writes) are run side by
    // side, each on one thread: those that run on one thread anyway (MLA's per-head products: 2 x
    // 8-128 of 32 KiB per layer and decoding step), and decode-sized ones small enough that a
    // thread streaming a whole matrix beats the pool splitting each (MoE's experts) once there are
    // enough of them to give every thread one, and prompt-sized products of small weights (MLA's
    // per-head products over a prompt, which write column slices of one tensor). Each output is the same either way;
    // only which thread computes it changes.
    thread_local std::vector<k::fast::matmul_item> items;
    items.clear();
    std::size_t first_whole = n;  // the first product that would otherwise be split
    for (std::size_t i = 0; i < n; ++i) {
        k::fast::matmul_item it;
        if (!float_matmul(ops[i], it)) break;
        if (!k::fast::matmul_on_one_thread(it.rows, it.w)) {
            if (!k::fast::matmul_whole_on_a_thread(it.rows, it.w)) {
                if (i > 0) break;
                // A product split across the pool, already validated: run it as execute() would.
                k::fast::matmul_any<float>(be.exec, it.x, it.rows, it.x_stride, it.w, it.y, it.y_stride, it.alpha);
                return 1;
            }
            first_whole = std::min(first_whole, i);
        }
        bool apart = true;
        for (std::size_t j = 0; j < i && apart; ++j)
            apart = !writes_into(ops[j], ops[i]) && !writes_into(ops[i], ops[j]);
        if (!apart) break;
        items.push_back(it);
    }
    // Too few to keep the pool busy: the products before the first splittable one go side by
    // side, and that one is split as usual.
    if (first_whole < items.size() && items.size() < be.threads) items.resize(first_whole);
    if (items.empty()) {
        execute(be, ops[0]);
        return 1;
    }
    k::fast::matmul_side_by_side(be.exec, items.data(), items.size());
    return items.size();
}

void forget_contents(mneme_buffer& b) {
    if (!b.any_scans.load(std::memory_order_acquire)) return;  // the common case: activations
    const std::lock_guard lock(b.scans_mutex);
    b.scans.clear();
    b.any_scans.store(false, std::memory_order_release);
}

void forget_written(const mneme_op* ops, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        if (mneme_buffer* b = ops[i].dst.buffer) forget_contents(*b);
    }
}

}  // namespace mneme::cpu
