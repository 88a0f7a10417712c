// Shared model-related plumbing for mneme-cli commands: opening a model from the common options,
// parsing token lists, writing .npy files.
#pragma once

#include <mneme/mneme.h>

#include <memory>
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

// A runtime and a model opened from the common options, destroyed together (model first).
struct opened_model {
    std::unique_ptr<mneme_runtime, void (*)(mneme_runtime*)> runtime{nullptr, mneme_runtime_destroy};
    std::unique_ptr<mneme_model, void (*)(mneme_model*)> model{nullptr, mneme_model_destroy};
    explicit operator bool() const { return model != nullptr; }
};

// Empty (after printing why) when either cannot be opened.
opened_model open_runtime_and_model(const args& a);

std::vector<int32_t> parse_token_list(const std::string& s);

// Writes a 2-D NumPy array (float32 or float64 values from doubles or floats).
void write_npy(const std::string& path, const double* data, size_t rows, size_t cols, bool as_f64);

}  // namespace mneme_cli
