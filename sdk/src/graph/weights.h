// Turning checkpoint tensors into device tensors the ops can use: weights stay in their stored
// format (FP8/FP4 with their block scales, BF16), small vectors (norm weights, biases) are
// converted once into the activation type.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "graph/graph-builder.h"
#include "model/checkpoint.h"
#include "model/config.h"

namespace mneme {

// Rows [first, first + n) of a weight as a view in its stored format, with the matching rows of its
// block scales; a scaled weight needs `first` on a scale block (first % w.block_n == 0).
linear_weight row_slice(const linear_weight& w, int64_t first, int64_t n);

class weight_store {
public:
    weight_store(const checkpoint& ckpt, const model_config& cfg, graph_builder& g);

    // `<prefix>.weight` [out, in] (+ `<prefix>.weight_scale_inv` F32 or `<prefix>.scale` E8M0 when
    // stored as FP8/FP4). fp4 = the weight is packed FP4 stored as I8 [out, in/2].
    linear_weight linear(const std::string& prefix, int64_t out, int64_t in, bool fp4 = false);
    // A plain tensor in its stored format (no scale), e.g. an embedding table [rows, cols].
    mneme_tensor raw(const std::string& name, std::initializer_list<int64_t> shape_outer_first);
    // A 1-D tensor of length n converted to the activation type (norm weights, biases).
    mneme_tensor vector(const std::string& name, int64_t n);
    // A float tensor read to the host as doubles.
    std::vector<double> host_doubles(const std::string& name, int64_t n);
    // `w` (loaded by linear(prefix, ...)) with a scale row of its own for every weight row
    // (block_n 1), so that row_slice may cut it at any row, not only on a scale block.
    linear_weight with_row_scales(const std::string& prefix, const linear_weight& w);
    // For each f of `firsts`: rows [f, f + n) of `w` (loaded by linear(prefix, ...)) transposed, a
    // weight with in_features() outputs and n inputs, copied once from the checkpoint's bytes in
    // the stored format (all of them in one buffer, their scales in another). Block scales are
    // transposed with it (block_n and block_k swap), so a scaled weight needs every f on a scale
    // block (f % w.block_n == 0). FP4 is not supported.
    std::vector<linear_weight> transposed_rows(const std::string& prefix, const linear_weight& w,
                                               std::span<const int64_t> firsts, int64_t n);

    uint64_t bytes_mapped() const noexcept { return mapped_; }

  private:
    // A device buffer holding `bytes`, kept alive with the store.
    buffer_ptr upload_owned(const std::vector<uint8_t>& bytes);
    // The checkpoint's block scales of `prefix` (FP8 weights): weight_scale_inv, or the E8M0 scale.
    const tensor_info& scale_info(const std::string& prefix) const;
    mneme_tensor wrap(const tensor_info& t, mneme_dtype dtype, int64_t ne0, int64_t ne1);

    const checkpoint& ckpt_;
    const model_config& cfg_;
    graph_builder& g_;
    std::vector<buffer_ptr> owned_;
    uint64_t mapped_ = 0;
    bool resident_ = false;
    buffer_ptr arena_;  // where resident weights are copied, in chunks
    uint64_t arena_used_ = 0;
};

// Whether a checkpoint's weights should live in the device's own memory when the device works on
// host memory (the CPU backend, which could equally use them in place in the file mapping). In
// place, the OS pages them in and out as it likes, which a checkpoint larger than memory needs; a
// copy costs a read of the file at load, but its pages are anonymous and, where the system allows,
// 2 MiB ones, and decoding streams every weight once a step: with 4 KiB file pages, page walks
// (on a virtual machine a two-level walk) took a growing share as the caches and the indexer's
// scans grew with the context. A copy is made when the weights (the plan's: no Engram tables, no MTP layer) take at
// most half of the memory available now; MNEME_WEIGHTS=mapped or =resident decides instead.
bool resident_weights(const checkpoint& ckpt, const model_config& cfg, device& dev);

}  // namespace mneme
