// DeepSeek-V3 / V3.1 (MLA + DeepSeekMoE) and V3.2 (+ DSA lightning indexer): the forward pass
// as backend ops (FORMATS.md §2, §3, §5; SPEC.md §1-3).
#pragma once

#include <memory>

#include "graph/arch-model.h"
#include "model/checkpoint.h"
#include "model/config.h"

namespace mneme {

// Counts of the coarse indexer stage's recall: exact top-k positions it also selected.
struct coarse_recall {
    uint64_t selections = 0, found = 0;
};

struct v3_options {
    bool act_quant = true;  // V3.2's activation FP8 round trips (off = the debug mode)
    // V3.2 only: > 0 turns on the two-stage ("blocks, then tokens") selection in decoding steps,
    // with blocks of this many tokens. An approximation of DSA's exact top-k: off by default.
    int64_t coarse_block = 0;
    coarse_recall* recall = nullptr;  // measurement: also run the exact selection and compare
    // V3.2 with act_quant on a float32 device that takes them: index keys cached in BF16 (exact).
    // Off only to check that claim (the same logits bit for bit).
    bool bf16_index_keys = true;
};

std::unique_ptr<arch_model> make_deepseek_v3(const checkpoint& ckpt, const model_config& cfg, graph_builder& g,
                                             const v3_options& opts);

}  // namespace mneme
