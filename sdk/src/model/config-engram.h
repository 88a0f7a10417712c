// The Engram fields of a DeepSeek-V4 config.json (ENGRAM_FORMAT.md §1). Internal to config parsing.
#pragma once

#include "model/config-reader.h"
#include "model/config.h"

namespace mneme {

// Reads the engram_* fields when engram_layer_ids is present and non-empty; otherwise returns a
// disabled engram_config. `cfg` must already hold the V4 fields (layer count, vocabulary).
engram_config read_engram_config(const config_reader& r, const model_config& cfg);

}  // namespace mneme
