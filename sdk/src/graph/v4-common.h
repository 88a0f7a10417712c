// Small pieces every part of the DeepSeek-V4 forward pass shares: how a linear layer treats its
// input, checkpoint tensors converted to the activation type, and the per-pass rotary tables.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "graph/forward-probe.h"
#include "graph/graph-builder.h"
#include "graph/weights.h"
#include "model/config.h"

namespace mneme {

class engram_table;

struct v4_options {
    bool act_quant = true;  // the FP8/FP4 QAT round trips (off = the debug mode of the f32 comparison)
    // Where the Engram tables come from, given each Engram layer's row count; unset = the checkpoint.
    std::function<std::shared_ptr<engram_table>(std::span<const int64_t> rows)> engram_tables;
};

// What the V4 code reads from everywhere: the config and the round-trip switch.
struct v4_context {
    const model_config& cfg;
    bool act_quant = true;
};

// The input of a linear layer: every FP8/FP4 weight gets an FP8 round trip of its input (ue8m0,
// per token, per 128 channels; FORMATS.md §5.6); plain float weights use it as it is.
mneme_tensor linear_input(graph_builder& g, const v4_context& c, const mneme_tensor& x, const linear_weight& w);
// y = W · input(x) * alpha, a new [out, rows] tensor.
mneme_tensor apply_linear(graph_builder& g, const v4_context& c, const mneme_tensor& x, const linear_weight& w,
                          double alpha = 1.0);

// A float checkpoint tensor (BF16/F32/F16) of shape [rows, 1..., cols], converted once into a new device
// tensor [cols, rows] of the activation type; `owned` keeps the buffer alive.
mneme_tensor activation_matrix(graph_builder& g, weight_store& ws, std::vector<buffer_ptr>& owned,
                               const std::string& name, std::initializer_list<int64_t> shape);

// cos/sin tables [rope/2, n] of the activation type.
struct rope_pair {
    mneme_tensor cos{}, sin{};
};
// Tables for the given positions; angle = pos * inv_freq in double (FORMATS.md §5.1).
rope_pair upload_rope(graph_builder& g, const std::vector<double>& inv_freq, const std::vector<int64_t>& positions);

// The rotary tables of one forward pass: token positions p..p+s-1 with both frequency sets, and the
// block-start positions of the compressed entries each ratio completes in this pass.
struct v4_pass {
    int64_t p = 0, s = 0;
    rope_pair window;                                   // ratio-0 layers: rope_theta, no YaRN
    rope_pair compressed;                               // ratio > 0 layers: compress_rope_theta with YaRN
    std::vector<std::pair<int64_t, rope_pair>> blocks;  // ratio -> tables of blocks p/r .. (p+s)/r - 1
    forward_probe* probe = nullptr;                     // the session's statistics, when it gathers them

    const rope_pair& tokens(int64_t ratio) const { return ratio > 0 ? compressed : window; }
    const rope_pair& block_starts(int64_t ratio) const;
};

}  // namespace mneme
