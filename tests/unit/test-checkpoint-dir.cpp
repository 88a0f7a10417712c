#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "model/checkpoint.h"
#include "test-checkpoint-helpers.h"

using mneme::checkpoint;
using mneme::st_dtype;
using mneme_test::encode_safetensors;
using mneme_test::pattern_bytes;
using mneme_test::require_error;
using mneme_test::temp_dir;
using mneme_test::tensor_spec;
using mneme_test::write_bytes;
using mneme_test::write_text;

namespace {

const char* k_shard1 = "model-00001-of-00002.safetensors";
const char* k_shard2 = "model-00002-of-00002.safetensors";

// Two shards and an index, V3-style names.
void write_sharded(const temp_dir& dir) {
    write_bytes(dir.file(k_shard1),
                encode_safetensors({{"model.embed_tokens.weight", "BF16", {8, 4}, pattern_bytes(64, 1)},
                                    {"model.norm.weight", "BF16", {4}, pattern_bytes(8, 2)}}));
    write_bytes(
        dir.file(k_shard2),
        encode_safetensors({{"lm_head.weight", "BF16", {8, 4}, pattern_bytes(64, 3)},
                            {"model.layers.0.mlp.gate.e_score_correction_bias", "F32", {8}, pattern_bytes(32, 4)}}));
    write_text(dir.file("model.safetensors.index.json"),
               std::string(R"({"metadata":{"total_size":168},"weight_map":{)") + R"("model.embed_tokens.weight":")" +
                   k_shard1 + R"(",)" + R"("model.norm.weight":")" + k_shard1 + R"(",)" + R"("lm_head.weight":")" +
                   k_shard2 + R"(",)" + R"("model.layers.0.mlp.gate.e_score_correction_bias":")" + k_shard2 + R"("}})");
}

}  // namespace

TEST_CASE("checkpoint: sharded directory with an index", "[checkpoint]") {
    temp_dir dir;
    write_sharded(dir);
    auto ck = checkpoint::open(dir.path().string());

    CHECK(ck->size() == 4);
    CHECK(ck->files().size() == 2);
    CHECK(ck->total_bytes() == 64 + 8 + 64 + 32);

    const mneme::tensor_info& embed = ck->get("model.embed_tokens.weight");
    CHECK(embed.dtype == st_dtype::bf16);
    CHECK(embed.shape == std::vector<int64_t>{8, 4});
    CHECK(embed.numel() == 32);
    CHECK(embed.size_bytes == 64);
    CHECK_THAT(embed.file, Catch::EndsWith(k_shard1));
    const auto expected = pattern_bytes(64, 1);
    CHECK(std::memcmp(embed.data, expected.data(), 64) == 0);

    const mneme::tensor_info* bias = ck->find("model.layers.0.mlp.gate.e_score_correction_bias");
    REQUIRE(bias != nullptr);
    CHECK_THAT(bias->file, Catch::EndsWith(k_shard2));
    const auto bias_bytes = pattern_bytes(32, 4);
    CHECK(std::memcmp(bias->data, bias_bytes.data(), 32) == 0);
    CHECK(ck->find("model.layers.1.mlp.gate.weight") == nullptr);
    CHECK(ck->contains("lm_head.weight"));

    std::vector<std::string> names;
    for (const mneme::tensor_info& t : *ck) names.push_back(t.name);
    CHECK(names == std::vector<std::string>{"lm_head.weight", "model.embed_tokens.weight",
                                            "model.layers.0.mlp.gate.e_score_correction_bias", "model.norm.weight"});
}

