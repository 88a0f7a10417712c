// DeepSeek-V4 (hybrid compressed attention, mHC, FP4 experts) and DeepSeek-V4 + Engram: the forward
// pass as backend ops (FORMATS.md §4, §5.6; ENGRAM_FORMAT.md; SPEC.md §4.3, §6).
#pragma once

#include <memory>

#include "graph/arch-model.h"
#include "graph/v4-common.h"
#include "model/checkpoint.h"
#include "model/config.h"

namespace mneme {

std::unique_ptr<arch_model> make_deepseek_v4(const checkpoint& ckpt, const model_config& cfg, graph_builder& g,
                                             const v4_options& opts);

}  // namespace mneme
