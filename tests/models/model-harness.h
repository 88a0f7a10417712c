// Opens golden fixtures through the public C API and evaluates them in the logits modes of
// `mneme-cli logits`: prefill (one pass), decode (one token at a time) and chunked:N.
#pragma once

#include <mneme/mneme.h>

#include <string>
#include <vector>

namespace mneme::test {

std::string golden_dir(const std::string& name);
std::vector<int32_t> read_tokens(const std::string& fixture_dir);

struct open_options {
    mneme_precision precision = MNEME_PRECISION_F64;
    mneme_act_quant act_quant = MNEME_ACT_QUANT_DEFAULT;
};

// Engram tables served from a store (mneme_model_desc.engram_store_path) instead of the checkpoint.
struct engram_store_options {
    std::string store;
    uint64_t cache_bytes = 0;
};

class loaded_model {
public:
    explicit loaded_model(const std::string& dir, open_options opts = {}, const engram_store_options& engram = {});
    ~loaded_model();
    loaded_model(const loaded_model&) = delete;
    loaded_model& operator=(const loaded_model&) = delete;

    mneme_model* get() const { return model_; }
    // Logits of every token, row-major [tokens, vocab]; chunk 0 = one pass.
    std::vector<double> logits(const std::vector<int32_t>& tokens, std::size_t chunk = 0) const;

private:
    mneme_runtime* rt_ = nullptr;
    mneme_model* model_ = nullptr;
};

// Logits of every token of `tokens` fed to a fresh session of `model`, row-major [tokens, vocab];
// chunk 0 = one pass.
std::vector<double> session_logits(mneme_model* model, const std::vector<int32_t>& tokens, std::size_t chunk);

// max |a - b| / max |b|
double max_relative_error(const std::vector<double>& got, const std::vector<double>& ref);

}  // namespace mneme::test
