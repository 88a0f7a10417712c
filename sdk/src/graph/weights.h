// Turning checkpoint tensors into device tensors the ops can use: weights stay in their stored
// format (FP8/FP4 with their block scales, BF16), small vectors (norm weights, biases) are
// converted once into the activation type.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "graph/graph-builder.h"
#include "model/checkpoint.h"
#include "model/config.h"

namespace mneme {

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
    // A dense copy of a weight, dequantised into the activation type, [out, in].
    mneme_tensor dequantised(const linear_weight& w);

    uint64_t bytes_mapped() const noexcept { return mapped_; }

private:
    mneme_tensor wrap(const tensor_info& t, mneme_dtype dtype, int64_t ne0, int64_t ne1);

    const checkpoint& ckpt_;
    const model_config& cfg_;
    graph_builder& g_;
    std::vector<buffer_ptr> owned_;
    uint64_t mapped_ = 0;
};

}  // namespace mneme
