// What the forward pass does with a checkpoint tensor, by name: the memory plan and the choice of
// resident weights (graph/weights.h) must count the same bytes as weights.
#pragma once

#include <string_view>

#include "model/config.h"

namespace mneme {

enum class tensor_use {
    weight,        // read by the forward pass from the checkpoint (or a copy of it)
    engram_table,  // an Engram embedding table: served by the Engram store, planned as Engram memory
    unused,        // the multi-token-prediction layer: shipped, never read by the forward pass
};

tensor_use use_of(std::string_view name, const model_config& cfg);

}  // namespace mneme
