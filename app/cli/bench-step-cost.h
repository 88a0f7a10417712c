// What one decode step of a DeepSeek checkpoint must read from memory, and the arithmetic a token
// costs, counted from the checkpoint's config.json and safetensors headers (no weights are read).
// `mneme-cli bench` divides these by the measured bandwidth and GEMM peak to get roofline figures.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mneme_cli::bench {

// One tensor as the checkpoint stores it.
struct stored_tensor {
    std::string name;
    std::string dtype;  // safetensors dtype: F8_E4M3, BF16, F32, I8, F8_E8M0, ...
    std::vector<int64_t> shape;
    uint64_t bytes = 0;
};

// The config fields the accounting needs (absent fields stay 0).
struct model_shape {
    std::string model_type;
    int64_t hidden = 0, layers = 0, vocab = 0, heads = 0;
    int64_t routed_experts = 0, experts_per_token = 0;
    int64_t kv_lora = 0, rope = 0, nope = 0, v_dim = 0;      // MLA (V3 family)
    int64_t index_topk = 0, index_heads = 0, index_dim = 0;  // DSA indexer (V3.2)
    int64_t block_rows = 128;  // quantization_config.weight_block_size[0]: rows one block scale covers
    // Engram (V4.1): table rows one layer reads per token, (engram_max_ngram_size - 1) × engram_n_heads.
    int64_t engram_rows = 0;
    bool v3_family() const { return kv_lora > 0; }
};

struct checkpoint_summary {
    model_shape shape;
    std::vector<stored_tensor> tensors;  // every tensor of every shard, MTP layers included
};

// Reads config.json and the header of every *.safetensors file in `dir`. Throws std::runtime_error.
checkpoint_summary read_checkpoint_summary(const std::string& dir);

// Bytes and multiply-adds of one token, split by where they come from.
struct step_cost {
    // Weight bytes one decode step reads as the CPU backend executes the model: stored formats.
    // MLA's kv_b_proj runs absorbed, per head W_UK^T (the head's nope rows, transposed) and W_UV
    // (its v rows), each in the stored format with its block scales when its first row starts a
    // scale block (every head when nope and v are multiples of block_rows, as in V3/V3.2; always
    // for unscaled weights), otherwise dequantised in the activation type.
    // Lookup tables (V4's hash routing table, Engram's n-gram tables) count the rows a token reads.
    uint64_t attention_dense_bytes = 0;  // attention, dense FFN layers, norms, routers, lookups
    uint64_t shared_expert_bytes = 0;
    uint64_t routed_expert_bytes = 0;  // experts_per_token of each MoE layer's routed experts
    uint64_t embedding_bytes = 0;      // one row of the embedding table
    uint64_t head_bytes = 0;           // final norm excluded (it is in attention_dense_bytes)
    uint64_t weight_bytes_stored = 0;  // the same selection counted in the checkpoint's formats
    uint64_t cache_bytes = 0;          // KV/latent (and indexer key) cache read at the given context
    uint64_t routed_experts_read = 0;  // expert FFNs read per token, over all MoE layers
    // Weights multiplied per token (each is one multiply-add), LM head separately because prefill
    // computes it for the last prompt token only.
    uint64_t body_params = 0;
    uint64_t head_params = 0;
    // Attention FLOPs per attended cached token per query (scores + weighted values, all heads).
    double attention_flops_per_key = 0;
    // The tokens attention reads at this context (DSA caps it at index_topk), and the indexer's
    // FLOPs per scanned key.
    uint64_t attended = 0;
    uint64_t attend_cap = 0;  // DSA's index_topk; 0 = every cached token
    double indexer_flops_per_key = 0;

    uint64_t weight_bytes() const {
        return attention_dense_bytes + shared_expert_bytes + routed_expert_bytes + embedding_bytes + head_bytes;
    }
    uint64_t total_bytes() const { return weight_bytes() + cache_bytes; }
};

// The cost of decoding one token with `context` tokens already cached. `act_bytes` is the size of
// the runtime's activation type (4 for float32). For layouts other than the V3 family the cache
// figure is `fallback_cache_bytes_per_token` × context (the runtime's own per-token size).
// `index_key_bytes` is the size of one cached V3.2 index-key element (0: act_bytes; 2 where the
// runtime keeps them in BF16).
step_cost decode_step_cost(const checkpoint_summary& ckpt, uint64_t context, uint64_t act_bytes = 4,
                           uint64_t fallback_cache_bytes_per_token = 0, uint64_t index_key_bytes = 0);

// FLOPs per prompt token of a P-token prefill from an empty cache: 2 per weight multiply-add, the
// LM head once per prompt (for its last token), attention over (P+1)/2 keys on average.
// `c` may come from decode_step_cost at any context (only its per-token and per-key parts are used).
double prefill_flops_per_token(const step_cost& c, uint64_t prompt_tokens);

}  // namespace mneme_cli::bench