TEST_CASE("checkpoint: the index is authoritative", "[checkpoint]") {
    temp_dir dir;
    write_sharded(dir);
    // A stray shard and a tensor that the index does not list are not part of the model.
    write_bytes(dir.file("stray.safetensors"),
                encode_safetensors({{"model.norm.weight", "F32", {4}, pattern_bytes(16)}}));
    write_bytes(
        dir.file(k_shard2),
        encode_safetensors({{"lm_head.weight", "BF16", {8, 4}, pattern_bytes(64, 3)},
                            {"model.layers.0.mlp.gate.e_score_correction_bias", "F32", {8}, pattern_bytes(32, 4)},
                            {"unlisted", "U8", {1}, {0}}}));
    auto ck = checkpoint::open(dir.path().string());
    CHECK(ck->size() == 4);
    CHECK(ck->find("unlisted") == nullptr);
    CHECK(ck->get("model.norm.weight").dtype == st_dtype::bf16);
}

TEST_CASE("checkpoint: single file and unindexed shards", "[checkpoint]") {
    temp_dir dir;
    write_bytes(dir.file("model.safetensors"),
                encode_safetensors({{"embed.weight", "BF16", {4, 4}, pattern_bytes(32)},
                                    {"layers.0.ffn.gate.tid2eid", "I64", {4, 2}, pattern_bytes(64)}}));
    write_text(dir.file("config.json"), "{}");
    auto ck = checkpoint::open(dir.path().string());
    CHECK(ck->size() == 2);
    CHECK(ck->expect("layers.0.ffn.gate.tid2eid", {st_dtype::i64, st_dtype::i32}, {4, 2}).size_bytes == 64);

    // A second file, reached through a symlink as in the Hugging Face cache.
    temp_dir blobs;
    write_bytes(blobs.file("blob"), encode_safetensors({{"head.weight", "BF16", {4, 4}, pattern_bytes(32)}}));
    std::filesystem::create_symlink(blobs.file("blob"), dir.file("model-extra.safetensors"));
    ck = checkpoint::open(dir.path().string());
    CHECK(ck->size() == 3);
    CHECK(ck->files().size() == 2);
}

TEST_CASE("checkpoint: missing or empty directory", "[checkpoint]") {
    temp_dir dir;
    require_error([&] { (void)checkpoint::open(dir.file("absent")); }, MNEME_ERROR_FILE_NOT_FOUND,
                  {"absent", "does not exist"});
    require_error([&] { (void)checkpoint::open(dir.path().string()); }, MNEME_ERROR_FILE_NOT_FOUND,
                  {dir.path().string(), "no model.safetensors.index.json and no *.safetensors"});
    write_text(dir.file("plain.txt"), "x");
    require_error([&] { (void)checkpoint::open(dir.file("plain.txt")); }, MNEME_ERROR_FILE_NOT_FOUND,
                  {"plain.txt", "not a checkpoint directory"});
}

TEST_CASE("checkpoint: a tensor in two files", "[checkpoint]") {
    temp_dir dir;
    write_bytes(dir.file(k_shard1), encode_safetensors({{"model.norm.weight", "BF16", {4}, pattern_bytes(8)}}));
    write_bytes(dir.file(k_shard2), encode_safetensors({{"model.norm.weight", "BF16", {4}, pattern_bytes(8)}}));
    require_error([&] { (void)checkpoint::open(dir.path().string()); }, MNEME_ERROR_INVALID_MODEL,
                  {"'model.norm.weight'", k_shard1, k_shard2});
}

TEST_CASE("checkpoint: a bad shard is named", "[checkpoint]") {
    temp_dir dir;
    write_bytes(dir.file(k_shard1), encode_safetensors({{"model.norm.weight", "BF16", {4}, pattern_bytes(8)}}));
    write_bytes(dir.file(k_shard2), {1, 2, 3});
    require_error([&] { (void)checkpoint::open(dir.path().string()); }, MNEME_ERROR_INVALID_MODEL, {k_shard2});
}

