// The bytes-per-decode-step accounting of `mneme-cli bench` against a count written out by hand
// from the V3 golden checkpoints' configs (tests/golden/v3-tiny*/config.json): every tensor the
// model reads for one token, in its stored format, with the routed experts a token selects.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

#include "bench-step-cost.h"

namespace {

namespace bench = mneme_cli::bench;

const std::string k_golden = std::string(MNEME_TEST_DATA_DIR) + "/golden/";

// An FP8 e4m3 linear [n, k] with float32 scales per 128×128 block, as published.
uint64_t fp8(uint64_t n, uint64_t k) {
    return n * k + ((n + 127) / 128) * ((k + 127) / 128) * 4;
}
uint64_t bf16(uint64_t n) {
    return 2 * n;
}

// The shapes of a V3 golden checkpoint, written out from its config.json.
struct v3_shapes {
    uint64_t d, layers, dense_layers, heads, q_lora, kv_lora, rope, nope, v, inter, moe_inter, experts, top_k, shared,
        vocab;
};

// Every tensor one decode step reads, counted from the shapes alone.
void check_against_hand_count(const std::string& dir, const v3_shapes& s) {
    const bench::checkpoint_summary ckpt = bench::read_checkpoint_summary(k_golden + dir);
    const uint64_t context = 37;
    const bench::step_cost c = bench::decode_step_cost(ckpt, context, 4);
    const uint64_t moe_layers = s.layers - s.dense_layers;
    const uint64_t norms = bf16(s.d) * 2 + bf16(s.q_lora) + bf16(s.kv_lora);
    const uint64_t kv_b = fp8(s.heads * (s.nope + s.v), s.kv_lora);
    const uint64_t attn_stored = fp8(s.q_lora, s.d) + fp8(s.heads * (s.nope + s.rope), s.q_lora) +
                                 fp8(s.kv_lora + s.rope, s.d) + kv_b + fp8(s.d, s.heads * s.v);
    // kv_b_proj runs absorbed, per head W_UK^T (nope rows) and W_UV (v rows): in FP8 with their
    // scale rows where the first row starts a 128-row scale block (in these shapes only head 0's
    // W_UK^T), otherwise dequantised to float32.
    uint64_t kv_b_run = 0;
    for (uint64_t h = 0; h < s.heads; ++h) {
        const uint64_t first = h * (s.nope + s.v);
        kv_b_run += first % 128 == 0 ? fp8(s.nope, s.kv_lora) : s.nope * s.kv_lora * 4;
        kv_b_run += (first + s.nope) % 128 == 0 ? fp8(s.v, s.kv_lora) : s.v * s.kv_lora * 4;
    }
    CHECK(kv_b_run == fp8(s.nope, s.kv_lora) + s.nope * s.kv_lora * 4 * (s.heads - 1) + s.v * s.kv_lora * 4 * s.heads);
    const uint64_t attn_run = attn_stored - kv_b + kv_b_run;
    const uint64_t dense_ffn = 2 * fp8(s.inter, s.d) + fp8(s.d, s.inter);
    const uint64_t expert = 2 * fp8(s.moe_inter, s.d) + fp8(s.d, s.moe_inter);
    const uint64_t shared = 2 * fp8(s.shared * s.moe_inter, s.d) + fp8(s.d, s.shared * s.moe_inter);
    const uint64_t router = bf16(s.experts * s.d) + s.experts * 4;  // BF16 gate + F32 correction bias
    const uint64_t final_norm = bf16(s.d), embedding_row = bf16(s.d), head = bf16(s.vocab * s.d);

    CHECK(c.attention_dense_bytes ==
          s.layers * (attn_run + norms) + s.dense_layers * dense_ffn + moe_layers * router + final_norm);
    CHECK(c.shared_expert_bytes == moe_layers * shared);
    CHECK(c.routed_expert_bytes == moe_layers * s.top_k * expert);
    CHECK(c.routed_experts_read == moe_layers * s.top_k);
    CHECK(c.embedding_bytes == embedding_row);
    CHECK(c.head_bytes == head);
    CHECK(c.cache_bytes == s.layers * (s.kv_lora + s.rope) * 4 * context);
    CHECK(c.weight_bytes_stored == s.layers * (attn_stored + norms) + s.dense_layers * dense_ffn +
                                       moe_layers * (router + shared + s.top_k * expert) + final_norm + embedding_row +
                                       head);
    CHECK(c.total_bytes() == c.weight_bytes() + c.cache_bytes);

    // Multiply-adds: every projection once, the dense FFNs, router + shared + top-k experts.
    const uint64_t attn_params = s.q_lora * s.d + s.heads * (s.nope + s.rope) * s.q_lora + (s.kv_lora + s.rope) * s.d +
                                 s.heads * (s.nope + s.v) * s.kv_lora + s.d * s.heads * s.v;
    CHECK(c.body_params == s.layers * attn_params + s.dense_layers * 3 * s.inter * s.d +
                               moe_layers * (s.experts * s.d + (s.shared + s.top_k) * 3 * s.moe_inter * s.d));
    CHECK(c.head_params == s.vocab * s.d);
    CHECK(c.attention_flops_per_key == Approx(2.0 * s.layers * s.heads * (2 * s.kv_lora + s.rope)));
}

}  // namespace

TEST_CASE("decode step bytes of the V3 goldens match a hand count", "[bench]") {
    SECTION("v3-tiny: one file, an MTP layer that decoding never reads") {
        check_against_hand_count("v3-tiny", {144, 3, 1, 4, 96, 80, 32, 16, 32, 192, 8, 16, 4, 1, 256});
    }
    SECTION("v3-tiny-sharded: second shape set, two shards, two shared experts") {
        check_against_hand_count("v3-tiny-sharded", {136, 2, 1, 2, 72, 144, 16, 24, 40, 160, 24, 12, 3, 2, 272});
    }
}

