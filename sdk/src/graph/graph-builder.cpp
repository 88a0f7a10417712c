#include "graph/graph-builder.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <new>
#include <type_traits>

namespace mneme {

void* graph_builder::params_arena::take(std::size_t bytes) {
    constexpr std::size_t align = alignof(std::max_align_t);
    bytes = (bytes + align - 1) / align * align;
    if (used + bytes > k_chunk_bytes) {
        ++chunk;
        used = 0;
    }
    if (chunk == chunks.size()) {
        chunks.push_back(std::make_unique_for_overwrite<std::max_align_t[]>(k_chunk_bytes / sizeof(std::max_align_t)));
    }
    void* p = reinterpret_cast<unsigned char*>(chunks[chunk].get()) + used;
    used += bytes;
    return p;
}

template <class P>
const P* graph_builder::keep(const P& params) {
    static_assert(std::is_trivially_copyable_v<P> && alignof(P) <= alignof(std::max_align_t) &&
                  sizeof(P) <= params_arena::k_chunk_bytes);
    return new (params_.take(sizeof(P))) P(params);
}

void graph_builder::record(mneme_op_type type, const mneme_tensor& dst, std::initializer_list<const mneme_tensor*> src,
                           const void* params, uint32_t params_size) {
    mneme_op op{};
    op.struct_size = sizeof(op);
    op.type = type;
    op.dst = dst;
    uint32_t i = 0;
    for (const mneme_tensor* s : src) {
        if (s) op.src[i] = *s;
        ++i;
    }
    op.n_src = i;
    op.params = params;
    op.params_size = params_size;
    ops_.push_back(op);
    if (ops_.size() >= batch_ops_) flush();
}

void graph_builder::matmul(const mneme_tensor& dst, const mneme_tensor& x, const linear_weight& w, double alpha) {
    const auto* p = keep(mneme_op_matmul{alpha, w.block_k, w.block_n});
    record(MNEME_OP_MATMUL, dst, {&x, &w.w, w.scale.buffer ? &w.scale : nullptr}, p, sizeof(*p));
}

void graph_builder::rms_norm(const mneme_tensor& dst, const mneme_tensor& x, const mneme_tensor* weight, double eps) {
    const auto* p = keep(mneme_op_rms_norm{eps});
    record(MNEME_OP_RMS_NORM, dst, {&x, weight}, p, sizeof(*p));
}

void graph_builder::layer_norm(const mneme_tensor& dst, const mneme_tensor& x, const mneme_tensor* weight,
                               const mneme_tensor* bias, double eps) {
    const auto* p = keep(mneme_op_norm{eps});
    record(MNEME_OP_LAYER_NORM, dst, {&x, weight, bias}, p, sizeof(*p));
}

void graph_builder::rope(const mneme_tensor& dst, const mneme_tensor& x, const mneme_tensor& cos,
                         const mneme_tensor& sin, mneme_rope_layout layout, uint32_t offset, uint32_t n_rot,
                         bool inverse) {
    const auto* p = keep(mneme_op_rope{layout, offset, n_rot, inverse ? MNEME_TRUE : MNEME_FALSE});
    record(MNEME_OP_ROPE, dst, {&x, &cos, &sin}, p, sizeof(*p));
}

void graph_builder::swiglu(const mneme_tensor& dst, const mneme_tensor& gate, const mneme_tensor& up, double limit,
                           const mneme_tensor* row_weight) {
    const auto* p = keep(mneme_op_swiglu{limit});
    if (row_weight) {
        record(MNEME_OP_SWIGLU, dst, {&gate, &up, row_weight}, p, sizeof(*p));
    } else {
        record(MNEME_OP_SWIGLU, dst, {&gate, &up}, p, sizeof(*p));
    }
}

void graph_builder::topk(const mneme_tensor& dst, const mneme_tensor& x, uint32_t k) {
    const auto* p = keep(mneme_op_topk{k});
    record(MNEME_OP_TOPK, dst, {&x}, p, sizeof(*p));
}

void graph_builder::add(const mneme_tensor& dst, const mneme_tensor& a, const mneme_tensor& b) {
    record(MNEME_OP_ADD, dst, {&a, &b}, nullptr, 0);
}

void graph_builder::mul(const mneme_tensor& dst, const mneme_tensor& a, const mneme_tensor& b) {
    record(MNEME_OP_MUL, dst, {&a, &b}, nullptr, 0);
}

void graph_builder::scale(const mneme_tensor& dst, const mneme_tensor& x, double s, double bias) {
    const auto* p = keep(mneme_op_scale{s, bias});
    record(MNEME_OP_SCALE, dst, {&x}, p, sizeof(*p));
}

void graph_builder::copy(const mneme_tensor& dst, const mneme_tensor& src) {
    record(MNEME_OP_COPY, dst, {&src}, nullptr, 0);
}

void graph_builder::dequantise(const mneme_tensor& dst, const linear_weight& w) {
    const auto* p = keep(mneme_op_matmul{1.0, w.block_k, w.block_n});
    record(MNEME_OP_COPY, dst, {&w.w, w.scale.buffer ? &w.scale : nullptr}, p, sizeof(*p));
}

void graph_builder::get_rows(const mneme_tensor& dst, const mneme_tensor& table, const mneme_tensor& ids) {
    record(MNEME_OP_GET_ROWS, dst, {&table, &ids}, nullptr, 0);
}

void graph_builder::quant_roundtrip(const mneme_tensor& dst, const mneme_tensor& x, mneme_dtype format,
                                    uint32_t block) {
    const auto* p = keep(mneme_op_quant{format, block, MNEME_QUANT_SCALE_POW2, 0});
    record(MNEME_OP_QUANT_ROUNDTRIP, dst, {&x}, p, sizeof(*p));
}

void graph_builder::hadamard(const mneme_tensor& dst, const mneme_tensor& x) {
    record(MNEME_OP_HADAMARD, dst, {&x}, nullptr, 0);
}

void graph_builder::attention(const mneme_tensor& dst, const mneme_tensor& q, const mneme_tensor& k,
                              const mneme_tensor& v, const mneme_tensor* indices, const mneme_tensor* sink,
                              const mneme_op_attention& params) {
    const auto* p = keep(params);
    record(MNEME_OP_ATTENTION, dst, {&q, &k, &v, indices, sink}, p, sizeof(*p));
}

void graph_builder::indexer_scores(const mneme_tensor& dst, const mneme_tensor& q, const mneme_tensor& w,
                                   const mneme_tensor& k, int64_t start_pos, int64_t ratio) {
    const auto* p = keep(mneme_op_indexer{start_pos, ratio});
    record(MNEME_OP_INDEXER_SCORES, dst, {&q, &w, &k}, p, sizeof(*p));
}

void graph_builder::add_rows_scaled(const mneme_tensor& dst, const mneme_tensor& x, const mneme_tensor& idx,
                                    const mneme_tensor& w) {
    record(MNEME_OP_ADD_ROWS_SCALED, dst, {&x, &idx, &w}, nullptr, 0);
}

void graph_builder::attention_compressed(const mneme_tensor& dst, const mneme_tensor& q, const mneme_tensor& kv,
                                         const mneme_tensor* indices, const mneme_tensor* sink,
                                         const mneme_tensor* entries, const mneme_op_attention& params) {
    const auto* p = keep(params);
    record(MNEME_OP_ATTENTION, dst, {&q, &kv, &kv, indices, sink, entries}, p, sizeof(*p));
}

void graph_builder::hc_coeffs(const mneme_tensor& dst, const mneme_tensor& mixes, const mneme_tensor& scale,
                              const mneme_tensor& base, const mneme_op_hc& params) {
    const auto* p = keep(params);
    record(MNEME_OP_HC_COEFFS, dst, {&mixes, &scale, &base}, p, sizeof(*p));
}

void graph_builder::stream_mix(const mneme_tensor& dst, const mneme_tensor& streams, const mneme_tensor& coeffs,
                               const mneme_tensor* update, const mneme_op_stream_mix& params) {
    const auto* p = keep(params);
    record(MNEME_OP_STREAM_MIX, dst, {&streams, &coeffs, update}, p, sizeof(*p));
}

void graph_builder::compress_pool(const mneme_tensor& dst, const mneme_tensor& a, const mneme_tensor& b,
                                  const mneme_tensor& ape, const mneme_op_compress& params) {
    const auto* p = keep(params);
    record(MNEME_OP_COMPRESS_POOL, dst, {&a, &b, &ape}, p, sizeof(*p));
}

void graph_builder::engram_gate(const mneme_tensor& dst, const mneme_tensor& streams, const mneme_tensor& kv,
                                const mneme_tensor& q_weight, const mneme_tensor& k_weight,
                                const mneme_op_engram_gate& params) {
    const auto* p = keep(params);
    record(MNEME_OP_ENGRAM_GATE, dst, {&streams, &kv, &q_weight, &k_weight}, p, sizeof(*p));
}

void graph_builder::causal_conv(const mneme_tensor& dst, const mneme_tensor& ext, const mneme_tensor& weight,
                                uint32_t dilation, bool silu) {
    const auto* p = keep(mneme_op_conv{dilation, silu ? MNEME_TRUE : MNEME_FALSE});
    record(MNEME_OP_CAUSAL_CONV, dst, {&ext, &weight}, p, sizeof(*p));
}

void replace_buffer(graph_builder& g, std::vector<buffer_ptr>& owned, mneme_tensor& t, const mneme_tensor& bigger,
                    buffer_ptr b) {
    g.flush();
    g.dev().sync();
    const mneme_buffer* old = t.buffer;
    t = bigger;
    for (auto& slot : owned) {
        if (slot && slot->raw() == old) {
            slot = std::move(b);
            return;
        }
    }
    owned.push_back(std::move(b));
}

int64_t grown_capacity(int64_t needed, int64_t capacity, int64_t n_ctx, int64_t page_tokens) {
    const int64_t cap = std::max(needed + page_tokens, capacity + capacity / 2);
    return std::min(n_ctx, (cap + page_tokens - 1) / page_tokens * page_tokens);
}

// Uploads need no wait for the queue: a backend orders buffer_upload after the ops submitted
// before it (mneme_plugin.h), so submitting what was recorded is enough even when the bytes
// reuse scratch memory an earlier op still reads. Not waiting lets an asynchronous backend keep
// running the earlier layers while the host prepares and copies the data (Engram rows).
void graph_builder::upload_bytes(const mneme_tensor& dst, std::span<const uint8_t> bytes) {
    if (bytes.size() != tensor_bytes(dst)) fail(MNEME_ERROR_INTERNAL, "upload_bytes: ", bytes.size(), " bytes for a ", tensor_bytes(dst), "-byte tensor");
    flush();
    dev_.upload(dst.buffer, dst.offset, bytes.data(), bytes.size());
}

void graph_builder::upload(const mneme_tensor& dst, std::span<const double> values) {
    flush();
    if (act_ == MNEME_DTYPE_F64) {
        dev_.upload(dst.buffer, dst.offset, values.data(), values.size() * sizeof(double));
    } else {
        std::vector<float> f(values.begin(), values.end());
        dev_.upload(dst.buffer, dst.offset, f.data(), f.size() * sizeof(float));
    }
}

void graph_builder::upload_i32(const mneme_tensor& dst, std::span<const int32_t> values) {
    flush();
    dev_.upload(dst.buffer, dst.offset, values.data(), values.size() * sizeof(int32_t));
}

std::vector<double> graph_builder::read(const mneme_tensor& t) {
    flush();
    const int64_t rows = t.ne[1] * t.ne[2] * t.ne[3], n = t.ne[0];
    const int64_t es = dtype_bytes(t.dtype);
    const bool packed = t.nb[1] == n * es && (t.ne[2] == 1 || t.nb[2] == t.nb[1] * t.ne[1]);
    const auto count = static_cast<std::size_t>(rows * n);
    // Packed float32 (a decoding step's logits and router scores): converted as the vector is
    // built, without first zeroing it.
    if (packed && t.dtype == MNEME_DTYPE_F32) {
        const auto f = std::make_unique_for_overwrite<float[]>(count);
        dev_.download(t.buffer, t.offset, f.get(), count * sizeof(float));
        return std::vector<double>(f.get(), f.get() + count);
    }
    std::vector<double> out(count);
    std::vector<unsigned char> row(static_cast<std::size_t>(n * es));
    std::vector<unsigned char> all;
    if (packed) {
        all.resize(static_cast<std::size_t>(rows * n * es));
        dev_.download(t.buffer, t.offset, all.data(), all.size());
    }
    for (int64_t r = 0; r < rows; ++r) {
        const unsigned char* src;
        if (packed) {
            src = all.data() + r * n * es;
        } else {
            dev_.download(t.buffer, t.offset + static_cast<uint64_t>(r * t.nb[1]), row.data(), row.size());
            src = row.data();
        }
        for (int64_t i = 0; i < n; ++i) {
            double v;
            if (t.dtype == MNEME_DTYPE_F64) {
                std::memcpy(&v, src + i * 8, 8);
            } else if (t.dtype == MNEME_DTYPE_F32) {
                float f;
                std::memcpy(&f, src + i * 4, 4);
                v = f;
            } else if (t.dtype == MNEME_DTYPE_I32) {
                int32_t x;
                std::memcpy(&x, src + i * 4, 4);
                v = x;
            } else {
                fail(MNEME_ERROR_INTERNAL, "read: unsupported dtype ", t.dtype);
            }
            out[static_cast<std::size_t>(r * n + i)] = v;
        }
    }
    return out;
}

void graph_builder::flush() {
    if (stop_ && stop_()) throw pass_cancelled();
    dev_.submit(ops_);
    saved_submitted_ = saved_.size();
    ops_.clear();
    params_.clear();
}

void graph_builder::begin_pass(std::function<bool()> stop) {
    end_pass();
    undo_arena_.reset();
    in_pass_ = true;
    stop_ = std::move(stop);
}

void graph_builder::end_pass() noexcept {
    in_pass_ = false;
    stop_ = nullptr;
    saved_.clear();
    saved_submitted_ = 0;
    host_undo_.clear();
}

std::exception_ptr graph_builder::abort_pass() noexcept {
    stop_ = nullptr;
    ops_.clear();
    params_.clear();
    std::exception_ptr failed;
    for (auto it = host_undo_.rbegin(); it != host_undo_.rend(); ++it) {
        try {
            (*it)();
        } catch (...) {
            failed = std::current_exception();
        }
    }
    try {
        for (std::size_t i = saved_submitted_; i-- > 0;) copy(saved_[i].target, saved_[i].copy);
        flush();
        // Also with nothing to restore: the pass's kernels must not outlive it (the next pass
        // reuses its scratch memory, and a device error must surface here, not later).
        dev_.sync();
    } catch (...) {
        failed = std::current_exception();
        ops_.clear();
        params_.clear();
    }
    end_pass();
    return failed;
}

void graph_builder::preserve(const mneme_tensor& t) {
    if (!in_pass_) return;
    const mneme_tensor c = undo_arena_.alloc(t.dtype, {t.ne[0], t.ne[1], t.ne[2], t.ne[3]});
    // Listed before the copy is recorded, since flush() counts the entries submitted by then. The
    // copy is submitted on its own, before the op that overwrites `t` is even recorded: a
    // submission that fails may have run part of its ops, and this way an entry counts as saved
    // exactly when its copy's submission succeeded, and the overwrite can only run after that.
    saved_.push_back({t, c});
    copy(c, t);
    flush();
}

void graph_builder::on_abort(std::function<void()> undo) {
    if (in_pass_) host_undo_.push_back(std::move(undo));
}

}  // namespace mneme
