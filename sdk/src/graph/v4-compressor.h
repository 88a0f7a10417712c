// The DeepSeek-V4 token compressor (SPEC.md §6.5 step 3): every complete block of `ratio` tokens is
// pooled into one entry. Ratio 4 overlaps: block j also pools block j-1 on the first half of the
// channels. Between forward passes the projections of the tokens a future block still needs are
// kept (fp32-style state of the reference, here in the activation type), so an entry appears
// exactly once — when the last token of its block arrives — whatever the chunking.
#pragma once

#include <string>
#include <vector>

#include "graph/v4-common.h"

namespace mneme {

struct compressor_weights {
    int64_t ratio = 0, width = 0;
    bool overlap = false;      // ratio 4
    linear_weight wkv, wgate;  // plain float linears [c*width, D], c = 2 with overlap
    mneme_tensor ape{};        // [c*width, ratio] activation type
    mneme_tensor norm{};       // [width]
};

compressor_weights load_compressor(graph_builder& g, weight_store& ws, std::vector<buffer_ptr>& owned,
                                   const std::string& prefix, int64_t ratio, int64_t width, int64_t d);

// Which rows a compressor holds and which blocks a pass completes (pure bookkeeping).
struct compressor_plan {
    int64_t held_first = 0;   // position of the first held row before the pass
    int64_t held = 0;         // rows held before the pass: positions held_first .. p-1
    int64_t first_block = 0;  // blocks completed by the pass: first_block .. first_block + n_blocks - 1
    int64_t n_blocks = 0;
    int64_t keep_first = 0;  // rows held after the pass: positions keep_first .. p+s-1
    int64_t keep = 0;
};

// The first position whose projections are still needed after `n_past` tokens: the start of the
// open block, or of the block before it with overlap.
int64_t compressor_first_held(int64_t ratio, bool overlap, int64_t n_past);
// The most rows a compressor ever holds (2*ratio with overlap, else ratio).
int64_t compressor_state_rows(int64_t ratio, bool overlap);
compressor_plan plan_compressor(int64_t ratio, bool overlap, int64_t n_past, int64_t n_new);

// The held projections: values a and gate scores b (without the position embedding), row i =
// position compressor_first_held(n_past) + i.
struct compressor_state {
    mneme_tensor a{}, b{};  // [c*width, compressor_state_rows]
};

// Projects the new tokens x [D, s] (starting at position p), pools the blocks they complete into rows
// first_block.. of `entries` [width, capacity] and RMS-normalises them (rotation and round trips are
// the caller's), and updates the held rows. Returns the plan.
compressor_plan run_compressor(graph_builder& g, const compressor_weights& w, const compressor_state& st,
                               const mneme_tensor& x, int64_t p, const mneme_tensor& entries, double eps);

}  // namespace mneme