TEST_CASE("a V3-shaped kv_b_proj is read in its stored format, as a float copy off the scale blocks", "[bench]") {
    // One layer of 4 heads, kv_lora 512; only the kv_b_proj tensors matter here.
    bench::checkpoint_summary ckpt;
    ckpt.shape.model_type = "deepseek_v3";
    ckpt.shape.layers = 1;
    ckpt.shape.heads = 4;
    ckpt.shape.kv_lora = 512;
    ckpt.shape.rope = 64;
    const auto kv_b_bytes = [&](int64_t nope, int64_t v, int64_t block_rows) {
        ckpt.shape.nope = nope;
        ckpt.shape.v_dim = v;
        ckpt.shape.block_rows = block_rows;
        const int64_t rows = 4 * (nope + v), gn = (rows + block_rows - 1) / block_rows;
        ckpt.tensors = {{"model.layers.0.self_attn.kv_b_proj.weight", "F8_E4M3", {rows, 512},
                         static_cast<uint64_t>(rows * 512)},
                        {"model.layers.0.self_attn.kv_b_proj.weight_scale_inv", "F32", {gn, 4},
                         static_cast<uint64_t>(gn * 4 * 4)}};
        const bench::step_cost c = bench::decode_step_cost(ckpt, 0, 4);
        CHECK(c.weight_bytes_stored == ckpt.tensors[0].bytes + ckpt.tensors[1].bytes);
        return c.attention_dense_bytes;
    };
    // nope = v = 128 (V3): every head's rows start a block; the FP8 bytes and every scale, once.
    CHECK(kv_b_bytes(128, 128, 128) == fp8(4 * 256, 512));
    // nope 64: W_UV rows start mid-block, so W_UV is float32 while W_UK^T stays FP8.
    CHECK(kv_b_bytes(64, 192, 128) == 4 * fp8(64, 512) + 4 * 192 * 512 * 4);
    // Blocks of 64 rows: all aligned again.
    CHECK(kv_b_bytes(64, 192, 64) == 4 * (64 * 512 + 4 * 4) + 4 * (192 * 512 + 3 * 4 * 4));
}

TEST_CASE("lookup tables count the rows one token reads: V4's hash routing, Engram's n-grams", "[bench]") {
    bench::checkpoint_summary ckpt;
    ckpt.shape.model_type = "deepseek_v4";
    ckpt.shape.layers = 2;
    ckpt.shape.engram_rows = 2 * 4;  // n-grams of 2 and 3 tokens, 4 heads
    // vocab 1000, top-6 (I64); 5000 Engram rows of 64 FP8 codes with one E8M0 scale each; a router.
    ckpt.tensors = {{"layers.0.ffn.gate.tid2eid", "I64", {1000, 6}, 1000 * 6 * 8},
                    {"layers.1.engram.embed.weight", "F8_E4M3", {5000, 64}, 5000 * 64},
                    {"layers.1.engram.embed.scale", "F8_E8M0", {5000, 1}, 5000},
                    {"layers.1.ffn.gate.weight", "BF16", {16, 64}, 16 * 64 * 2}};
    const bench::step_cost c = bench::decode_step_cost(ckpt, 10, 4, 100);
    CHECK(c.attention_dense_bytes == 6 * 8 + 8 * (64 + 1) + 16 * 64 * 2);
    CHECK(c.weight_bytes_stored == c.attention_dense_bytes);
    CHECK(c.body_params == 16 * 64);  // lookups multiply nothing
    CHECK(c.cache_bytes == 100 * 10);
}

TEST_CASE("V3.2 reads the indexer keys of every token but latents only of the selected ones", "[bench]") {
    const bench::checkpoint_summary ckpt = bench::read_checkpoint_summary(k_golden + "v32-tiny");
    // 2 layers, kv_lora 136 + rope 64, indexer keys of 128, top 20.
    const auto short_ctx = bench::decode_step_cost(ckpt, 10);
    CHECK(short_ctx.attended == 10);
    CHECK(short_ctx.cache_bytes == 2 * 4 * ((136 + 64) * 10 + 128 * 10));
    const auto long_ctx = bench::decode_step_cost(ckpt, 1000);
    CHECK(long_ctx.attended == 20);
    CHECK(long_ctx.cache_bytes == 2 * 4 * ((136 + 64) * 20 + 128 * 1000));
    CHECK(long_ctx.weight_bytes() == short_ctx.weight_bytes());
    // Index keys cached in BF16: two bytes per key element, latents unchanged.
    const auto bf16_keys = bench::decode_step_cost(ckpt, 1000, 4, 0, 2);
    CHECK(bf16_keys.cache_bytes == 2 * (4 * (136 + 64) * 20 + 2 * 128 * 1000));
}

TEST_CASE("prefill FLOPs per token: weights, the LM head once, causal attention", "[bench]") {
    bench::step_cost c;
    c.body_params = 1000;
    c.head_params = 500;
    c.attention_flops_per_key = 10;
    CHECK(bench::prefill_flops_per_token(c, 9) == Approx(2000 + 1000.0 / 9 + 10 * 5));
    c.attend_cap = 3;  // DSA: at most 3 keys per query
    CHECK(bench::prefill_flops_per_token(c, 9) == Approx(2000 + 1000.0 / 9 + 10 * 3));
}
