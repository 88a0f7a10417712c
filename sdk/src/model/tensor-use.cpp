#include "model/tensor-use.h"

#include <string>

namespace mneme {

tensor_use use_of(std::string_view name, const model_config& cfg) {
    // V3 places its multi-token-prediction layer after the last layer; V4 names it mtp.*.
    const std::string after_last = "layers." + std::to_string(cfg.num_hidden_layers) + ".";
    if (name.find(after_last) != std::string_view::npos || name.starts_with("mtp.")) return tensor_use::unused;
    if (name.find(".engram.embed.") != std::string_view::npos) return tensor_use::engram_table;
    return tensor_use::weight;
}

}  // namespace mneme
