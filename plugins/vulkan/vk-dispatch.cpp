// Translates plugin ops into shader dispatches after checking dtypes, shapes and bounds, so that a
// host bug becomes an error instead of an out-of-bounds access on the device. The checks follow the
// CPU backend's (plugins/cpu/cpu-dispatch.cpp); the shaders accept any row strides.
#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstring>
#include <limits>

#include "plugin-boundary.h"
#include "vk-backend.h"

namespace mneme::vk {
namespace {

using plugin::dtype_size;
using plugin::raise;

int64_t row_count(const mneme_tensor& t) {
    return t.ne[1] * t.ne[2] * t.ne[3];
}
int64_t elements(const mneme_tensor& t) {
    return t.ne[0] * row_count(t);
}

uint64_t byte_extent(const mneme_tensor& t) {
    uint64_t last = 0;
    for (int d = 1; d < MNEME_MAX_DIMS; ++d) last += static_cast<uint64_t>((t.ne[d] - 1) * t.nb[d]);
    if (t.dtype == MNEME_DTYPE_FP4_E2M1) return last + static_cast<uint64_t>((t.ne[0] + 1) / 2);
    return last + static_cast<uint64_t>((t.ne[0] - 1) * t.nb[0] + dtype_size(t.dtype));
}

bool has(const mneme_op& op, uint32_t i) {
    return op.n_src > i && op.src[i].buffer;
}

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

bool is_contiguous(const mneme_tensor& t) {
    int64_t expect = dtype_size(t.dtype);
    for (int d = 0; d < MNEME_MAX_DIMS; ++d) {
        if (t.ne[d] > 1 && t.nb[d] != expect) return false;
        expect *= t.ne[d];
    }
    return dtype_size(t.dtype) != 0;
}

void require_contiguous(const mneme_tensor& t, const char* role) {
    if (!is_contiguous(t)) raise(MNEME_ERROR_INVALID_ARGUMENT, role, ": must be contiguous");
}

// Weight formats as the shaders number them (kernels/vulkan/formats.glsl).
int weight_format(mneme_dtype d) {
    switch (d) {
        case MNEME_DTYPE_F32:
            return 0;
        case MNEME_DTYPE_BF16:
            return 1;
        case MNEME_DTYPE_F16:
            return 2;
        case MNEME_DTYPE_F8_E4M3:
            return 3;
        case MNEME_DTYPE_FP4_E2M1:
            return 4;
        default:
            return -1;
    }
}

int32_t to_i32(int64_t v, const char* what) {
    if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max()) {
        raise(MNEME_ERROR_UNSUPPORTED, what, " = ", v, " does not fit the Vulkan kernels' 32-bit positions");
    }
    return static_cast<int32_t>(v);
}

// One dispatch being assembled: bindings and the parameter block of kernels/vulkan/common.glsl.
class dispatch_builder {
  public:
    dispatch_builder(context& ctx, const mneme_op& op) : ctx_(ctx), op_(op) {}

    // Slot 0 is dst, slot 1 + i is src[i].
    void bind(uint32_t slot, const mneme_tensor& t, const char* role, bool write = false) {
        if (!t.buffer) raise(MNEME_ERROR_INVALID_ARGUMENT, role, ": no buffer");
        for (int d = 0; d < MNEME_MAX_DIMS; ++d) {
            if (t.ne[d] < 1 || t.ne[d] > UINT32_MAX)
                raise(MNEME_ERROR_INVALID_ARGUMENT, role, ": ne[", d, "] = ", t.ne[d]);
            if (t.nb[d] < 0 || t.nb[d] > UINT32_MAX) raise(MNEME_ERROR_UNSUPPORTED, role, ": stride out of range");
        }
        const int64_t es = dtype_size(t.dtype);
        if (t.dtype != MNEME_DTYPE_FP4_E2M1 && (es == 0 || t.nb[0] != es)) {
            raise(MNEME_ERROR_INVALID_ARGUMENT, role, ": rows must be contiguous");
        }
        const uint64_t word = es >= 4 ? 4 : static_cast<uint64_t>(std::max<int64_t>(es, 1));
        if (t.offset % word || static_cast<uint64_t>(t.nb[1]) % word || static_cast<uint64_t>(t.nb[2]) % word ||
            static_cast<uint64_t>(t.nb[3]) % word) {
            raise(MNEME_ERROR_INVALID_ARGUMENT, role, ": misaligned view");
        }
        const gpu_buffer& g = t.buffer->gpu;
        const uint64_t extent = byte_extent(t);
        if (t.offset > g.size || extent > g.size - t.offset) {
            raise(MNEME_ERROR_INVALID_ARGUMENT, role, ": view exceeds its buffer (", g.size, " bytes)");
        }
        // Bind at an aligned offset and pass the remainder; one binding sees at most maxStorageBufferRange.
        const uint64_t align = std::max<uint64_t>(4, ctx_.limits().minStorageBufferOffsetAlignment);
        const uint64_t base = t.offset / align * align, rem = t.offset - base;
        const uint64_t range = std::min<uint64_t>(g.alloc_size - base, ctx_.limits().maxStorageBufferRange) / 4 * 4;
        if (rem + extent > range) {
            raise(MNEME_ERROR_UNSUPPORTED, role, ": a view of ", extent,
                  " bytes exceeds the device's storage buffer range (", ctx_.limits().maxStorageBufferRange, " bytes)");
        }
        slots_[slot] = binding{g.buffer, base, range, t.offset, t.offset + extent, write};
        words_[8 + slot * 9] = static_cast<uint32_t>(rem);
        for (int d = 0; d < 4; ++d) {
            words_[9 + slot * 9 + d] = static_cast<uint32_t>(t.ne[d]);
            words_[13 + slot * 9 + d] = static_cast<uint32_t>(t.nb[d]);
        }
    }
    void bind_src(uint32_t i, const char* role) { bind(1 + i, op_.src[i], role); }
    void bind_dst(const char* role = "dst") { bind(0, op_.dst, role, true); }

