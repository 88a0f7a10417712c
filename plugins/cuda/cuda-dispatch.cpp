// Translates plugin ops (mneme_op) into CUDA kernel launches after checking dtypes, shapes and
// bounds with the CPU backend's rules (plugins/cpu/cpu-dispatch.cpp), so both backends accept the
// same ops. Index values (GET_ROWS, ADD_ROWS_SCALED, ATTENTION lists) live on the device and are
// not read back: the kernels treat an out-of-range index as documented in cuda-ops.h.
#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstring>

#include "cuda-backend.h"
#include "cuda-checks.h"
#include "mneme_kernels/cuda-ops.h"
#include "plugin-boundary.h"

namespace mneme::cuda {
namespace {

using plugin::dtype_size;
using plugin::raise;
namespace k = mneme::kernels::cuda;

// The weight (or table) in src `wi`, with optional block scales in src `si`.
k::weight_view weight_of(const mneme_op& op, uint32_t wi, const mneme_tensor* scale) {
    const mneme_tensor& w = op.src[wi];
    k::weight_view v;
    v.data = w.buffer->data + w.offset;
    v.k = w.ne[0];
    v.n = w.ne[1];
    v.row_bytes = w.nb[1];
    switch (w.dtype) {
        case MNEME_DTYPE_F32:
            v.format = k::weight_format::f32;
            break;
        case MNEME_DTYPE_BF16:
            v.format = k::weight_format::bf16;
            break;
        case MNEME_DTYPE_F16:
            v.format = k::weight_format::f16;
            break;
        case MNEME_DTYPE_F8_E4M3:
            v.format = k::weight_format::e4m3;
            break;
        case MNEME_DTYPE_FP4_E2M1:
            v.format = k::weight_format::e2m1;
            break;
        default:
            raise(MNEME_ERROR_UNSUPPORTED, "weight dtype ", w.dtype, " not supported by the CUDA backend");
    }
    if (w.dtype != MNEME_DTYPE_FP4_E2M1 && w.nb[0] != dtype_size(w.dtype)) {
        raise(MNEME_ERROR_INVALID_ARGUMENT, "weight rows must be contiguous");
    }
    if (w.dtype == MNEME_DTYPE_FP4_E2M1 && w.ne[1] > 1 && w.nb[1] < (w.ne[0] + 1) / 2) {
        raise(MNEME_ERROR_INVALID_ARGUMENT, "FP4 weight rows overlap");
    }
    if (scale) {
        const mneme_tensor& s = *scale;
        check_tensor(s, "weight scale");
        const auto& p = params_of<mneme_op_matmul>(op);
        if (p.block_k == 0 || p.block_n == 0) raise(MNEME_ERROR_INVALID_ARGUMENT, "zero scale block");
        v.block_k = p.block_k;
        v.block_n = p.block_n;
        const int64_t need_k = (v.k + v.block_k - 1) / v.block_k, need_n = (v.n + v.block_n - 1) / v.block_n;
        if (s.ne[0] != need_k || s.ne[1] != need_n) {
            raise(MNEME_ERROR_INVALID_ARGUMENT, "scale grid ", s.ne[0], "x", s.ne[1], ", expected ", need_k, "x",
                  need_n);
        }
        if (s.dtype == MNEME_DTYPE_F32) {
            v.scale_fmt = k::scale_format::f32;
        } else if (s.dtype == MNEME_DTYPE_F8_E8M0) {
            v.scale_fmt = k::scale_format::e8m0;
        } else {
            raise(MNEME_ERROR_UNSUPPORTED, "scale dtype ", s.dtype, " not supported");
        }
        if (s.nb[0] != dtype_size(s.dtype)) raise(MNEME_ERROR_INVALID_ARGUMENT, "scale rows must be contiguous");
        v.scale = s.buffer->data + s.offset;
        v.scale_row_elems = s.ne[1] > 1 ? s.nb[1] / dtype_size(s.dtype) : s.ne[0];
    }
    return v;
}

void launched(cudaError_t e, const char* op_name) {
    check(e, op_name);
}

void run_matmul(cudaStream_t st, const mneme_op& op) {
    const mneme_tensor &x = op.src[0], &w = op.src[1], &y = op.dst;
    require_f32(x, "matmul src0");
    if (x.ne[0] != w.ne[0]) raise(MNEME_ERROR_INVALID_ARGUMENT, "matmul: K mismatch ", x.ne[0], " vs ", w.ne[0]);
    if (y.ne[0] != w.ne[1] || row_count(y) != row_count(x)) raise(MNEME_ERROR_INVALID_ARGUMENT, "matmul: bad dst");
    if (w.ne[2] * w.ne[3] != 1) raise(MNEME_ERROR_INVALID_ARGUMENT, "matmul: weight must be 2-D");
    const double alpha = op.params ? params_of<mneme_op_matmul>(op).alpha : 1.0;
    launched(k::matmul(st, data_of<float>(x), row_count(x), row_stride(x, "matmul src0"),
                       weight_of(op, 1, optional_src(op, 2)), data_of<float>(y), row_stride(y, "matmul dst"),
                       static_cast<float>(alpha)),
             "matmul");
}

// COPY decodes rows of any stored format (optional block scales in src1, block sizes in
// mneme_op_matmul params); GET_ROWS gathers rows of a table by I32/I64 indices.
void run_rows(cudaStream_t st, const mneme_op& op) {
    const mneme_tensor &src = op.src[0], &y = op.dst;
    const int64_t ys = row_stride(y, "dst");
    if (y.ne[0] != src.ne[0]) raise(MNEME_ERROR_INVALID_ARGUMENT, "copy/get_rows: row widths differ");
    if ((src.ne[2] > 1 && src.nb[2] != src.nb[1] * src.ne[1]) ||
        (src.ne[3] > 1 && src.nb[3] != src.nb[2] * src.ne[2])) {
        raise(MNEME_ERROR_INVALID_ARGUMENT, "copy/get_rows: source dimensions 2 and 3 must be packed");
    }
    const int64_t rows = row_count(y);
    if (op.type == MNEME_OP_COPY) {
        if (row_count(src) != rows) raise(MNEME_ERROR_INVALID_ARGUMENT, "copy: row counts differ");
        k::weight_view table = weight_of(op, 0, optional_src(op, 1));
        table.n = rows;  // rows of every dimension, stacked with nb[1]
        launched(k::decode_rows(st, table, rows, nullptr, false, data_of<float>(y), ys), "copy");
        return;
    }
    const mneme_tensor& idx = op.src[1];
    if (op.n_src < 2 || !idx.buffer) raise(MNEME_ERROR_INVALID_ARGUMENT, "get_rows: no index tensor");
    if (row_count(idx) * idx.ne[0] != rows) raise(MNEME_ERROR_INVALID_ARGUMENT, "get_rows: index count != dst rows");
    if (idx.dtype != MNEME_DTYPE_I32 && idx.dtype != MNEME_DTYPE_I64) {
        raise(MNEME_ERROR_INVALID_ARGUMENT, "get_rows: index must be I32 or I64");
    }
    require_contiguous(idx, "get_rows index");
    k::weight_view table = weight_of(op, 0, nullptr);
    table.n = row_count(src);
    launched(k::decode_rows(st, table, rows, idx.buffer->data + idx.offset, idx.dtype == MNEME_DTYPE_I64,
                            data_of<float>(y), ys),
             "get_rows");
}

void run_rms_norm(cudaStream_t st, const mneme_op& op) {
    const mneme_tensor &x = op.src[0], &y = op.dst;
    require_same_shape(x, y, "rms_norm");
    const float* weight = nullptr;
    if (const mneme_tensor* w = optional_src(op, 1)) {
        if (w->dtype != y.dtype || w->ne[0] != x.ne[0]) {
            raise(MNEME_ERROR_INVALID_ARGUMENT, "rms_norm: weight must be [ne0] of the activation type");
        }
        weight = data_of<float>(*w);
    }
    launched(k::rms_norm(st, data_of<float>(x), row_count(x), x.ne[0], row_stride(x, "rms_norm src"), weight,
                         params_of<mneme_op_rms_norm>(op).eps, data_of<float>(y), row_stride(y, "rms_norm dst")),
             "rms_norm");
}

void run_layer_norm(cudaStream_t st, const mneme_op& op) {
    const mneme_tensor &x = op.src[0], &y = op.dst;
    require_same_shape(x, y, "layer_norm");
    const float* wb[2] = {nullptr, nullptr};
    for (uint32_t i = 1; i < 3; ++i) {
        const mneme_tensor* t = optional_src(op, i);
        if (!t) continue;
        if (t->dtype != y.dtype || t->ne[0] != x.ne[0]) {
            raise(MNEME_ERROR_INVALID_ARGUMENT, "layer_norm: weight/bias must be [ne0] of the activation type");
        }
        wb[i - 1] = data_of<float>(*t);
    }
    launched(k::layer_norm(st, data_of<float>(x), row_count(x), x.ne[0], row_stride(x, "layer_norm src"), wb[0], wb[1],
                           params_of<mneme_op_norm>(op).eps, data_of<float>(y), row_stride(y, "layer_norm dst")),
             "layer_norm");
}

void run_rope(cudaStream_t st, const mneme_op& op) {
    const mneme_tensor &x = op.src[0], &c = op.src[1], &s = op.src[2], &y = op.dst;
    const auto& p = params_of<mneme_op_rope>(op);
    require_same_shape(x, y, "rope");
    if (op.n_src < 3) raise(MNEME_ERROR_INVALID_ARGUMENT, "rope: cos and sin tables are required");
    require_contiguous(c, "rope cos");
    require_contiguous(s, "rope sin");
    if (p.n_rot % 2 || p.offset + static_cast<int64_t>(p.n_rot) > x.ne[0]) {
        raise(MNEME_ERROR_INVALID_ARGUMENT, "rope: bad rotated slice");
    }
    const int64_t tokens = x.ne[2] * x.ne[3], heads = x.ne[1];
    if (c.ne[0] != p.n_rot / 2 || row_count(c) != tokens || s.ne[0] != c.ne[0] || row_count(s) != tokens ||
        c.dtype != y.dtype || s.dtype != y.dtype) {
        raise(MNEME_ERROR_INVALID_ARGUMENT, "rope: cos/sin tables must be [n_rot/2, tokens] of the activation type");
    }
    launched(k::rope(st, data_of<float>(x), tokens, heads, x.ne[0], row_stride(x, "rope src"), data_of<float>(c),
                     data_of<float>(s), p.layout == MNEME_ROPE_HALF_SPLIT, p.offset, p.n_rot, p.inverse != 0,
                     data_of<float>(y), row_stride(y, "rope dst")),
             "rope");
}

void run_softmax(cudaStream_t st, const mneme_op& op) {
    const mneme_tensor &x = op.src[0], &y = op.dst;
    require_same_shape(x, y, "softmax");
    const int64_t xs = row_stride(x, "softmax src"), ys = row_stride(y, "softmax dst");
    if (xs != ys) raise(MNEME_ERROR_INVALID_ARGUMENT, "softmax: src and dst strides differ");
    launched(k::softmax(st, data_of<float>(x), row_count(x), x.ne[0], xs, params_of<mneme_op_softmax>(op).scale,
                        data_of<float>(y)),
             "softmax");
}

void run_swiglu(cudaStream_t st, const mneme_op& op) {
    const mneme_tensor &g = op.src[0], &u = op.src[1], &y = op.dst;
    require_same_shape(g, y, "swiglu");
    require_same_shape(u, y, "swiglu");
    require_f32(u, "swiglu src1");
    for (const auto* t : {&g, &u, &y}) require_contiguous(*t, "swiglu");
    const double limit = op.params ? params_of<mneme_op_swiglu>(op).limit : 0.0;
    const float* row_weight = nullptr;
    if (const mneme_tensor* w = optional_src(op, 2)) {
        if (w->dtype != y.dtype || elements(*w) != row_count(y)) {
            raise(MNEME_ERROR_INVALID_ARGUMENT, "swiglu: row weights must be [rows] of the activation type");
        }
        require_contiguous(*w, "swiglu row weights");
        row_weight = data_of<float>(*w);
    }
    launched(k::swiglu(st, data_of<float>(g), data_of<float>(u), row_count(y), y.ne[0], limit, row_weight,
                       data_of<float>(y)),
             "swiglu");
}

void run_binary(cudaStream_t st, const mneme_op& op) {
    const mneme_tensor &a = op.src[0], &b = op.src[1], &y = op.dst;
    require_same_shape(a, y, "add/mul");
    require_f32(b, "add/mul src1");
    for (const auto* t : {&a, &b, &y}) require_contiguous(*t, "add/mul");
    const int64_t b_rows = row_count(b);
    if (b.ne[0] != a.ne[0] || (b_rows != 1 && b_rows != row_count(a))) {
        raise(MNEME_ERROR_INVALID_ARGUMENT, "add/mul: src1 must match src0 or be one row");
    }
    const auto fn = op.type == MNEME_OP_ADD ? k::add : k::mul;
    launched(fn(st, data_of<float>(a), data_of<float>(b), row_count(a), a.ne[0], b_rows, data_of<float>(y)),
             op.type == MNEME_OP_ADD ? "add" : "mul");
}

void run_scale(cudaStream_t st, const mneme_op& op) {
    require_same_shape(op.src[0], op.dst, "scale");
    require_contiguous(op.src[0], "scale src");
    require_contiguous(op.dst, "scale dst");
    const auto& p = params_of<mneme_op_scale>(op);
    launched(k::scale(st, data_of<float>(op.src[0]), elements(op.dst), p.scale, p.bias, data_of<float>(op.dst)),
             "scale");
}

void run_topk(cudaStream_t st, const mneme_op& op) {
    const mneme_tensor &x = op.src[0], &y = op.dst;
    const auto kk = static_cast<int64_t>(params_of<mneme_op_topk>(op).k);
    if (y.dtype != MNEME_DTYPE_I32 || y.ne[0] != kk || row_count(y) != row_count(x) || kk > x.ne[0] || kk < 1) {
        raise(MNEME_ERROR_INVALID_ARGUMENT, "topk: dst must be I32 [k, rows] with 1 <= k <= n");
    }
    if (kk > k::k_topk_max) raise(MNEME_ERROR_UNSUPPORTED, "topk: k = ", kk, " exceeds ", k::k_topk_max);
    require_contiguous(y, "topk dst");
    launched(k::topk(st, data_of<float>(x), row_count(x), x.ne[0], row_stride(x, "topk src"), kk, data_of<int32_t>(y)),
             "topk");
}

void run_quant(cudaStream_t st, const mneme_op& op) {
    const mneme_tensor &x = op.src[0], &y = op.dst;
    require_same_shape(x, y, "quant_roundtrip");
    const auto& p = params_of<mneme_op_quant>(op);
    if (p.block == 0 || p.scale_mode != MNEME_QUANT_SCALE_POW2 ||
        (p.format != MNEME_DTYPE_F8_E4M3 && p.format != MNEME_DTYPE_FP4_E2M1)) {
        raise(MNEME_ERROR_UNSUPPORTED, "quant_roundtrip: unsupported format/scale/block");
    }
    launched(
        k::quant_roundtrip(st, data_of<float>(x), row_count(x), x.ne[0], row_stride(x, "quant src"),
                           p.format == MNEME_DTYPE_F8_E4M3, p.block, data_of<float>(y), row_stride(y, "quant dst")),
        "quant_roundtrip");
}

void run_hadamard(cudaStream_t st, const mneme_op& op) {
    const mneme_tensor &x = op.src[0], &y = op.dst;
    require_same_shape(x, y, "hadamard");
    if (!std::has_single_bit(static_cast<uint64_t>(x.ne[0]))) {
        raise(MNEME_ERROR_INVALID_ARGUMENT, "hadamard: width ", x.ne[0], " is not a power of two");
    }
    if (x.ne[0] > k::k_hadamard_max) raise(MNEME_ERROR_UNSUPPORTED, "hadamard: width ", x.ne[0], " too large");
    launched(k::hadamard(st, data_of<float>(x), row_count(x), x.ne[0], row_stride(x, "hadamard src"), data_of<float>(y),
                         row_stride(y, "hadamard dst")),
             "hadamard");
}

// ABI 1.0 callers pass the attention params without key_start/ratio: those read as 0.
mneme_op_attention attention_params(const mneme_op& op) {
    constexpr uint32_t v10_size = offsetof(mneme_op_attention, key_start);
    if (!op.params || op.params_size < v10_size) raise(MNEME_ERROR_INVALID_ARGUMENT, "op params missing or short");
    mneme_op_attention p{};
    std::memcpy(&p, op.params, std::min<std::size_t>(op.params_size, sizeof(p)));
    return p;
}

void run_attention(cudaStream_t st, const mneme_op& op) {
    const mneme_tensor &q = op.src[0], &kk = op.src[1], &v = op.src[2], &y = op.dst;
    if (op.n_src < 3) raise(MNEME_ERROR_INVALID_ARGUMENT, "attention: q, k and v are required");
    const mneme_op_attention p = attention_params(op);
    k::attention_args a;
    a.heads = q.ne[1];
    a.queries = q.ne[2] * q.ne[3];
    a.dk = q.ne[0];
    a.dv = v.ne[0];
    if (kk.ne[0] != a.dk || row_count(kk) != row_count(v) || y.ne[0] != a.dv || y.ne[1] != a.heads ||
        y.ne[2] * y.ne[3] != a.queries) {
        raise(MNEME_ERROR_INVALID_ARGUMENT,
              "attention: shapes of q [Dk,H,S], k [Dk,T], v [Dv,T], dst [Dv,H,S] disagree");
    }
    for (const auto* t : {&q, &kk, &v, &y}) {
        require_f32(*t, "attention q/k/v/dst");
        if (t->nb[0] != 4 || (t->ne[3] > 1 && t->nb[3] != t->nb[2] * t->ne[2])) {
            raise(MNEME_ERROR_INVALID_ARGUMENT, "attention: bad strides");
        }
    }
    if (a.dk > k::k_attention_dk_max || a.dv > k::k_attention_dv_max) {
        raise(MNEME_ERROR_UNSUPPORTED, "attention: head widths ", a.dk, "/", a.dv, " exceed ", k::k_attention_dk_max,
              "/", k::k_attention_dv_max);
    }
    a.q_head_stride = q.nb[1] / 4;
    a.q_stride = q.nb[2] / 4;
    a.k_stride = row_stride(kk, "attention keys");
    a.v_stride = row_stride(v, "attention values");
    a.n_keys = row_count(kk);
    a.out_head_stride = y.nb[1] / 4;
    a.out_stride = y.nb[2] / 4;
    a.scale = static_cast<float>(p.scale);
    a.start_pos = p.start_pos;
    a.window = p.window;
    a.key_start = p.key_start;
    if (const mneme_tensor* c = optional_src(op, 5)) {
        if (c->dtype != y.dtype || c->ne[0] != a.dk || a.dk != a.dv || p.ratio < 1) {
            raise(MNEME_ERROR_INVALID_ARGUMENT,
                  "attention: compressed entries must be [Dk, Tc] of the activation type with Dk == Dv and ratio >= 1");
        }
        a.comp = data_of<float>(*c);
        a.comp_stride = row_stride(*c, "attention compressed entries");
        a.n_comp = row_count(*c);
        a.ratio = p.ratio;
    }
    if (const mneme_tensor* idx = optional_src(op, 3)) {
        if (idx->dtype != MNEME_DTYPE_I32 || row_count(*idx) != a.queries) {
            raise(MNEME_ERROR_INVALID_ARGUMENT, "attention: indices must be I32 [n, S]");
        }
        require_contiguous(*idx, "attention indices");
        a.indices = data_of<int32_t>(*idx);
        a.n_indices = idx->ne[0];
    }
    const float* sink = nullptr;
    if (const mneme_tensor* sk = optional_src(op, 4)) {
        if (sk->ne[0] != a.heads || sk->dtype != y.dtype) {
            raise(MNEME_ERROR_INVALID_ARGUMENT, "attention: sink must be [H] of the activation type");
        }
        sink = data_of<float>(*sk);
    }
    launched(k::attention(st, a, data_of<float>(q), data_of<float>(kk), data_of<float>(v), sink, data_of<float>(y)),
             "attention");
}

void run_indexer(cudaStream_t st, const mneme_op& op) {
    const mneme_tensor &q = op.src[0], &w = op.src[1], &kk = op.src[2], &y = op.dst;
    if (op.n_src < 3) raise(MNEME_ERROR_INVALID_ARGUMENT, "indexer: q, weights and keys are required");
    const auto& p = params_of<mneme_op_indexer>(op);
    const int64_t d = q.ne[0], heads = q.ne[1], queries = q.ne[2] * q.ne[3], n_keys = row_count(kk);
    if (kk.ne[0] != d || w.ne[0] != heads || row_count(w) != queries || y.ne[0] != n_keys || row_count(y) != queries ||
        p.ratio < 1 || w.dtype != y.dtype || kk.dtype != y.dtype) {
        raise(MNEME_ERROR_INVALID_ARGUMENT, "indexer: shapes of q [D,Hi,S], w [Hi,S], k [D,T], dst [T,S] disagree");
    }
    require_contiguous(q, "indexer q");
    require_contiguous(w, "indexer w");
    require_contiguous(y, "indexer dst");
    launched(k::indexer_scores(st, data_of<float>(q), data_of<float>(w), data_of<float>(kk), d, heads, queries, n_keys,
                               row_stride(kk, "indexer keys"), p.start_pos, p.ratio, data_of<float>(y)),
             "indexer_scores");
}

void run_add_rows(cudaStream_t st, const mneme_op& op) {
    const mneme_tensor &x = op.src[0], &idx = op.src[1], &w = op.src[2], &y = op.dst;
    if (op.n_src < 3) raise(MNEME_ERROR_INVALID_ARGUMENT, "add_rows_scaled: rows, indices and weights are required");
    const int64_t rows = row_count(x), n = x.ne[0];
    if (y.ne[0] != n || idx.dtype != MNEME_DTYPE_I32 || idx.ne[0] * row_count(idx) != rows ||
        w.ne[0] * row_count(w) != rows || w.dtype != y.dtype || x.dtype != y.dtype) {
        raise(MNEME_ERROR_INVALID_ARGUMENT, "add_rows_scaled: shapes disagree");
    }
    for (const auto* t : {&x, &idx, &w, &y}) require_contiguous(*t, "add_rows_scaled");
    launched(k::add_rows_scaled(st, data_of<float>(x), rows, n, data_of<int32_t>(idx), data_of<float>(w),
                                data_of<float>(y), row_count(y)),
             "add_rows_scaled");
}

void run_hc_coeffs(cudaStream_t st, const mneme_op& op) {
    const mneme_tensor &m = op.src[0], &scale = op.src[1], &base = op.src[2], &y = op.dst;
    if (op.n_src < 3) raise(MNEME_ERROR_INVALID_ARGUMENT, "hc_coeffs: mixes, scale and base are required");
    const auto& p = params_of<mneme_op_hc>(op);
    const int64_t n = p.n_streams;
    if (n < 1 || p.sinkhorn_iters < 1) {
        raise(MNEME_ERROR_INVALID_ARGUMENT, "hc_coeffs: n_streams and sinkhorn_iters must be >= 1");
    }
    const bool head = m.ne[0] == n;
    if (!head && m.ne[0] != (2 + n) * n) {
        raise(MNEME_ERROR_INVALID_ARGUMENT, "hc_coeffs: mixes have ", m.ne[0], " rows, expected n or (2+n)*n");
    }
    require_same_shape(m, y, "hc_coeffs");
    if (elements(scale) != (head ? 1 : 3) || elements(base) != m.ne[0] || scale.dtype != y.dtype ||
        base.dtype != y.dtype) {
        raise(MNEME_ERROR_INVALID_ARGUMENT,
              "hc_coeffs: scale must be [3] ([1] for a head) and base [M], activation type");
    }
    for (const auto* t : {&m, &scale, &base, &y}) require_contiguous(*t, "hc_coeffs");
    launched(k::hc_coeffs(st, data_of<float>(m), row_count(m), n, head, data_of<float>(scale), data_of<float>(base),
                          p.sinkhorn_iters, p.eps, p.post_mult, data_of<float>(y)),
             "hc_coeffs");
}

bool overlaps(const mneme_tensor& a, const mneme_tensor& b) {
    return a.buffer == b.buffer && a.offset < b.offset + byte_extent(b) && b.offset < a.offset + byte_extent(a);
}

void run_stream_mix(cudaStream_t st, const mneme_op& op) {
    const mneme_tensor &x = op.src[0], &c = op.src[1], &y = op.dst;
    if (op.n_src < 2) raise(MNEME_ERROR_INVALID_ARGUMENT, "stream_mix: streams and coefficients are required");
    const auto& p = params_of<mneme_op_stream_mix>(op);
    const int64_t d = x.ne[0], tokens = x.ne[2] * x.ne[3];
    const mneme_tensor* z = optional_src(op, 2);
    if (x.ne[1] != p.n_in || p.n_in < 1 || p.n_out < 1 || y.ne[0] != d || y.ne[1] != p.n_out ||
        y.ne[2] * y.ne[3] != tokens || row_count(c) != tokens || c.dtype != y.dtype) {
        raise(MNEME_ERROR_INVALID_ARGUMENT, "stream_mix: shapes of x [D,n_in,S], c [M,S], dst [D,n_out,S] disagree");
    }
    const int64_t need_w = static_cast<int64_t>(p.weight_offset) + static_cast<int64_t>(p.n_in) * p.n_out;
    if (need_w > c.ne[0] || (z && static_cast<int64_t>(p.bias_offset) + p.n_out > c.ne[0])) {
        raise(MNEME_ERROR_INVALID_ARGUMENT, "stream_mix: coefficient offsets exceed the ", c.ne[0], " rows of c");
    }
    if (z && (z->ne[0] != d || row_count(*z) != tokens || z->dtype != y.dtype)) {
        raise(MNEME_ERROR_INVALID_ARGUMENT, "stream_mix: update must be [D, S]");
    }
    for (const auto* t : {&x, &c, &y}) require_contiguous(*t, "stream_mix");
    if (z) require_contiguous(*z, "stream_mix update");
    if (overlaps(x, y)) raise(MNEME_ERROR_INVALID_ARGUMENT, "stream_mix: dst must not overlap the streams");
    if (z && overlaps(*z, y)) raise(MNEME_ERROR_INVALID_ARGUMENT, "stream_mix: dst must not overlap the update");
    launched(k::stream_mix(st, data_of<float>(x), d, p.n_in, tokens, data_of<float>(c), c.ne[0], p.n_out,
                           p.weight_offset, z ? data_of<float>(*z) : nullptr, p.bias_offset, data_of<float>(y)),
             "stream_mix");
}

void run_compress(cudaStream_t st, const mneme_op& op) {
    const mneme_tensor &a = op.src[0], &b = op.src[1], &ape = op.src[2], &y = op.dst;
    if (op.n_src < 3) raise(MNEME_ERROR_INVALID_ARGUMENT, "compress_pool: values, scores and ape are required");
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
    launched(k::compress_pool(st, c, data_of<float>(a), data_of<float>(b), data_of<float>(ape), data_of<float>(y)),
             "compress_pool");
}

void run_engram_gate(cudaStream_t st, const mneme_op& op) {
    const mneme_tensor &x = op.src[0], &kv = op.src[1], &qw = op.src[2], &kw = op.src[3], &y = op.dst;
    if (op.n_src < 4) raise(MNEME_ERROR_INVALID_ARGUMENT, "engram_gate: x, kv and both norm weights are required");
    const auto& p = params_of<mneme_op_engram_gate>(op);
    const int64_t d = x.ne[0], n = x.ne[1], tokens = x.ne[2] * x.ne[3];
    require_same_shape(x, y, "engram_gate");
    if (kv.ne[0] != (n + 1) * d || row_count(kv) != tokens || qw.ne[0] != d || row_count(qw) != n || kw.ne[0] != d ||
        row_count(kw) != n || kv.dtype != y.dtype || qw.dtype != y.dtype || kw.dtype != y.dtype) {
        raise(MNEME_ERROR_INVALID_ARGUMENT, "engram_gate: shapes of x [D,n,S], kv [(n+1)D,S], weights [D,n] disagree");
    }
    for (const auto* t : {&x, &qw, &kw, &y}) require_contiguous(*t, "engram_gate");
    launched(k::engram_gate(st, data_of<float>(x), d, n, tokens, data_of<float>(kv), row_stride(kv, "engram_gate kv"),
                            data_of<float>(qw), data_of<float>(kw), p.eps, p.clamp, data_of<float>(y)),
             "engram_gate");
}

void run_conv(cudaStream_t st, const mneme_op& op) {
    const mneme_tensor &x = op.src[0], &w = op.src[1], &y = op.dst;
    if (op.n_src < 2) raise(MNEME_ERROR_INVALID_ARGUMENT, "causal_conv: input and weights are required");
    const auto& p = params_of<mneme_op_conv>(op);
    const int64_t c = x.ne[0], kw = w.ne[0], tokens = row_count(y), hist = row_count(x) - tokens;
    if (y.ne[0] != c || row_count(w) != c || w.dtype != y.dtype || p.dilation < 1 ||
        hist < (kw - 1) * static_cast<int64_t>(p.dilation)) {
        raise(MNEME_ERROR_INVALID_ARGUMENT,
              "causal_conv: src0 [C, H+S] with H >= (k-1)*dilation, weights [k, C], dst [C, S]");
    }
    for (const auto* t : {&x, &w, &y}) require_contiguous(*t, "causal_conv");
    launched(k::causal_conv(st, data_of<float>(x), c, hist, tokens, data_of<float>(w), kw, p.dilation, p.silu != 0,
                            data_of<float>(y)),
             "causal_conv");
}

// Stored formats the kernels decode (weights, COPY sources and GET_ROWS tables).
bool is_weight_dtype(mneme_dtype t) {
    return t == MNEME_DTYPE_F32 || t == MNEME_DTYPE_BF16 || t == MNEME_DTYPE_F16 || t == MNEME_DTYPE_F8_E4M3 ||
           t == MNEME_DTYPE_FP4_E2M1;
}

}  // namespace

bool supports(const mneme_op& op) {
    switch (op.type) {
        case MNEME_OP_MATMUL:
            return op.dst.dtype == MNEME_DTYPE_F32 && op.n_src >= 2 && is_weight_dtype(op.src[1].dtype);
        case MNEME_OP_COPY:
        case MNEME_OP_GET_ROWS:
            return op.dst.dtype == MNEME_DTYPE_F32 && is_weight_dtype(op.src[0].dtype);
        case MNEME_OP_RMS_NORM:
        case MNEME_OP_ROPE:
        case MNEME_OP_SOFTMAX:
        case MNEME_OP_SWIGLU:
        case MNEME_OP_ADD:
        case MNEME_OP_MUL:
        case MNEME_OP_SCALE:
        case MNEME_OP_QUANT_ROUNDTRIP:
        case MNEME_OP_LAYER_NORM:
        case MNEME_OP_ADD_ROWS_SCALED:
        case MNEME_OP_HC_COEFFS:
        case MNEME_OP_STREAM_MIX:
        case MNEME_OP_COMPRESS_POOL:
        case MNEME_OP_ENGRAM_GATE:
        case MNEME_OP_CAUSAL_CONV:
            return op.dst.dtype == MNEME_DTYPE_F32;
        case MNEME_OP_INDEXER_SCORES:  // float32 keys only
            return op.dst.dtype == MNEME_DTYPE_F32 && (op.n_src < 3 || op.src[2].dtype == MNEME_DTYPE_F32);
        case MNEME_OP_HADAMARD:
            return op.dst.dtype == MNEME_DTYPE_F32 && op.dst.ne[0] <= kernels::cuda::k_hadamard_max;
        case MNEME_OP_ATTENTION:
            return op.dst.dtype == MNEME_DTYPE_F32 && op.src[0].ne[0] <= kernels::cuda::k_attention_dk_max &&
                   op.dst.ne[0] <= kernels::cuda::k_attention_dv_max;
        case MNEME_OP_TOPK: {
            const auto* p = static_cast<const mneme_op_topk*>(op.params);
            return op.src[0].dtype == MNEME_DTYPE_F32 && op.dst.dtype == MNEME_DTYPE_I32 &&
                   (!p || op.params_size < sizeof(mneme_op_topk) || p->k <= kernels::cuda::k_topk_max);
        }
        default:
            return false;
    }
}

void execute(mneme_backend&, cudaStream_t st, const mneme_op& op) {
    if (op.struct_size < sizeof(mneme_op)) raise(MNEME_ERROR_INVALID_ARGUMENT, "mneme_op.struct_size too small");
    if (op.n_src > MNEME_OP_MAX_SRC) raise(MNEME_ERROR_INVALID_ARGUMENT, "too many op sources");
    check_tensor(op.dst, "dst");
    for (uint32_t i = 0; i < op.n_src; ++i) {
        if (op.src[i].buffer) check_tensor(op.src[i], "src");
    }
    if (!supports(op)) {
        raise(MNEME_ERROR_UNSUPPORTED, "CUDA backend does not support op ", op.type,
              " with these types (float32 activations only)");
    }
    if (op.type != MNEME_OP_COPY && op.type != MNEME_OP_GET_ROWS && op.type != MNEME_OP_MATMUL &&
        op.type != MNEME_OP_ADD_ROWS_SCALED && op.type != MNEME_OP_TOPK && op.src[0].dtype != MNEME_DTYPE_F32) {
        raise(MNEME_ERROR_INVALID_ARGUMENT, "op src0 dtype differs from the activation type");
    }
    switch (op.type) {
        case MNEME_OP_MATMUL:
            return run_matmul(st, op);
        case MNEME_OP_RMS_NORM:
            return run_rms_norm(st, op);
        case MNEME_OP_ROPE:
            return run_rope(st, op);
        case MNEME_OP_SOFTMAX:
            return run_softmax(st, op);
        case MNEME_OP_SWIGLU:
            return run_swiglu(st, op);
        case MNEME_OP_ADD:
        case MNEME_OP_MUL:
            return run_binary(st, op);
        case MNEME_OP_SCALE:
            return run_scale(st, op);
        case MNEME_OP_TOPK:
            return run_topk(st, op);
        case MNEME_OP_QUANT_ROUNDTRIP:
            return run_quant(st, op);
        case MNEME_OP_LAYER_NORM:
            return run_layer_norm(st, op);
        case MNEME_OP_HADAMARD:
            return run_hadamard(st, op);
        case MNEME_OP_ATTENTION:
            return run_attention(st, op);
        case MNEME_OP_INDEXER_SCORES:
            return run_indexer(st, op);
        case MNEME_OP_ADD_ROWS_SCALED:
            return run_add_rows(st, op);
        case MNEME_OP_HC_COEFFS:
            return run_hc_coeffs(st, op);
        case MNEME_OP_STREAM_MIX:
            return run_stream_mix(st, op);
        case MNEME_OP_COMPRESS_POOL:
            return run_compress(st, op);
        case MNEME_OP_ENGRAM_GATE:
            return run_engram_gate(st, op);
        case MNEME_OP_CAUSAL_CONV:
            return run_conv(st, op);
        case MNEME_OP_COPY:
        case MNEME_OP_GET_ROWS:
            return run_rows(st, op);
        default:
            raise(MNEME_ERROR_UNSUPPORTED, "op type ", op.type, " not supported by the CUDA backend");
    }
}

}  // namespace mneme::cuda
