// DeepSeek-V3 / V3.1 (MLA + DeepSeekMoE) and V3.2 (+ DSA lightning indexer): the forward pass
// as backend ops (FORMATS.md §2, §3, §5; SPEC.md §1-3).
#pragma once

#include <memory>

#include "graph/arch-model.h"
#include "model/checkpoint.h"
#include "model/config.h"

namespace mneme {

struct v3_options {
    bool act_quant = true;  // V3.2's activation FP8 round trips (off = the debug mode)
};

std::unique_ptr<arch_model> make_deepseek_v3(const checkpoint& ckpt, const model_config& cfg, graph_builder& g,
                                             const v3_options& opts);

}  // namespace mneme
