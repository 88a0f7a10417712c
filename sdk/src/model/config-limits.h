// Upper bounds on config.json sizes. They sit far above every released DeepSeek model (V4-Pro:
// vocab 129280, hidden 7168, 61 layers, 384 experts) and far below what would let a hostile config
// make the loader allocate absurd amounts of memory or overflow 64-bit size arithmetic.
#pragma once

#include <cstdint>

namespace mneme::config_limits {

inline constexpr int64_t vocab = int64_t{1} << 24;
inline constexpr int64_t hidden = 65536;
inline constexpr int64_t layers = 1024;
inline constexpr int64_t mtp_layers = 16;
inline constexpr int64_t heads = 1024;
inline constexpr int64_t head_dim = 4096;
inline constexpr int64_t lora_rank = 65536;
inline constexpr int64_t experts = 65536;
inline constexpr int64_t shared_experts = 64;
inline constexpr int64_t ffn = int64_t{1} << 20;
inline constexpr int64_t topk_tokens = int64_t{1} << 24;
inline constexpr int64_t window = int64_t{1} << 24;
inline constexpr int64_t compress_ratio = 65536;
inline constexpr int64_t hc_mult = 16;
inline constexpr int64_t sinkhorn_iters = 1000;
inline constexpr int64_t quant_block = 4096;
inline constexpr int64_t positions = int64_t{1} << 40;

inline constexpr int64_t engram_ngram = 16;
inline constexpr int64_t engram_heads = 64;
inline constexpr int64_t engram_head_dim = 4096;
inline constexpr int64_t engram_width = int64_t{1} << 20;  // (N-1)·K·d_e
inline constexpr int64_t engram_vocab = int64_t{1} << 32;  // base table size per order
inline constexpr int64_t engram_rows = int64_t{1} << 40;   // rows of one layer's table
inline constexpr int64_t engram_conv_kernel = 64;
inline constexpr int64_t engram_conv_dilation = 1024;
inline constexpr int64_t engram_seed = int64_t{1} << 62;  // leaves room for seed + 10007·layer

}  // namespace mneme::config_limits