    void u(uint32_t i, uint32_t v) { words_[k_op_word0 + i] = v; }
    void i32(uint32_t i, int64_t v, const char* what) { u(i, static_cast<uint32_t>(to_i32(v, what))); }
    void f(uint32_t i, double v) { u(i, std::bit_cast<uint32_t>(static_cast<float>(v))); }

    void run(recorder& rec, shader s, int64_t items) {
        if (items <= 0) return;
        words_[0] = static_cast<uint32_t>(std::min<int64_t>(items, UINT32_MAX));
        rec.dispatch(s, slots_, words_, static_cast<uint64_t>(items));
    }

  private:
    context& ctx_;
    const mneme_op& op_;
    std::array<binding, k_slots> slots_{};
    std::array<uint32_t, k_param_words> words_{};
};

void require_f32(const mneme_tensor& t, const char* role) {
    if (t.dtype != MNEME_DTYPE_F32)
        raise(MNEME_ERROR_UNSUPPORTED, role, ": the Vulkan backend runs float32 activations only");
}

// Weight format and block scales (src[w], optional src[s]); fills op words 0-3.
void bind_weight(dispatch_builder& b, const mneme_op& op, uint32_t w, uint32_t s, const char* what) {
    const mneme_tensor& wt = op.src[w];
    const int fmt = weight_format(wt.dtype);
    if (fmt < 0)
        raise(MNEME_ERROR_UNSUPPORTED, what, ": weight dtype ", wt.dtype, " not supported by the Vulkan backend");
    b.bind_src(w, what);
    b.u(0, static_cast<uint32_t>(fmt));
    b.u(1, 0);
    b.u(2, 1);
    b.u(3, 1);
    if (!has(op, s)) return;
    const mneme_tensor& sc = op.src[s];
    const auto& p = params_of<mneme_op_matmul>(op);
    if (p.block_k == 0 || p.block_n == 0) raise(MNEME_ERROR_INVALID_ARGUMENT, what, ": zero scale block");
    const int64_t need_k = (wt.ne[0] + p.block_k - 1) / p.block_k, need_n = (wt.ne[1] + p.block_n - 1) / p.block_n;
    if (sc.ne[0] != need_k || sc.ne[1] != need_n) {
        raise(MNEME_ERROR_INVALID_ARGUMENT, what, ": scale grid ", sc.ne[0], "x", sc.ne[1], ", expected ", need_k, "x",
              need_n);
    }
    if (sc.dtype != MNEME_DTYPE_F32 && sc.dtype != MNEME_DTYPE_F8_E8M0) {
        raise(MNEME_ERROR_UNSUPPORTED, what, ": scale dtype ", sc.dtype, " not supported");
    }
    b.bind_src(s, "block scales");
    b.u(1, sc.dtype == MNEME_DTYPE_F32 ? 1 : 2);
    b.u(2, p.block_k);
    b.u(3, p.block_n);
}

// Weight rows per dispatch so that a slice of the table fits one storage binding (lavapipe allows
// 128 MiB; a vocabulary projection or embedding can be larger). `multiple` keeps slices on scale
// block boundaries. Returns the whole height when no split is needed.
int64_t rows_per_slice(const context& ctx, const mneme_tensor& w, int64_t multiple) {
    const uint64_t align = std::max<uint64_t>(4, ctx.limits().minStorageBufferOffsetAlignment);
    const uint64_t room = ctx.limits().maxStorageBufferRange - align;
    if (byte_extent(w) <= room) return w.ne[1];
    const auto row_bytes = static_cast<uint64_t>(w.nb[1]);
    int64_t rows = row_bytes ? static_cast<int64_t>(room / row_bytes) : w.ne[1];
    rows = rows / multiple * multiple;
    if (rows < 1) raise(MNEME_ERROR_UNSUPPORTED, "a weight row does not fit the device's storage buffer range");
    return rows;
}

// The slice [n0, n0 + n) of a weight's rows (dimension 1).
mneme_tensor row_slice(mneme_tensor t, int64_t n0, int64_t n) {
    t.offset += static_cast<uint64_t>(n0 * t.nb[1]);
    t.ne[1] = n;
    return t;
}

void run_matmul(context& ctx, recorder& rec, const mneme_op& op);

// A matmul whose weight exceeds one binding: one dispatch per slice of output columns.
bool split_matmul(context& ctx, recorder& rec, const mneme_op& op) {
    const mneme_tensor& w = op.src[1];
    const bool scaled = has(op, 2);
    const int64_t bn = scaled ? params_of<mneme_op_matmul>(op).block_n : 1;
    if (bn < 1) return false;
    const int64_t slice = rows_per_slice(ctx, w, bn);
    if (slice >= w.ne[1]) return false;
    for (int64_t n0 = 0; n0 < w.ne[1]; n0 += slice) {
        const int64_t n = std::min(slice, w.ne[1] - n0);
        mneme_op part = op;
        part.src[1] = row_slice(w, n0, n);
        part.dst.offset += static_cast<uint64_t>(n0 * op.dst.nb[0]);
        part.dst.ne[0] = n;
        if (scaled) part.src[2] = row_slice(op.src[2], n0 / bn, (n + bn - 1) / bn);
        run_matmul(ctx, rec, part);
    }
    return true;
}

void run_matmul(context& ctx, recorder& rec, const mneme_op& op) {
    const mneme_tensor &x = op.src[0], &w = op.src[1], &y = op.dst;
    require_f32(x, "matmul src0");
    if (x.ne[0] != w.ne[0]) raise(MNEME_ERROR_INVALID_ARGUMENT, "matmul: K mismatch ", x.ne[0], " vs ", w.ne[0]);
    if (y.ne[0] != w.ne[1] || row_count(y) != row_count(x)) raise(MNEME_ERROR_INVALID_ARGUMENT, "matmul: bad dst");
    if (w.ne[2] == 1 && w.ne[3] == 1 && split_matmul(ctx, rec, op)) return;
    dispatch_builder b(ctx, op);
    b.bind_dst();
    b.bind_src(0, "matmul src0");
    bind_weight(b, op, 1, 2, "matmul");
    b.f(4, op.params ? params_of<mneme_op_matmul>(op).alpha : 1.0);
    b.run(rec, shader::matmul, y.ne[0] * row_count(y));
}

// GET_ROWS from the table rows [first, first + height of src0); indices outside it are left to
// the other slices (op words 5 and 6: first row of the slice, height of the whole table).
void gather(context& ctx, recorder& rec, const mneme_op& op, int64_t first, int64_t table_rows) {
    dispatch_builder b(ctx, op);
    b.bind_dst();
    mneme_op plain = op;
    plain.n_src = 1;  // GET_ROWS has no block scales
    bind_weight(b, plain, 0, 1, "get_rows");
    b.bind_src(1, "get_rows index");
    b.u(4, op.src[1].dtype == MNEME_DTYPE_I32 ? 1 : 2);
    b.u(5, static_cast<uint32_t>(first));
    b.u(6, static_cast<uint32_t>(table_rows));
    b.run(rec, shader::rows, elements(op.dst));
}

void run_rows(context& ctx, recorder& rec, const mneme_op& op) {
    const mneme_tensor &src = op.src[0], &y = op.dst;
    if (y.ne[0] != src.ne[0]) raise(MNEME_ERROR_INVALID_ARGUMENT, "copy/get_rows: row widths differ");
    if (op.type == MNEME_OP_COPY) {
        if (row_count(src) != row_count(y)) raise(MNEME_ERROR_INVALID_ARGUMENT, "copy: row counts differ");
        dispatch_builder b(ctx, op);
        b.bind_dst();
        bind_weight(b, op, 0, 1, "copy");
        b.u(4, 0);
        b.run(rec, shader::rows, elements(y));
        return;
    }
    const mneme_tensor& idx = op.src[1];
    if (!has(op, 1) || row_count(idx) * idx.ne[0] != row_count(y)) {
        raise(MNEME_ERROR_INVALID_ARGUMENT, "get_rows: index count != dst rows");
    }
    if (idx.dtype != MNEME_DTYPE_I32 && idx.dtype != MNEME_DTYPE_I64) {
        raise(MNEME_ERROR_INVALID_ARGUMENT, "get_rows: index must be I32 or I64");
    }
    require_contiguous(idx, "get_rows index");
    const int64_t height = row_count(src);
    if (height > INT32_MAX) raise(MNEME_ERROR_UNSUPPORTED, "get_rows: table too tall");
    // A table larger than one binding (an embedding on lavapipe) is gathered slice by slice.
    const int64_t slice = src.ne[2] == 1 && src.ne[3] == 1 ? rows_per_slice(ctx, src, 1) : height;
    for (int64_t n0 = 0; n0 < height; n0 += slice) {
        mneme_op part = op;
        if (slice < height) part.src[0] = row_slice(src, n0, std::min(slice, height - n0));
        gather(ctx, rec, part, n0, height);
    }
}

void run_norm(context& ctx, recorder& rec, const mneme_op& op) {
    const mneme_tensor &x = op.src[0], &y = op.dst;
    require_same_shape(x, y, "norm");
    dispatch_builder b(ctx, op);
    b.bind_dst();
    b.bind_src(0, "norm src");
    const bool layer = op.type == MNEME_OP_LAYER_NORM;
    for (uint32_t i = 1; i < (layer ? 3u : 2u); ++i) {
        if (!has(op, i)) continue;
        if (op.src[i].dtype != y.dtype || op.src[i].ne[0] != x.ne[0]) {
            raise(MNEME_ERROR_INVALID_ARGUMENT, "norm: weight/bias must be [ne0] of the activation type");
        }
        b.bind_src(i, "norm weight");
        b.u(1 + i, 1);
    }
    b.u(0, layer ? 1 : 0);
    b.f(1, layer ? params_of<mneme_op_norm>(op).eps : params_of<mneme_op_rms_norm>(op).eps);
    b.run(rec, shader::norm, row_count(x));
}

void run_rope(context& ctx, recorder& rec, const mneme_op& op) {
    const mneme_tensor &x = op.src[0], &c = op.src[1], &s = op.src[2], &y = op.dst;
    const auto& p = params_of<mneme_op_rope>(op);
    require_same_shape(x, y, "rope");
    require_contiguous(c, "rope cos");
    require_contiguous(s, "rope sin");
    if (p.n_rot % 2 || p.offset + p.n_rot > x.ne[0]) raise(MNEME_ERROR_INVALID_ARGUMENT, "rope: bad rotated slice");
    const int64_t tokens = x.ne[2] * x.ne[3];
    if (c.ne[0] != p.n_rot / 2 || row_count(c) != tokens || s.ne[0] != c.ne[0] || row_count(s) != tokens ||
        c.dtype != y.dtype || s.dtype != y.dtype) {
        raise(MNEME_ERROR_INVALID_ARGUMENT, "rope: cos/sin tables must be [n_rot/2, tokens] of the activation type");
    }
    dispatch_builder b(ctx, op);
    b.bind_dst();
    b.bind_src(0, "rope src");
    b.bind_src(1, "rope cos");
    b.bind_src(2, "rope sin");
    b.u(0, p.layout == MNEME_ROPE_HALF_SPLIT ? 1 : 0);
    b.u(1, p.offset);
    b.u(2, p.n_rot);
    b.u(3, p.inverse ? 1 : 0);
    b.run(rec, shader::rope, row_count(x));
}

void run_softmax(context& ctx, recorder& rec, const mneme_op& op) {
    require_same_shape(op.src[0], op.dst, "softmax");
    dispatch_builder b(ctx, op);
    b.bind_dst();
    b.bind_src(0, "softmax src");
    b.f(0, params_of<mneme_op_softmax>(op).scale);
    b.run(rec, shader::softmax, row_count(op.dst));
}

void run_elementwise(context& ctx, recorder& rec, const mneme_op& op) {
    const mneme_tensor &a = op.src[0], &y = op.dst;
    require_same_shape(a, y, "element-wise op");
    dispatch_builder b(ctx, op);
    b.bind_dst();
    b.bind_src(0, "src0");
    if (op.type == MNEME_OP_SCALE) {
        const auto& p = params_of<mneme_op_scale>(op);
        b.u(0, 2);
        b.f(1, p.scale);
        b.f(2, p.bias);
    } else if (op.type == MNEME_OP_SWIGLU) {
        require_same_shape(op.src[1], y, "swiglu");
        require_f32(op.src[1], "swiglu up");
        b.bind_src(1, "swiglu up");
        b.u(0, 3);
        b.f(1, op.params ? params_of<mneme_op_swiglu>(op).limit : 0.0);
        if (has(op, 2)) {
            const mneme_tensor& w = op.src[2];
            if (w.dtype != y.dtype || elements(w) != row_count(y)) {
                raise(MNEME_ERROR_INVALID_ARGUMENT, "swiglu: row weights must be [rows] of the activation type");
            }
            require_contiguous(w, "swiglu row weights");
            b.bind_src(2, "swiglu row weights");
            b.u(3, 1);
        }
    } else {
        const mneme_tensor& s1 = op.src[1];
        require_f32(s1, "add/mul src1");
        const int64_t b_rows = row_count(s1);
        if (s1.ne[0] != a.ne[0] || (b_rows != 1 && b_rows != row_count(a))) {
            raise(MNEME_ERROR_INVALID_ARGUMENT, "add/mul: src1 must match src0 or be one row");
        }
        b.bind_src(1, "add/mul src1");
        b.u(0, op.type == MNEME_OP_ADD ? 0 : 1);
        b.u(3, b_rows == 1 && row_count(a) != 1 ? 1 : 0);
    }
    b.run(rec, shader::elementwise, elements(y));
}

void run_topk(context& ctx, recorder& rec, const mneme_op& op) {
    const mneme_tensor &x = op.src[0], &y = op.dst;
    const auto k = static_cast<int64_t>(params_of<mneme_op_topk>(op).k);
    if (y.dtype != MNEME_DTYPE_I32 || y.ne[0] != k || row_count(y) != row_count(x) || k > x.ne[0] || k < 1) {
        raise(MNEME_ERROR_INVALID_ARGUMENT, "topk: dst must be I32 [k, rows] with 1 <= k <= n");
    }
    require_contiguous(y, "topk dst");
    dispatch_builder b(ctx, op);
    b.bind_dst();
    b.bind_src(0, "topk src");
    b.u(0, static_cast<uint32_t>(k));
    b.run(rec, shader::topk, row_count(x));
}

void run_quant(context& ctx, recorder& rec, const mneme_op& op) {
    const mneme_tensor &x = op.src[0], &y = op.dst;
    require_same_shape(x, y, "quant_roundtrip");
    const auto& p = params_of<mneme_op_quant>(op);
    if (p.block == 0 || p.scale_mode != MNEME_QUANT_SCALE_POW2 ||
        (p.format != MNEME_DTYPE_F8_E4M3 && p.format != MNEME_DTYPE_FP4_E2M1)) {
        raise(MNEME_ERROR_UNSUPPORTED, "quant_roundtrip: unsupported format/scale/block");
    }
    dispatch_builder b(ctx, op);
    b.bind_dst();
    b.bind_src(0, "quant src");
    b.u(0, p.format == MNEME_DTYPE_F8_E4M3 ? 0 : 1);
    b.u(1, p.block);
    b.run(rec, shader::quant, row_count(x) * ((x.ne[0] + p.block - 1) / p.block));
}

void run_hadamard(context& ctx, recorder& rec, const mneme_op& op) {
    const mneme_tensor &x = op.src[0], &y = op.dst;
    require_same_shape(x, y, "hadamard");
    if (!std::has_single_bit(static_cast<uint64_t>(x.ne[0]))) {
        raise(MNEME_ERROR_INVALID_ARGUMENT, "hadamard: width ", x.ne[0], " is not a power of two");
    }
    dispatch_builder b(ctx, op);
    b.bind_dst();
    b.bind_src(0, "hadamard src");
    const bool in_place = x.buffer == y.buffer && x.offset == y.offset && std::equal(x.nb, x.nb + 4, y.nb);
    b.u(0, in_place ? 1 : 0);
    b.run(rec, shader::hadamard, row_count(x));
}

// ABI 1.0 callers pass the attention params without key_start/ratio: those read as 0.
mneme_op_attention attention_params(const mneme_op& op) {
    constexpr uint32_t v10_size = offsetof(mneme_op_attention, key_start);
    if (!op.params || op.params_size < v10_size) raise(MNEME_ERROR_INVALID_ARGUMENT, "op params missing or short");
    mneme_op_attention p{};
    std::memcpy(&p, op.params, std::min<std::size_t>(op.params_size, sizeof(p)));
    return p;
}

void run_attention(context& ctx, recorder& rec, const mneme_op& op) {
    const mneme_tensor &q = op.src[0], &kk = op.src[1], &v = op.src[2], &y = op.dst;
    const mneme_op_attention p = attention_params(op);
    const int64_t heads = q.ne[1], queries = q.ne[2] * q.ne[3];
    if (kk.ne[0] != q.ne[0] || row_count(kk) != row_count(v) || y.ne[0] != v.ne[0] || y.ne[1] != heads ||
        y.ne[2] * y.ne[3] != queries) {
        raise(MNEME_ERROR_INVALID_ARGUMENT,
              "attention: shapes of q [Dk,H,S], k [Dk,T], v [Dv,T], dst [Dv,H,S] disagree");
    }
    for (const auto* t : {&q, &kk, &v}) require_f32(*t, "attention input");
    dispatch_builder b(ctx, op);
    b.bind_dst();
    b.bind_src(0, "attention q");
    b.bind_src(1, "attention keys");
    b.bind_src(2, "attention values");
    if (has(op, 3)) {
        const mneme_tensor& idx = op.src[3];
        if (idx.dtype != MNEME_DTYPE_I32 || row_count(idx) != queries) {
            raise(MNEME_ERROR_INVALID_ARGUMENT, "attention: indices must be I32 [n, S]");
        }
        require_contiguous(idx, "attention indices");
        b.bind_src(3, "attention indices");
        b.u(5, 1);
    }
    if (has(op, 4)) {
        if (op.src[4].ne[0] != heads || op.src[4].dtype != y.dtype) {
            raise(MNEME_ERROR_INVALID_ARGUMENT, "attention: sink must be [H] of the activation type");
        }
        b.bind_src(4, "attention sink");
        b.u(6, 1);
    }
    if (has(op, 5)) {
        const mneme_tensor& c = op.src[5];
        if (c.dtype != y.dtype || c.ne[0] != q.ne[0] || q.ne[0] != v.ne[0] || p.ratio < 1) {
            raise(MNEME_ERROR_INVALID_ARGUMENT,
                  "attention: compressed entries must be [Dk, Tc] of the activation type with Dk == Dv and ratio >= 1");
        }
        b.bind_src(5, "attention compressed entries");
        b.u(7, 1);
        b.i32(4, p.ratio, "attention ratio");
    }
    b.f(0, p.scale);
    b.i32(1, p.start_pos, "attention start_pos");
    b.i32(2, p.window, "attention window");
    b.i32(3, p.key_start, "attention key_start");
    to_i32(p.start_pos + queries, "attention last position");
    b.run(rec, shader::attention, queries * heads);
}

void run_indexer(context& ctx, recorder& rec, const mneme_op& op) {
    const mneme_tensor &q = op.src[0], &w = op.src[1], &kk = op.src[2], &y = op.dst;
    const auto& p = params_of<mneme_op_indexer>(op);
    const int64_t queries = q.ne[2] * q.ne[3];
    if (kk.ne[0] != q.ne[0] || w.ne[0] != q.ne[1] || row_count(w) != queries || y.ne[0] != row_count(kk) ||
        row_count(y) != queries || p.ratio < 1) {
        raise(MNEME_ERROR_INVALID_ARGUMENT, "indexer: shapes of q [D,Hi,S], w [Hi,S], k [D,T], dst [T,S] disagree");
    }
    require_contiguous(q, "indexer q");
    require_contiguous(w, "indexer w");
    require_f32(kk, "indexer keys");
    dispatch_builder b(ctx, op);
    b.bind_dst();
    b.bind_src(0, "indexer q");
    b.bind_src(1, "indexer w");
    b.bind_src(2, "indexer keys");
    b.i32(0, p.start_pos, "indexer start_pos");
    b.i32(1, p.ratio, "indexer ratio");
    to_i32(p.start_pos + queries, "indexer last position");
    b.run(rec, shader::indexer, y.ne[0] * queries);
}

void run_add_rows(context& ctx, recorder& rec, const mneme_op& op) {
    const mneme_tensor &x = op.src[0], &idx = op.src[1], &w = op.src[2], &y = op.dst;
    const int64_t rows = row_count(x);
    if (y.ne[0] != x.ne[0] || idx.dtype != MNEME_DTYPE_I32 || elements(idx) != rows || elements(w) != rows ||
        w.dtype != y.dtype) {
        raise(MNEME_ERROR_INVALID_ARGUMENT, "add_rows_scaled: shapes disagree");
    }
    require_f32(x, "add_rows_scaled src");
    require_contiguous(idx, "add_rows_scaled indices");
    require_contiguous(w, "add_rows_scaled weights");
    dispatch_builder b(ctx, op);
    b.bind_dst();
    b.bind_src(0, "add_rows_scaled src");
    b.bind_src(1, "add_rows_scaled indices");
    b.bind_src(2, "add_rows_scaled weights");
    b.run(rec, shader::add_rows, x.ne[0]);
}

constexpr int64_t k_max_streams = 8;  // MAX_N in kernels/vulkan/mhc.comp

void run_hc_coeffs(context& ctx, recorder& rec, const mneme_op& op) {
    const mneme_tensor &m = op.src[0], &scale = op.src[1], &base = op.src[2], &y = op.dst;
    const auto& p = params_of<mneme_op_hc>(op);
    const int64_t n = p.n_streams;
    if (n < 1 || p.sinkhorn_iters < 1)
        raise(MNEME_ERROR_INVALID_ARGUMENT, "hc_coeffs: n_streams and sinkhorn_iters must be >= 1");
    if (n > k_max_streams) raise(MNEME_ERROR_UNSUPPORTED, "hc_coeffs: more than ", k_max_streams, " streams");
    const bool head = m.ne[0] == n;
    if (!head && m.ne[0] != (2 + n) * n)
        raise(MNEME_ERROR_INVALID_ARGUMENT, "hc_coeffs: mixes have ", m.ne[0], " rows");
    require_same_shape(m, y, "hc_coeffs");
    if (elements(scale) != (head ? 1 : 3) || elements(base) != m.ne[0] || scale.dtype != y.dtype ||
        base.dtype != y.dtype) {
        raise(MNEME_ERROR_INVALID_ARGUMENT,
              "hc_coeffs: scale must be [3] ([1] for a head) and base [M], activation type");
    }
    require_contiguous(scale, "hc_coeffs scale");
    require_contiguous(base, "hc_coeffs base");
    dispatch_builder b(ctx, op);
    b.bind_dst();
    b.bind_src(0, "hc_coeffs mixes");
    b.bind_src(1, "hc_coeffs scale");
    b.bind_src(2, "hc_coeffs base");
    b.u(0, 0);
    b.u(1, static_cast<uint32_t>(n));
    b.u(2, head ? 1 : 0);
    b.u(3, p.sinkhorn_iters);
    b.f(4, p.eps);
    b.f(5, p.post_mult);
    b.run(rec, shader::mhc, row_count(m));
}

void run_stream_mix(context& ctx, recorder& rec, const mneme_op& op) {
    const mneme_tensor &x = op.src[0], &c = op.src[1], &y = op.dst;
    const auto& p = params_of<mneme_op_stream_mix>(op);
    const int64_t d = x.ne[0], tokens = x.ne[2] * x.ne[3];
    const bool z = has(op, 2);
    if (x.ne[1] != p.n_in || p.n_in < 1 || p.n_out < 1 || y.ne[0] != d || y.ne[1] != p.n_out ||
        y.ne[2] * y.ne[3] != tokens || row_count(c) != tokens || c.dtype != y.dtype) {
        raise(MNEME_ERROR_INVALID_ARGUMENT, "stream_mix: shapes of x [D,n_in,S], c [M,S], dst [D,n_out,S] disagree");
    }
    if (static_cast<int64_t>(p.weight_offset) + p.n_in * p.n_out > c.ne[0] ||
        (z && static_cast<int64_t>(p.bias_offset) + p.n_out > c.ne[0])) {
        raise(MNEME_ERROR_INVALID_ARGUMENT, "stream_mix: coefficient offsets exceed the ", c.ne[0], " rows of c");
    }
    if (z && (op.src[2].ne[0] != d || row_count(op.src[2]) != tokens || op.src[2].dtype != y.dtype)) {
        raise(MNEME_ERROR_INVALID_ARGUMENT, "stream_mix: update must be [D, S]");
    }
    for (const auto* t : {&x, &y}) require_contiguous(*t, "stream_mix");
    // An invocation reads the update and the streams at its own element only, but another one may
    // already have written there: any overlap with dst is refused, as on the other backends.
    const auto overlaps = [&](const mneme_tensor& t) {
        return y.buffer == t.buffer && y.offset < t.offset + elements(t) * 4 && t.offset < y.offset + elements(y) * 4;
    };
    if (overlaps(x)) raise(MNEME_ERROR_INVALID_ARGUMENT, "stream_mix: dst must not overlap the streams");
    if (z && overlaps(op.src[2])) raise(MNEME_ERROR_INVALID_ARGUMENT, "stream_mix: dst must not overlap the update");
    dispatch_builder b(ctx, op);
    b.bind_dst();
    b.bind_src(0, "stream_mix streams");
    b.bind_src(1, "stream_mix coefficients");
    if (z) b.bind_src(2, "stream_mix update");
    b.u(0, 1);
    b.u(1, p.n_in);
    b.u(2, p.n_out);
    b.u(3, p.weight_offset);
    b.u(4, p.bias_offset);
    b.u(5, z ? 1 : 0);
    b.run(rec, shader::mhc, d * p.n_out * tokens);
}

void run_compress(context& ctx, recorder& rec, const mneme_op& op) {
    const mneme_tensor &a = op.src[0], &bv = op.src[1], &ape = op.src[2], &y = op.dst;
    const auto& p = params_of<mneme_op_compress>(op);
    const int64_t channels = a.ne[0], width = y.ne[0], rows = row_count(a), n_blocks = row_count(y);
    const bool overlap = p.overlap != 0;
    if (p.ratio < 1 || p.first_pos < 0 || p.first_block < 0 || channels != (overlap ? 2 : 1) * width ||
        bv.ne[0] != channels || row_count(bv) != rows || ape.ne[0] != channels || row_count(ape) != p.ratio ||
        bv.dtype != y.dtype || ape.dtype != y.dtype) {
        raise(MNEME_ERROR_INVALID_ARGUMENT,
              "compress_pool: shapes of a/b [C,R], ape [C,ratio], dst [W,NB] disagree (C = W, or 2W with overlap)");
    }
    const int64_t j0 = p.first_block, j1 = p.first_block + n_blocks;
    const int64_t first_tok = (overlap && j0 > 0 ? j0 - 1 : j0) * p.ratio;
    if (first_tok < p.first_pos || j1 * p.ratio > p.first_pos + rows) {
        raise(MNEME_ERROR_INVALID_ARGUMENT, "compress_pool: blocks ", j0, "..", j1 - 1,
              " need positions outside the rows");
    }
    require_contiguous(ape, "compress_pool ape");
    dispatch_builder b(ctx, op);
    b.bind_dst();
    b.bind_src(0, "compress_pool values");
    b.bind_src(1, "compress_pool scores");
    b.bind_src(2, "compress_pool ape");
    b.i32(0, p.ratio, "compress ratio");
    b.i32(1, p.first_pos, "compress first_pos");
    b.i32(2, p.first_block, "compress first_block");
    to_i32(j1 * p.ratio, "compress last position");
    b.u(3, overlap ? 1 : 0);
    b.run(rec, shader::compress, width * n_blocks);
}

void run_engram_gate(context& ctx, recorder& rec, const mneme_op& op) {
    const mneme_tensor &x = op.src[0], &kv = op.src[1], &qw = op.src[2], &kw = op.src[3], &y = op.dst;
    const auto& p = params_of<mneme_op_engram_gate>(op);
    const int64_t d = x.ne[0], n = x.ne[1], tokens = x.ne[2] * x.ne[3];
    require_same_shape(x, y, "engram_gate");
    if (op.n_src < 4 || kv.ne[0] != (n + 1) * d || row_count(kv) != tokens || qw.ne[0] != d || row_count(qw) != n ||
        kw.ne[0] != d || row_count(kw) != n || kv.dtype != y.dtype || qw.dtype != y.dtype || kw.dtype != y.dtype) {
        raise(MNEME_ERROR_INVALID_ARGUMENT, "engram_gate: shapes of x [D,n,S], kv [(n+1)D,S], weights [D,n] disagree");
    }
    for (const auto* t : {&x, &qw, &kw, &y}) require_contiguous(*t, "engram_gate");
    dispatch_builder b(ctx, op);
    b.bind_dst();
    b.bind_src(0, "engram_gate streams");
    b.bind_src(1, "engram_gate kv");
    b.bind_src(2, "engram_gate query norm");
    b.bind_src(3, "engram_gate key norm");
    b.u(0, 0);
    b.f(1, p.eps);
    b.f(2, p.clamp);
    b.run(rec, shader::engram, tokens * n);
}

void run_conv(context& ctx, recorder& rec, const mneme_op& op) {
    const mneme_tensor &x = op.src[0], &w = op.src[1], &y = op.dst;
    const auto& p = params_of<mneme_op_conv>(op);
    const int64_t c = x.ne[0], k = w.ne[0], tokens = row_count(y), hist = row_count(x) - tokens;
    if (y.ne[0] != c || row_count(w) != c || w.dtype != y.dtype || p.dilation < 1 || hist < (k - 1) * p.dilation) {
        raise(MNEME_ERROR_INVALID_ARGUMENT,
              "causal_conv: src0 [C, H+S] with H >= (k-1)*dilation, weights [k, C], dst [C, S]");
    }
    for (const auto* t : {&x, &w, &y}) require_contiguous(*t, "causal_conv");
    dispatch_builder b(ctx, op);
    b.bind_dst();
    b.bind_src(0, "causal_conv src");
    b.bind_src(1, "causal_conv weights");
    b.u(0, 1);
    b.u(1, p.dilation);
    b.u(2, p.silu ? 1 : 0);
    b.run(rec, shader::engram, c * tokens);
}

}  // namespace

