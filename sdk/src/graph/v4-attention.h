// DeepSeek-V4 attention (SPEC.md §6.5, FORMATS.md §5.6): one 512-style KV head shared by all query
// heads, over a sliding window of raw tokens plus compressed entries — all complete ones (ratio
// other than 4) or those the lightning indexer picks (ratio 4) — with an attention sink, inverse
// RoPE on the output and a grouped low-rank output projection.
#pragma once

#include "graph/v4-common.h"
#include "graph/v4-compressor.h"
#include "graph/v4-state.h"

namespace mneme {

struct v4_attention_weights {
    int64_t ratio = 0;  // compress_ratios[layer]
    linear_weight wq_a, wq_b, wkv, wo_b;
    mneme_tensor q_norm{}, kv_norm{}, sink{};
    // [G*o_lora, H*hd/G], a scale row per weight row (groups of o_lora rows need not start a scale
    // block); applied without an activation round trip.
    linear_weight wo_a;
    compressor_weights comp;  // ratio > 0
    // Lightning indexer (ratio 4).
    linear_weight idx_wq_b, idx_weights;
    compressor_weights idx_comp;
};

v4_attention_weights load_v4_attention(graph_builder& g, weight_store& ws, std::vector<buffer_ptr>& owned,
                                       const model_config& cfg, int64_t layer);

// Attention output [D, s] for the normed sub-layer input x [D, s]; appends the new tokens to `cache`.
mneme_tensor v4_attention(graph_builder& g, const v4_context& c, const v4_attention_weights& w, v4_layer_cache& cache,
                          const mneme_tensor& x, const v4_pass& pass);

}  // namespace mneme
