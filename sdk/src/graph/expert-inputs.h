// One chosen expert's share of a decode-sized MoE pass, for the grouped passes of V3 and V4 that
// record every chosen expert's products back to back (deepseek-v3.cpp's moe_grouped, v4-moe.cpp's
// grouped_experts).
#pragma once

#include <cstdint>

#include "graph/graph-builder.h"
#include "graph/moe-routing.h"

namespace mneme {

struct expert_inputs {
    mneme_tensor ids;      // [n] I32: the pass's tokens routed to the expert, in token order
    mneme_tensor weights;  // [n]: their routing weights
    mneme_tensor x;        // [d, n]: their rows of the experts' input
};

// Uploads er's ids and weights and gathers their rows of xq [d, tokens]; an expert every token
// routes to (as all of a single token's do) takes xq itself.
expert_inputs record_expert_inputs(graph_builder& g, const expert_rows& er, int64_t tokens, const mneme_tensor& xq);

}  // namespace mneme