bool supports(const mneme_op& op) {
    const bool f32_dst = op.dst.dtype == MNEME_DTYPE_F32;
    switch (op.type) {
        case MNEME_OP_MATMUL:
            return f32_dst && op.src[0].dtype == MNEME_DTYPE_F32 && weight_format(op.src[1].dtype) >= 0;
        case MNEME_OP_COPY:
        case MNEME_OP_GET_ROWS:
            return f32_dst && weight_format(op.src[0].dtype) >= 0;
        case MNEME_OP_TOPK:
            return op.src[0].dtype == MNEME_DTYPE_F32 && op.dst.dtype == MNEME_DTYPE_I32;
        case MNEME_OP_ADD_ROWS_SCALED:
        case MNEME_OP_RMS_NORM:
        case MNEME_OP_ROPE:
        case MNEME_OP_SOFTMAX:
        case MNEME_OP_SWIGLU:
        case MNEME_OP_ADD:
        case MNEME_OP_MUL:
        case MNEME_OP_SCALE:
        case MNEME_OP_QUANT_ROUNDTRIP:
        case MNEME_OP_LAYER_NORM:
        case MNEME_OP_HADAMARD:
        case MNEME_OP_INDEXER_SCORES:  // float32 keys only
            return f32_dst && op.src[0].dtype == MNEME_DTYPE_F32 &&
                   (op.n_src < 3 || op.src[2].dtype == MNEME_DTYPE_F32);
        case MNEME_OP_ATTENTION:
        case MNEME_OP_COMPRESS_POOL:
        case MNEME_OP_ENGRAM_GATE:
        case MNEME_OP_CAUSAL_CONV:
        case MNEME_OP_STREAM_MIX:
            return f32_dst && op.src[0].dtype == MNEME_DTYPE_F32;
        case MNEME_OP_HC_COEFFS: {
            const auto* p = static_cast<const mneme_op_hc*>(op.params);
            const bool fits = !p || op.params_size < sizeof(mneme_op_hc) || p->n_streams <= k_max_streams;
            return f32_dst && op.src[0].dtype == MNEME_DTYPE_F32 && fits;
        }
        default:
            return false;
    }
}

