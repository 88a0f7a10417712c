// Records backend ops for one forward pass in the model's activation type and submits them in
// batches. Everything heavy a model does goes through here, so a GPU backend sees whole
// sequences of ops; the host reads results back only where the algorithm needs them.
#pragma once

#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "graph/device.h"
#include "graph/scratch.h"
#include "graph/tensor-view.h"

namespace mneme {

// A weight matrix [out, in] in its stored format, with optional block scales.
struct linear_weight {
    mneme_tensor w{};
    mneme_tensor scale{};  // buffer == nullptr when unscaled
    uint32_t block_n = 1, block_k = 1;
    bool quantised = false;  // FP8/FP4: V3.2/V4 quantise the input activations first

    int64_t out_features() const { return w.ne[1]; }
    int64_t in_features() const { return w.ne[0]; }
};

// Thrown by graph_builder::flush when the pass in progress was asked to stop (begin_pass).
class pass_cancelled : public error {
public:
    pass_cancelled() : error(MNEME_CANCELLED, "the forward pass was cancelled") {}
};

class graph_builder {
public:
    // Recorded ops are handed to the device in batches of at most this many. Each hand-over is a
    // point where a cancelled pass stops, so the batch bounds the work between two checks; it is
    // large enough that the per-submission cost (a lock, a check) stays invisible.
    static constexpr std::size_t k_default_batch_ops = 64;

    // `spares` (may be null) recycles scratch buffers between the sessions of one model.
    graph_builder(device& dev, mneme_dtype act, scratch_spares* spares = nullptr)
        : dev_(dev), act_(act), scratch_(dev, spares), undo_arena_(dev) {}

    device& dev() noexcept { return dev_; }
    mneme_dtype act() const noexcept { return act_; }
    scratch_arena& scratch() noexcept { return scratch_; }

    // A new activation tensor in scratch memory.
    mneme_tensor tensor(std::initializer_list<int64_t> ne) { return scratch_.alloc(act_, ne); }
    mneme_tensor tensor_of(mneme_dtype dtype, std::initializer_list<int64_t> ne) { return scratch_.alloc(dtype, ne); }

    void matmul(const mneme_tensor& dst, const mneme_tensor& x, const linear_weight& w, double alpha = 1.0);
    void rms_norm(const mneme_tensor& dst, const mneme_tensor& x, const mneme_tensor* weight, double eps);
    void layer_norm(const mneme_tensor& dst, const mneme_tensor& x, const mneme_tensor* weight,
                    const mneme_tensor* bias, double eps);
    void rope(const mneme_tensor& dst, const mneme_tensor& x, const mneme_tensor& cos, const mneme_tensor& sin,
              mneme_rope_layout layout, uint32_t offset, uint32_t n_rot, bool inverse = false);
    void swiglu(const mneme_tensor& dst, const mneme_tensor& gate, const mneme_tensor& up, double limit,
                const mneme_tensor* row_weight = nullptr);
    void topk(const mneme_tensor& dst, const mneme_tensor& x, uint32_t k);
    void add(const mneme_tensor& dst, const mneme_tensor& a, const mneme_tensor& b);
    void mul(const mneme_tensor& dst, const mneme_tensor& a, const mneme_tensor& b);
    void scale(const mneme_tensor& dst, const mneme_tensor& x, double s, double bias = 0.0);
    void copy(const mneme_tensor& dst, const mneme_tensor& src);
    void dequantise(const mneme_tensor& dst, const linear_weight& w);
    void get_rows(const mneme_tensor& dst, const mneme_tensor& table, const mneme_tensor& ids);
    void quant_roundtrip(const mneme_tensor& dst, const mneme_tensor& x, mneme_dtype format, uint32_t block);
    void hadamard(const mneme_tensor& dst, const mneme_tensor& x);
    void attention(const mneme_tensor& dst, const mneme_tensor& q, const mneme_tensor& k, const mneme_tensor& v,
                   const mneme_tensor* indices, const mneme_tensor* sink, const mneme_op_attention& p);
    void indexer_scores(const mneme_tensor& dst, const mneme_tensor& q, const mneme_tensor& w, const mneme_tensor& k,
                        int64_t start_pos, int64_t ratio);
    void add_rows_scaled(const mneme_tensor& dst, const mneme_tensor& x, const mneme_tensor& idx,
                         const mneme_tensor& w);
    // DeepSeek-V4 / Engram ops (see mneme_plugin.h).
    void attention_compressed(const mneme_tensor& dst, const mneme_tensor& q, const mneme_tensor& kv,
                              const mneme_tensor* indices, const mneme_tensor* sink, const mneme_tensor* entries,
                              const mneme_op_attention& p);
    void hc_coeffs(const mneme_tensor& dst, const mneme_tensor& mixes, const mneme_tensor& scale, const mneme_tensor& base,
                   const mneme_op_hc& p);
    void stream_mix(const mneme_tensor& dst, const mneme_tensor& streams, const mneme_tensor& coeffs,
                    const mneme_tensor* update, const mneme_op_stream_mix& p);
    void compress_pool(const mneme_tensor& dst, const mneme_tensor& a, const mneme_tensor& b, const mneme_tensor& ape,
                       const mneme_op_compress& p);
    void engram_gate(const mneme_tensor& dst, const mneme_tensor& streams, const mneme_tensor& kv,
                     const mneme_tensor& q_weight, const mneme_tensor& k_weight, const mneme_op_engram_gate& p);
    void causal_conv(const mneme_tensor& dst, const mneme_tensor& ext, const mneme_tensor& weight, uint32_t dilation,
                     bool silu);

