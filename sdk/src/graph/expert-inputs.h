// One chosen expert's share of a decode-sized MoE pass, for the grouped passes of V3 and V4 that
// record every chosen expert's products back to back (deepseek-v3.cpp's moe_grouped, v4-moe.cpp's
// grouped_experts).
#pragma once

#include <cstdint>
#include <vector>

#include "graph/graph-builder.h"
#include "graph/moe-routing.h"

namespace mneme {

struct expert_inputs {
    int64_t expert = 0;
    mneme_tensor ids;      // [n] I32: the pass's tokens routed to the expert, in token order
    mneme_tensor weights;  // [n]: their routing weights
    mneme_tensor x;        // [d, n]: their rows of the experts' input
};

// For every expert of n_experts that some token of the pass routes to, in expert order: uploads
// the ids and weights of its tokens, all experts' in one upload each (an upload first submits what
// was recorded before it: a decoding step's 8 experts took 16 of them), and gathers its rows of
// xq [d, tokens]; an expert every token routes to (as all of a single token's do) takes xq itself.
std::vector<expert_inputs> record_expert_inputs(graph_builder& g, const routing& r, int64_t n_experts, int64_t tokens,
                                                const mneme_tensor& xq);

// Elements [first, first + n) of a 1-D tensor, as a tensor of its own.
mneme_tensor slice_1d(const mneme_tensor& t, int64_t first, int64_t n);

}  // namespace mneme
