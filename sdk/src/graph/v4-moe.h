// DeepSeek-V4 mixture of experts (SPEC.md §6.6, FORMATS.md §5.6): sqrt-softplus router with the
// bias used for selection only, hash-routed first layers (tid2eid), clamped SwiGLU experts with the
// routing weight applied to the hidden before the down projection, and one shared expert.
#pragma once

#include <span>
#include <vector>

#include "graph/v4-common.h"
#include "model/checkpoint.h"

namespace mneme {

struct v4_expert_weights {
    linear_weight w1, w3, w2;  // gate, up, down
};

struct v4_moe_weights {
    linear_weight router;          // [E, D], plain float
    std::vector<double> bias;      // [E] (routed layers)
    std::vector<int32_t> tid2eid;  // [vocab, top_k] (hash layers)
    bool hashed = false;
    v4_expert_weights shared;
    std::vector<v4_expert_weights> experts;
};

// Passes of at most this many tokens record the experts' products grouped (see v4_moe): the rows
// the CPU backend's decode-sized products take.
inline constexpr int64_t k_v4_grouped_expert_rows = 16;

// Checks tid2eid (I64 or I32 [vocab, top_k]) and names the tensor when an expert id is out of range.
v4_moe_weights load_v4_moe(const checkpoint& ckpt, weight_store& ws, const model_config& cfg, int64_t layer);

// MoE output [D, s] for the normed input x [D, s] of the tokens `tokens`; the chosen experts are
// counted into row `layer` of `probe` when there is one.
mneme_tensor v4_moe(graph_builder& g, const v4_context& c, const v4_moe_weights& w, const mneme_tensor& x,
                    std::span<const int32_t> tokens, forward_probe* probe = nullptr, int64_t layer = 0);

}  // namespace mneme
