// Shared model-related plumbing for mneme-cli commands: opening a model from the common options,
// parsing token lists, writing .npy files.
#pragma once

#include <mneme/mneme.h>

#include <string>
#include <vector>

#include "cli-args.h"

namespace mneme_cli {

// Options every model command accepts (beyond the runtime ones).
std::vector<std::string> model_option_names();

// Opens --model with --precision, --act-quant, --backend, --device. Returns null after printing.
// --engram-store STORE and --engram-cache-mb N serve the Engram tables from a store.
mneme_model* open_model(mneme_runtime* rt, const args& a);
// The same with the Engram store given explicitly (NULL = tables from the checkpoint).
mneme_model* open_model(mneme_runtime* rt, const args& a, const char* engram_store, uint64_t engram_cache_bytes);

std::vector<int32_t> parse_token_list(const std::string& s);

// Writes a 2-D NumPy array (float32 or float64 values from doubles or floats).
void write_npy(const std::string& path, const double* data, size_t rows, size_t cols, bool as_f64);

}  // namespace mneme_cli
