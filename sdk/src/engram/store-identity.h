// Which model a store's tables belong to: a hash of config.json, every tensor header (name, dtype,
// shape) and a sample of each Engram table's bytes, so that tables of another model — even one with
// the same config and shapes but other weights — are never served.
#pragma once

#include <string>

#include "model/checkpoint.h"
#include "model/config.h"

namespace mneme {

// 16 hex digits. `config_text` is config.json as stored.
std::string engram_store_identity(const std::string& config_text, const checkpoint& ckpt, const model_config& cfg);

// config.json of a model directory, as stored.
std::string read_config_text(const std::string& model_dir);

}  // namespace mneme
