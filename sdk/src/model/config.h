// config.json of a DeepSeek checkpoint (model_type deepseek_v3, deepseek_v32, deepseek_v4; V4 with
// Engram when engram_layer_ids is non-empty), parsed into plain fields and checked so that later
// code can size buffers and index tensors without re-validating. The field names are those of the
// published Hugging Face configs; unknown fields are ignored.
//
// A field the family needs is required, unless its absence has a defined meaning (listed with each
// field's default below); a guessed default could silently change the logits. Every size has an
// upper bound so that a hostile config cannot make the loader allocate absurd amounts of memory.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mneme {

enum class model_arch {
    deepseek_v3,         // model_type deepseek_v3: MLA + DeepSeekMoE
    deepseek_v32,        // model_type deepseek_v32: V3 + DSA lightning indexer
    deepseek_v4,         // model_type deepseek_v4: hybrid compressed attention, mHC, FP4 experts
    deepseek_v4_engram,  // model_type deepseek_v4 with a non-empty engram_layer_ids
};

// "DeepSeek-V3", "DeepSeek-V3.2", "DeepSeek-V4", "DeepSeek-V4 + Engram".
std::string_view model_arch_name(model_arch arch) noexcept;

enum class moe_scoring { sigmoid, sqrtsoftplus, softmax };

// The config.json spelling: "sigmoid", "sqrtsoftplus", "softmax".
std::string_view moe_scoring_name(moe_scoring scoring) noexcept;

enum class expert_storage { fp8, fp4 };

// rope_scaling. Absent, null, or type "default" means plain RoPE (yarn == false).
struct rope_scaling_config {
    bool yarn = false;
    double factor = 1.0;
    int64_t original_max_position_embeddings = 0;  // required with yarn
    double beta_fast = 32.0;
    double beta_slow = 1.0;
    double mscale = 1.0;
    double mscale_all_dim = 1.0;
};

// quantization_config. Absent means unquantised weights (BF16 where a release has FP8).
struct quantization_config {
    bool present = false;
    std::string quant_method;                   // "fp8", the only method accepted
    std::string fmt = "e4m3";                   // optional; only "e4m3"
    std::string activation_scheme = "dynamic";  // optional; only "dynamic"
    bool scale_ue8m0 = false;                   // scale_fmt "ue8m0" (V3.1/V3.2/V4); absent or null: false
    int64_t block_rows = 128;                   // weight_block_size[0], along the output dimension
    int64_t block_cols = 128;                   // weight_block_size[1], along the input dimension
};

// Engram conditional memory (ENGRAM_FORMAT.md §1). Enabled when layer_ids is non-empty.
struct engram_config {
    std::vector<int64_t> layer_ids;       // engram_layer_ids: distinct, each < num_hidden_layers
    int64_t max_ngram_size = 0;           // N >= 2: n-gram orders 2..N
    int64_t n_heads = 0;                  // K: hash heads per order
    int64_t head_dim = 0;                 // d_e: multiple of 32
    std::vector<int64_t> vocab_size;      // N-1 entries; one int in config.json is repeated
    std::vector<int64_t> num_embeddings;  // one per Engram layer (checked against a lower bound only)
    int64_t pad_token_id = 0;
    int64_t seed = 0;
    int64_t compressed_vocab_size = 0;  // V'
    int64_t conv_kernel = 0;            // 0: no short convolution
    int64_t conv_dilation = 0;          // optional, default N
    double conv_norm_eps = 1e-5;        // optional

    bool enabled() const noexcept { return !layer_ids.empty(); }
    // (N-1)·K·d_e: width of the embedding fed to wkv.
    int64_t embedding_width() const noexcept { return (max_ngram_size - 1) * n_heads * head_dim; }
};

struct model_config {
    model_arch arch = model_arch::deepseek_v3;
    std::string model_type;

    // All families.
    int64_t vocab_size = 0;
    int64_t hidden_size = 0;
    int64_t num_hidden_layers = 0;         // main layers, MTP excluded
    int64_t num_nextn_predict_layers = 0;  // optional, default 0
    int64_t num_attention_heads = 0;
    int64_t q_lora_rank = 0;  // V3: null or 0 means no query compression
    int64_t qk_rope_head_dim = 0;
    double rms_norm_eps = 0;
    double rope_theta = 0;
    rope_scaling_config rope_scaling;
    quantization_config quantization;
    bool tie_word_embeddings = false;    // optional, default false
    int64_t max_position_embeddings = 0; // optional; 0 when absent (the runtime then derives a limit)
    int64_t bos_token_id = -1;           // optional; -1 when absent or null
    std::vector<int64_t> eos_token_ids;  // optional; an int or a list in config.json

    // Mixture of experts (all families).
    int64_t n_routed_experts = 0;
    int64_t n_shared_experts = 0;
    int64_t num_experts_per_tok = 0;
    int64_t moe_intermediate_size = 0;
    int64_t n_group = 1;  // V4: optional, absent or null means no group limit
    int64_t topk_group = 1;
    moe_scoring scoring_func = moe_scoring::sigmoid;
    std::string topk_method = "noaux_tc";  // optional
    bool norm_topk_prob = true;            // optional
    double routed_scaling_factor = 1.0;

    // V3 / V3.2: MLA and dense layers.
    int64_t intermediate_size = 0;
    int64_t first_k_dense_replace = 0;
    int64_t moe_layer_freq = 1;  // optional
    int64_t kv_lora_rank = 0;
    int64_t qk_nope_head_dim = 0;
    int64_t v_head_dim = 0;

    // Lightning indexer: V3.2 every layer, V4 ratio-4 layers.
    int64_t index_n_heads = 0;
    int64_t index_head_dim = 0;  // a power of two (Hadamard transform)
    int64_t index_topk = 0;

    // V4.
    int64_t head_dim = 0;
    int64_t o_groups = 0;
    int64_t o_lora_rank = 0;
    int64_t sliding_window = 0;
    std::vector<int64_t> compress_ratios;  // num_hidden_layers + num_nextn_predict_layers entries
    double compress_rope_theta = 0;
    double swiglu_limit = 0;  // 0: no clamp (V3 has none)
    int64_t num_hash_layers = 0;
    int64_t hc_mult = 1;  // mHC streams; 1 for V3
    int64_t hc_sinkhorn_iters = 0;
    double hc_eps = 0;
    expert_storage expert_dtype = expert_storage::fp8;  // optional, default "fp8"

    engram_config engram;

    bool is_v4() const noexcept { return arch == model_arch::deepseek_v4 || arch == model_arch::deepseek_v4_engram; }
    bool has_indexer() const noexcept { return arch != model_arch::deepseek_v3; }
    int64_t total_layers() const noexcept { return num_hidden_layers + num_nextn_predict_layers; }
};

// Parses config.json text. `filename` is used in error messages. Throws mneme::error:
// MNEME_ERROR_INVALID_MODEL for malformed JSON, a missing required field, a wrong type or a value
// out of range (the message names the file and the field); MNEME_ERROR_UNSUPPORTED for a
// model_type, rope_scaling type, quantisation method or scoring function this runtime lacks.
model_config parse_model_config(std::string_view json_text, const std::string& filename = "config.json");

// Reads and parses the file at `path`. Additionally MNEME_ERROR_FILE_NOT_FOUND and MNEME_ERROR_IO.
model_config load_model_config(const std::string& path);

}  // namespace mneme