    // Copies host values (double) into a tensor of the activation type / an I32 tensor.
    void upload(const mneme_tensor& dst, std::span<const double> values);
    void upload_i32(const mneme_tensor& dst, std::span<const int32_t> values);
    // Copies raw bytes (already in dst's storage format) into a contiguous tensor.
    void upload_bytes(const mneme_tensor& dst, std::span<const uint8_t> bytes);
    // Runs everything recorded so far, then reads a tensor back as doubles (rows x ne0, packed).
    std::vector<double> read(const mneme_tensor& t);

    // Submits the recorded ops; inside a pass whose `stop` says so, throws pass_cancelled instead
    // (the ops are then left for abort_pass to drop).
    void flush();
    // Ops per submission (tests use 1 so that a pass can be stopped before any of its ops).
    void set_batch_ops(std::size_t n) noexcept { batch_ops_ = n ? n : 1; }

    // A forward pass as a unit that can be abandoned half-way with the model's state as it was
    // before. State a pass overwrites in place (not only appends to) is copied aside first with
    // preserve(); host-side state changed during the pass registers its undo with on_abort(). A
    // pass that throws (cancelled, or any error) is closed with abort_pass(), one that returns
    // with end_pass(). `stop` (may be empty) is asked before every submission whether to stop.
    void begin_pass(std::function<bool()> stop);
    void end_pass() noexcept;
    // Drops the ops not yet submitted, undoes the host changes, copies the preserved tensors back
    // (newest first, only those whose copy was submitted: the overwrite cannot have run before
    // it) and waits for the queue, so no work of the pass is left on the device. Returns the
    // error when the device failed on the way (the state is then unknown), else null.
    std::exception_ptr abort_pass() noexcept;
    // Copies `t` aside (submitted at once) before the op that overwrites it; a no-op outside a pass.
    void preserve(const mneme_tensor& t);
    void on_abort(std::function<void()> undo);

private:
    template <class P>
    const P* keep(const P& params);
    void record(mneme_op_type type, const mneme_tensor& dst, std::initializer_list<const mneme_tensor*> src,
                const void* params, uint32_t params_size);

    struct saved_tensor {
        mneme_tensor target, copy;
    };

    device& dev_;
    mneme_dtype act_;
    scratch_arena scratch_;
    std::vector<mneme_op> ops_;
    // The recorded ops' parameter structs, stable until flush(). Chunks are kept and refilled from
    // the start by the next batch: a malloc and a free per op had been a tenth of a decoding
    // step's host time.
    struct params_arena {
        static constexpr std::size_t k_chunk_bytes = 4096;  // far more than any op's parameters
        std::vector<std::unique_ptr<std::max_align_t[]>> chunks;
        std::size_t chunk = 0, used = 0;  // the chunk being filled and its bytes taken
        void* take(std::size_t bytes);    // bytes <= k_chunk_bytes
        void clear() noexcept { chunk = used = 0; }
    };
    params_arena params_;
    std::size_t batch_ops_ = k_default_batch_ops;

    // The pass in progress (begin_pass .. end_pass / abort_pass).
    bool in_pass_ = false;
    std::function<bool()> stop_;
    scratch_arena undo_arena_;  // the preserved copies; bounded by the state kept between passes
    std::vector<saved_tensor> saved_;
    std::size_t saved_submitted_ = 0;  // leading entries of saved_ whose copy op was submitted
    std::vector<std::function<void()>> host_undo_;
};

// Growing a cache tensor: runs the ops recorded so far (the copy into `bigger`), then points `t`
// at `bigger` and puts `b` in place of the buffer that held `t` in `owned` (freeing it). Growing
// one tensor at a time keeps the transient to one tensor's old + new copy, not the whole cache's.
void replace_buffer(graph_builder& g, std::vector<buffer_ptr>& owned, mneme_tensor& t, const mneme_tensor& bigger,
                    buffer_ptr b);

// The capacity a growing cache moves to when it must hold `needed` tokens: whole pages of
// `page_tokens`, at least 1.5x the old capacity (amortised O(1) copies per token), never beyond
// n_ctx. One page more than `needed` is asked for, so that the first token decoded after a prompt
// does not copy the whole cache (at 32K tokens that copy cost more than the step itself).
int64_t grown_capacity(int64_t needed, int64_t capacity, int64_t n_ctx, int64_t page_tokens);

}  // namespace mneme