void record_op(context& ctx, recorder& rec, const mneme_op& op) {
    if (op.struct_size < sizeof(mneme_op)) raise(MNEME_ERROR_INVALID_ARGUMENT, "mneme_op.struct_size too small");
    if (op.n_src > MNEME_OP_MAX_SRC) raise(MNEME_ERROR_INVALID_ARGUMENT, "too many op sources");
    if (!supports(op))
        raise(MNEME_ERROR_UNSUPPORTED, "the Vulkan backend does not support op ", op.type, " with these types");
    switch (op.type) {
        case MNEME_OP_MATMUL:
            return run_matmul(ctx, rec, op);
        case MNEME_OP_COPY:
        case MNEME_OP_GET_ROWS:
            return run_rows(ctx, rec, op);
        case MNEME_OP_RMS_NORM:
        case MNEME_OP_LAYER_NORM:
            return run_norm(ctx, rec, op);
        case MNEME_OP_ROPE:
            return run_rope(ctx, rec, op);
        case MNEME_OP_SOFTMAX:
            return run_softmax(ctx, rec, op);
        case MNEME_OP_SWIGLU:
        case MNEME_OP_ADD:
        case MNEME_OP_MUL:
        case MNEME_OP_SCALE:
            return run_elementwise(ctx, rec, op);
        case MNEME_OP_TOPK:
            return run_topk(ctx, rec, op);
        case MNEME_OP_QUANT_ROUNDTRIP:
            return run_quant(ctx, rec, op);
        case MNEME_OP_HADAMARD:
            return run_hadamard(ctx, rec, op);
        case MNEME_OP_ATTENTION:
            return run_attention(ctx, rec, op);
        case MNEME_OP_INDEXER_SCORES:
            return run_indexer(ctx, rec, op);
        case MNEME_OP_ADD_ROWS_SCALED:
            return run_add_rows(ctx, rec, op);
        case MNEME_OP_HC_COEFFS:
            return run_hc_coeffs(ctx, rec, op);
        case MNEME_OP_STREAM_MIX:
            return run_stream_mix(ctx, rec, op);
        case MNEME_OP_COMPRESS_POOL:
            return run_compress(ctx, rec, op);
        case MNEME_OP_ENGRAM_GATE:
            return run_engram_gate(ctx, rec, op);
        case MNEME_OP_CAUSAL_CONV:
            return run_conv(ctx, rec, op);
        default:
            raise(MNEME_ERROR_UNSUPPORTED, "op type ", op.type, " not supported by the Vulkan backend");
    }
}

}  // namespace mneme::vk