TEST_CASE("checkpoint: index errors", "[checkpoint]") {
    const std::string index = "model.safetensors.index.json";

    SECTION("missing shard named in the index") {
        temp_dir dir;
        write_sharded(dir);
        std::filesystem::remove(dir.file(k_shard2));
        require_error([&] { (void)checkpoint::open(dir.path().string()); }, MNEME_ERROR_FILE_NOT_FOUND,
                      {index, std::string("'") + k_shard2 + "'", "does not exist"});
    }
    SECTION("index names a tensor absent from its shard") {
        temp_dir dir;
        write_sharded(dir);
        write_bytes(dir.file(k_shard2), encode_safetensors({{"lm_head.weight", "BF16", {8, 4}, pattern_bytes(64)}}));
        require_error([&] { (void)checkpoint::open(dir.path().string()); }, MNEME_ERROR_INVALID_MODEL,
                      {k_shard2, "'model.layers.0.mlp.gate.e_score_correction_bias'", "is missing", index});
    }
    SECTION("malformed index files") {
        struct bad_index {
            std::string text;
            std::string part;
        };
        const std::vector<bad_index> cases = {
            {"not json", "not valid JSON"},
            {"[]", "must be a JSON object"},
            {R"({"metadata":{}})", "field 'weight_map' is missing"},
            {R"({"weight_map":[]})", "field 'weight_map' must be an object"},
            {R"({"weight_map":{}})", "field 'weight_map' is empty"},
            {R"({"weight_map":{"a":3}})", "'a' must be a file name string"},
            {R"({"weight_map":{"a":"../model.safetensors"}})", "not a plain file name"},
            {R"({"weight_map":{"a":"/etc/passwd"}})", "not a plain file name"},
            {R"({"weight_map":{"a":"x.safetensors","a":"y.safetensors"}})", "appears twice"},
        };
        for (const bad_index& c : cases) {
            INFO(c.text);
            temp_dir dir;
            write_bytes(dir.file("model.safetensors"), encode_safetensors({{"a", "U8", {1}, {0}}}));
            write_text(dir.file(index), c.text);
            require_error([&] { (void)checkpoint::open(dir.path().string()); }, MNEME_ERROR_INVALID_MODEL,
                          {index, c.part});
        }
    }
}

TEST_CASE("checkpoint: get and expect report file, tensor, expected and actual", "[checkpoint]") {
    temp_dir dir;
    write_sharded(dir);
    auto ck = checkpoint::open(dir.path().string());

    require_error([&] { (void)ck->get("model.layers.7.self_attn.q_a_proj.weight"); }, MNEME_ERROR_INVALID_MODEL,
                  {"'model.layers.7.self_attn.q_a_proj.weight'", "missing"});
    require_error([&] { (void)ck->expect("model.norm.weight", st_dtype::f32, {4}); }, MNEME_ERROR_INVALID_MODEL,
                  {k_shard1, "'model.norm.weight'", "dtype is BF16", "expected F32"});
    require_error(
        [&] {
            (void)ck->expect("model.norm.weight", {st_dtype::f32, st_dtype::f16}, {4});
        },
        MNEME_ERROR_INVALID_MODEL, {"expected F16 or F32"});
    require_error(
        [&] {
            (void)ck->expect("lm_head.weight", st_dtype::bf16, {4, 8});
        },
        MNEME_ERROR_INVALID_MODEL, {k_shard2, "'lm_head.weight'", "shape is [8, 4]", "expected [4, 8]"});
    require_error(
        [&] {
            (void)ck->expect("lm_head.weight", st_dtype::bf16, {8, 4, 1});
        },
        MNEME_ERROR_INVALID_MODEL, {"expected [8, 4, 1]"});

    CHECK(ck->expect("lm_head.weight", {st_dtype::bf16, st_dtype::f32}, {8, 4}).name == "lm_head.weight");
    const std::vector<int64_t> shape{4};
    CHECK(ck->expect("model.norm.weight", st_dtype::bf16, shape).size_bytes == 8);
    CHECK(ck->expect_optional("model.layers.0.self_attn.indexer.k_norm.bias", st_dtype::bf16, {128}) == nullptr);
    CHECK(ck->expect_optional("model.norm.weight", st_dtype::bf16, {4}) != nullptr);
    require_error([&] { (void)ck->expect_optional("model.norm.weight", st_dtype::bf16, {5}); },
                  MNEME_ERROR_INVALID_MODEL, {"'model.norm.weight'", "expected [5]"});
}
