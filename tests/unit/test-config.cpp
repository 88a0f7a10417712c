#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <vector>

#include "model/config.h"
#include "test-checkpoint-helpers.h"

using mneme::model_arch;
using mneme::model_config;
using mneme::parse_model_config;
using mneme_test::require_error;

namespace {

// config.json as field -> raw JSON text, so tests can replace or drop single fields.
class config_json {
public:
    config_json& set(const std::string& key, const std::string& raw) {
        fields_[key] = raw;
        return *this;
    }
    config_json& erase(const std::string& key) {
        fields_.erase(key);
        return *this;
    }
    std::string text() const {
        std::string s = "{";
        for (const auto& [k, v] : fields_) s += (s.size() > 1 ? ",\n\"" : "\n\"") + k + "\": " + v;
        return s + "\n}";
    }

private:
    std::map<std::string, std::string> fields_;
};

// The tiny V3 shape set "a" of tools/reference/tiny_configs.py, with every published field.
config_json v3_config() {
    config_json c;
    c.set("architectures", R"(["DeepseekV3ForCausalLM"])")
        .set("attention_bias", "false")
        .set("attention_dropout", "0.0")
        .set("auto_map", R"({"AutoConfig": "configuration_deepseek.DeepseekV3Config"})")
        .set("aux_loss_alpha", "0.001")
        .set("bos_token_id", "0")
        .set("eos_token_id", "1")
        .set("ep_size", "1")
        .set("first_k_dense_replace", "1")
        .set("hidden_act", "\"silu\"")
        .set("hidden_size", "160")
        .set("initializer_range", "0.02")
        .set("intermediate_size", "224")
        .set("kv_lora_rank", "80")
        .set("max_position_embeddings", "163840")
        .set("model_type", "\"deepseek_v3\"")
        .set("moe_intermediate_size", "16")
        .set("moe_layer_freq", "1")
        .set("n_group", "4")
        .set("n_routed_experts", "16")
        .set("n_shared_experts", "1")
        .set("norm_topk_prob", "true")
        .set("num_attention_heads", "4")
        .set("num_experts_per_tok", "4")
        .set("num_hidden_layers", "3")
        .set("num_key_value_heads", "4")
        .set("num_nextn_predict_layers", "1")
        .set("pretraining_tp", "1")
        .set("q_lora_rank", "96")
        .set("qk_nope_head_dim", "16")
        .set("qk_rope_head_dim", "32")
        .set(
            "quantization_config",
            R"({"activation_scheme": "dynamic", "fmt": "e4m3", "quant_method": "fp8", "weight_block_size": [128, 128]})")
        .set("rms_norm_eps", "1e-06")
        .set("rope_scaling", R"({"beta_fast": 32, "beta_slow": 1, "factor": 40, "mscale": 1.0, "mscale_all_dim": 1.0,)"
                             R"( "original_max_position_embeddings": 4096, "type": "yarn"})")
        .set("rope_theta", "10000")
        .set("routed_scaling_factor", "2.5")
        .set("scoring_func", "\"sigmoid\"")
        .set("seq_aux", "true")
        .set("tie_word_embeddings", "false")
        .set("topk_group", "2")
        .set("topk_method", "\"noaux_tc\"")
        .set("torch_dtype", "\"bfloat16\"")
        .set("transformers_version", "\"4.33.1\"")
        .set("use_cache", "true")
        .set("v_head_dim", "32")
        .set("vocab_size", "256");
    return c;
}

config_json v32_config() {
    config_json c = v3_config();
    c.set("architectures", R"(["DeepseekV32ForCausalLM"])")
        .set("model_type", "\"deepseek_v32\"")
        .set("hidden_size", "176")
        .set("qk_rope_head_dim", "64")
        .set("index_head_dim", "128")
        .set("index_n_heads", "4")
        .set("index_topk", "24")
        .set("quantization_config",
             R"({"activation_scheme": "dynamic", "fmt": "e4m3", "quant_method": "fp8", "scale_fmt": "ue8m0",)"
             R"( "weight_block_size": [128, 128]})");
    return c;
}

// Shaped like the published V4-Pro config (SPEC.md §6.2), at toy size.
config_json v4_config() {
    config_json c;
    c.set("architectures", R"(["DeepseekV4ForCausalLM"])")
        .set("model_type", "\"deepseek_v4\"")
        .set("attention_bias", "false")
        .set("bos_token_id", "0")
        .set("eos_token_id", "1")
        .set("hidden_act", "\"silu\"")
        .set("hidden_size", "256")
        .set("num_hidden_layers", "3")
        .set("num_attention_heads", "4")
        .set("num_key_value_heads", "1")
        .set("head_dim", "128")
        .set("qk_rope_head_dim", "64")
        .set("q_lora_rank", "96")
        .set("o_groups", "2")
        .set("o_lora_rank", "64")
        .set("n_routed_experts", "8")
        .set("n_shared_experts", "1")
        .set("num_experts_per_tok", "2")
        .set("moe_intermediate_size", "64")
        .set("scoring_func", "\"sqrtsoftplus\"")
        .set("topk_method", "\"noaux_tc\"")
        .set("norm_topk_prob", "true")
        .set("routed_scaling_factor", "1.5")
        .set("swiglu_limit", "10.0")
        .set("num_hash_layers", "1")
        .set("index_n_heads", "2")
        .set("index_head_dim", "64")
        .set("index_topk", "8")
        .set("sliding_window", "16")
        .set("compress_rope_theta", "160000")
        .set("compress_ratios", "[0, 4, 128, 0]")
        .set("rope_theta", "10000")
        .set(
            "rope_scaling",
            R"({"type": "yarn", "factor": 16, "original_max_position_embeddings": 65536, "beta_fast": 32, "beta_slow": 1})")
        .set("max_position_embeddings", "1048576")
        .set("hc_mult", "4")
        .set("hc_sinkhorn_iters", "20")
        .set("hc_eps", "1e-06")
        .set("rms_norm_eps", "1e-06")
        .set("num_nextn_predict_layers", "1")
        .set("expert_dtype", "\"fp4\"")
        .set("quantization_config",
             R"({"activation_scheme": "dynamic", "fmt": "e4m3", "quant_method": "fp8", "scale_fmt": "ue8m0",)"
             R"( "weight_block_size": [128, 128]})")
        .set("tie_word_embeddings", "false")
        .set("vocab_size", "320");
    return c;
}

config_json v4_engram_config() {
    config_json c = v4_config();
    c.set("engram_layer_ids", "[1, 2]")
        .set("engram_max_ngram_size", "3")
        .set("engram_n_heads", "2")
        .set("engram_head_dim", "32")
        .set("engram_vocab_size", "[101, 97]")
        .set("engram_num_embeddings", "[412, 460]")
        .set("engram_pad_token_id", "2")
        .set("engram_seed", "0")
        .set("engram_compressed_vocab_size", "300")
        .set("engram_conv_kernel", "4");
    return c;
}

void require_bad(const config_json& c, mneme_status status, std::initializer_list<std::string> parts) {
    require_error([&] { (void)parse_model_config(c.text()); }, status, {"config.json"});
    require_error([&] { (void)parse_model_config(c.text()); }, status, parts);
}

void require_invalid(const config_json& c, std::initializer_list<std::string> parts) {
    require_bad(c, MNEME_ERROR_INVALID_MODEL, parts);
}

}  // namespace

TEST_CASE("config: DeepSeek-V3", "[config]") {
    const model_config c = parse_model_config(v3_config().text());
    CHECK(c.arch == model_arch::deepseek_v3);
    CHECK(mneme::model_arch_name(c.arch) == "DeepSeek-V3");
    CHECK(c.model_type == "deepseek_v3");
    CHECK(c.vocab_size == 256);
    CHECK(c.hidden_size == 160);
    CHECK(c.num_hidden_layers == 3);
    CHECK(c.num_nextn_predict_layers == 1);
    CHECK(c.total_layers() == 4);
    CHECK(c.num_attention_heads == 4);
    CHECK(c.q_lora_rank == 96);
    CHECK(c.kv_lora_rank == 80);
    CHECK(c.qk_nope_head_dim == 16);
    CHECK(c.qk_rope_head_dim == 32);
    CHECK(c.v_head_dim == 32);
    CHECK(c.intermediate_size == 224);
    CHECK(c.moe_intermediate_size == 16);
    CHECK(c.first_k_dense_replace == 1);
    CHECK(c.moe_layer_freq == 1);
    CHECK(c.n_routed_experts == 16);
    CHECK(c.n_shared_experts == 1);
    CHECK(c.num_experts_per_tok == 4);
    CHECK(c.n_group == 4);
    CHECK(c.topk_group == 2);
    CHECK(c.scoring_func == mneme::moe_scoring::sigmoid);
    CHECK(mneme::moe_scoring_name(c.scoring_func) == "sigmoid");
    CHECK(c.topk_method == "noaux_tc");
    CHECK(c.norm_topk_prob);
    CHECK(c.routed_scaling_factor == 2.5);
    CHECK(c.rms_norm_eps == 1e-6);
    CHECK(c.rope_theta == 10000.0);
    CHECK(c.rope_scaling.yarn);
    CHECK(c.rope_scaling.factor == 40.0);
    CHECK(c.rope_scaling.original_max_position_embeddings == 4096);
    CHECK(c.rope_scaling.beta_fast == 32.0);
    CHECK(c.rope_scaling.beta_slow == 1.0);
    CHECK(c.rope_scaling.mscale == 1.0);
    CHECK(c.rope_scaling.mscale_all_dim == 1.0);
    CHECK(c.quantization.present);
    CHECK(c.quantization.quant_method == "fp8");
    CHECK_FALSE(c.quantization.scale_ue8m0);
    CHECK(c.quantization.block_rows == 128);
    CHECK(c.quantization.block_cols == 128);
    CHECK_FALSE(c.tie_word_embeddings);
    CHECK(c.bos_token_id == 0);
    CHECK(c.eos_token_ids == std::vector<int64_t>{1});
    CHECK_FALSE(c.has_indexer());
    CHECK_FALSE(c.is_v4());
    CHECK(c.hc_mult == 1);
    CHECK(c.swiglu_limit == 0.0);
    CHECK(c.num_hash_layers == 0);
    CHECK_FALSE(c.engram.enabled());
}

TEST_CASE("config: optional fields and their defaults", "[config]") {
    SECTION("rope_scaling defaults") {
        auto c = v3_config().set("rope_scaling",
                                 R"({"type": "yarn", "factor": 40, "original_max_position_embeddings": 4096})");
        const model_config m = parse_model_config(c.text());
        CHECK(m.rope_scaling.beta_fast == 32.0);
        CHECK(m.rope_scaling.beta_slow == 1.0);
        CHECK(m.rope_scaling.mscale == 1.0);
        CHECK(m.rope_scaling.mscale_all_dim == 1.0);
    }
    SECTION("rope_type spelling, default type, null and absent rope_scaling") {
        CHECK(parse_model_config(v3_config()
                                     .set("rope_scaling", R"({"rope_type": "yarn", "factor": 4,)"
                                                          R"( "original_max_position_embeddings": 4096})")
                                     .text())
                  .rope_scaling.yarn);
        CHECK_FALSE(
            parse_model_config(v3_config().set("rope_scaling", R"({"type": "default"})").text()).rope_scaling.yarn);
        CHECK_FALSE(parse_model_config(v3_config().set("rope_scaling", "null").text()).rope_scaling.yarn);
        CHECK_FALSE(parse_model_config(v3_config().erase("rope_scaling").text()).rope_scaling.yarn);
    }
    SECTION("no quantization_config means unquantised weights") {
        CHECK_FALSE(parse_model_config(v3_config().erase("quantization_config").text()).quantization.present);
        CHECK_FALSE(parse_model_config(v3_config().set("quantization_config", "null").text()).quantization.present);
    }
    SECTION("other weight blocks") {
        const auto m = parse_model_config(
            v3_config().set("quantization_config", R"({"quant_method": "fp8", "weight_block_size": [64, 32]})").text());
        CHECK(m.quantization.block_rows == 64);
        CHECK(m.quantization.block_cols == 32);
    }
    SECTION("q_lora_rank null means no query compression") {
        CHECK(parse_model_config(v3_config().set("q_lora_rank", "null").text()).q_lora_rank == 0);
    }
    SECTION("fields with defined absence") {
        auto c = v3_config();
        for (const char* f : {"num_nextn_predict_layers", "moe_layer_freq", "norm_topk_prob", "topk_method",
                              "tie_word_embeddings", "bos_token_id", "eos_token_id", "max_position_embeddings",
                              "architectures", "hidden_act", "num_key_value_heads"}) {
            c.erase(f);
        }
        const model_config m = parse_model_config(c.text());
        CHECK(m.num_nextn_predict_layers == 0);
        CHECK(m.moe_layer_freq == 1);
        CHECK(m.norm_topk_prob);
        CHECK(m.topk_method == "noaux_tc");
        CHECK(m.bos_token_id == -1);
        CHECK(m.eos_token_ids.empty());
    }
    SECTION("eos as a list, unknown fields ignored") {
        const auto m = parse_model_config(
            v3_config().set("eos_token_id", "[1, 2]").set("some_future_field", R"({"x": [1]})").text());
        CHECK(m.eos_token_ids == std::vector<int64_t>{1, 2});
    }
}

TEST_CASE("config: DeepSeek-V3.2", "[config]") {
    const model_config c = parse_model_config(v32_config().text());
    CHECK(c.arch == model_arch::deepseek_v32);
    CHECK(mneme::model_arch_name(c.arch) == "DeepSeek-V3.2");
    CHECK(c.has_indexer());
    CHECK(c.index_n_heads == 4);
    CHECK(c.index_head_dim == 128);
    CHECK(c.index_topk == 24);
    CHECK(c.quantization.scale_ue8m0);

    require_invalid(v32_config().erase("index_topk"), {"field 'index_topk' is missing (required for deepseek_v32)"});
    require_invalid(v32_config().set("index_head_dim", "96"), {"'index_head_dim'", "power of two"});
    require_invalid(v32_config().set("index_head_dim", "32"),
                    {"'index_head_dim' is 32, smaller than qk_rope_head_dim (64)"});
    require_invalid(v32_config().set("index_n_heads", "0"), {"'index_n_heads'"});
}

TEST_CASE("config: DeepSeek-V4", "[config]") {
    const model_config c = parse_model_config(v4_config().text());
    CHECK(c.arch == model_arch::deepseek_v4);
    CHECK(mneme::model_arch_name(c.arch) == "DeepSeek-V4");
    CHECK(c.is_v4());
    CHECK(c.has_indexer());
    CHECK(c.head_dim == 128);
    CHECK(c.o_groups == 2);
    CHECK(c.o_lora_rank == 64);
    CHECK(c.sliding_window == 16);
    CHECK(c.compress_ratios == std::vector<int64_t>{0, 4, 128, 0});
    CHECK(c.compress_rope_theta == 160000.0);
    CHECK(c.swiglu_limit == 10.0);
    CHECK(c.num_hash_layers == 1);
    CHECK(c.hc_mult == 4);
    CHECK(c.hc_sinkhorn_iters == 20);
    CHECK(c.hc_eps == 1e-6);
    CHECK(c.expert_dtype == mneme::expert_storage::fp4);
    CHECK(c.scoring_func == mneme::moe_scoring::sqrtsoftplus);
    CHECK(c.routed_scaling_factor == 1.5);
    CHECK(c.n_group == 1);
    CHECK(c.topk_group == 1);
    CHECK(c.rope_scaling.yarn);
    CHECK(c.rope_scaling.factor == 16.0);
    CHECK(c.rope_scaling.original_max_position_embeddings == 65536);
    CHECK(c.quantization.scale_ue8m0);
    CHECK(c.kv_lora_rank == 0);  // MLA fields are not read for V4
    CHECK_FALSE(c.engram.enabled());

    CHECK(parse_model_config(v4_config().set("n_group", "null").set("topk_group", "null").text()).n_group == 1);
    CHECK(parse_model_config(v4_config().erase("expert_dtype").text()).expert_dtype == mneme::expert_storage::fp8);
    CHECK_FALSE(parse_model_config(v4_config().set("engram_layer_ids", "[]").text()).engram.enabled());
}

TEST_CASE("config: DeepSeek-V4 with Engram", "[config]") {
    const model_config c = parse_model_config(v4_engram_config().text());
    CHECK(c.arch == model_arch::deepseek_v4_engram);
    CHECK(mneme::model_arch_name(c.arch) == "DeepSeek-V4 + Engram");
    CHECK(c.is_v4());
    const mneme::engram_config& e = c.engram;
    CHECK(e.enabled());
    CHECK(e.layer_ids == std::vector<int64_t>{1, 2});
    CHECK(e.max_ngram_size == 3);
    CHECK(e.n_heads == 2);
    CHECK(e.head_dim == 32);
    CHECK(e.embedding_width() == 128);
    CHECK(e.vocab_size == std::vector<int64_t>{101, 97});
    CHECK(e.num_embeddings == std::vector<int64_t>{412, 460});
    CHECK(e.pad_token_id == 2);
    CHECK(e.seed == 0);
    CHECK(e.compressed_vocab_size == 300);
    CHECK(e.conv_kernel == 4);
    CHECK(e.conv_dilation == 3);  // defaults to engram_max_ngram_size
    CHECK(e.conv_norm_eps == 1e-5);

    const auto one_int = parse_model_config(v4_engram_config().set("engram_vocab_size", "100").text());
    CHECK(one_int.engram.vocab_size == std::vector<int64_t>{100, 100});
    const auto explicit_conv = parse_model_config(
        v4_engram_config().set("engram_conv_dilation", "2").set("engram_conv_norm_eps", "1e-6").text());
    CHECK(explicit_conv.engram.conv_dilation == 2);
    CHECK(explicit_conv.engram.conv_norm_eps == 1e-6);
}

TEST_CASE("config: not a config", "[config]") {
    require_error([] { (void)parse_model_config("{\"model_type\": "); }, MNEME_ERROR_INVALID_MODEL,
                  {"config.json", "not valid JSON"});
    require_error([] { (void)parse_model_config("[]"); }, MNEME_ERROR_INVALID_MODEL,
                  {"config.json", "must be a JSON object"});
    require_error([] { (void)parse_model_config(R"({"vocab_size": 1, "vocab_size": 2})"); }, MNEME_ERROR_INVALID_MODEL,
                  {"config.json", "'vocab_size'", "appears twice"});
    require_invalid(v3_config().erase("model_type"), {"field 'model_type' is missing"});
    require_bad(v3_config().set("model_type", "\"llama\""), MNEME_ERROR_UNSUPPORTED, {"'model_type'", "'llama'"});
    require_bad(v3_config().set("model_type", "\"deepseek_v41\""), MNEME_ERROR_UNSUPPORTED, {"'model_type'"});
}

TEST_CASE("config: missing required fields name the field and family", "[config]") {
    for (const char* f : {"vocab_size",
                          "hidden_size",
                          "num_hidden_layers",
                          "num_attention_heads",
                          "qk_rope_head_dim",
                          "rms_norm_eps",
                          "rope_theta",
                          "kv_lora_rank",
                          "q_lora_rank",
                          "qk_nope_head_dim",
                          "v_head_dim",
                          "intermediate_size",
                          "first_k_dense_replace",
                          "n_routed_experts",
                          "n_shared_experts",
                          "num_experts_per_tok",
                          "moe_intermediate_size",
                          "n_group",
                          "topk_group",
                          "scoring_func",
                          "routed_scaling_factor"}) {
        INFO(f);
        require_invalid(v3_config().erase(f), {std::string("field '") + f + "' is missing (required for deepseek_v3)"});
    }
    require_invalid(v3_config().set("kv_lora_rank", "null"), {"field 'kv_lora_rank' is null"});
    for (const char* f : {"head_dim", "o_groups", "o_lora_rank", "sliding_window", "compress_ratios",
                          "compress_rope_theta", "swiglu_limit", "num_hash_layers", "hc_mult", "hc_sinkhorn_iters",
                          "hc_eps", "index_n_heads", "index_head_dim", "index_topk", "q_lora_rank"}) {
        INFO(f);
        require_invalid(v4_config().erase(f), {std::string("field '") + f + "' is missing (required for deepseek_v4)"});
    }
    for (const char* f :
         {"engram_max_ngram_size", "engram_n_heads", "engram_head_dim", "engram_vocab_size", "engram_num_embeddings",
          "engram_pad_token_id", "engram_seed", "engram_compressed_vocab_size", "engram_conv_kernel"}) {
        INFO(f);
        require_invalid(v4_engram_config().erase(f), {std::string("field '") + f + "' is missing"});
    }
    require_invalid(v3_config().set("rope_scaling", R"({"type": "yarn", "original_max_position_embeddings": 4096})"),
                    {"field 'rope_scaling.factor' is missing"});
    require_invalid(v3_config().set("rope_scaling", R"({"type": "yarn", "factor": 40})"),
                    {"field 'rope_scaling.original_max_position_embeddings' is missing"});
    require_invalid(v3_config().set("rope_scaling", R"({"factor": 40})"), {"field 'rope_scaling.type' is missing"});
    require_invalid(v3_config().set("quantization_config", R"({"quant_method": "fp8"})"),
                    {"field 'quantization_config.weight_block_size' is missing"});
}

TEST_CASE("config: wrong types", "[config]") {
    require_invalid(v3_config().set("hidden_size", "\"160\""), {"'hidden_size'", "must be an integer, got a string"});
    require_invalid(v3_config().set("hidden_size", "160.0"), {"'hidden_size'", "must be an integer"});
    require_invalid(v3_config().set("hidden_size", "18446744073709551615"), {"'hidden_size'", "between 1 and"});
    require_invalid(v3_config().set("rope_theta", "\"1e4\""), {"'rope_theta'", "must be a number"});
    require_invalid(v3_config().set("norm_topk_prob", "1"), {"'norm_topk_prob'", "must be true or false"});
    require_invalid(v3_config().set("scoring_func", "1"), {"'scoring_func'", "must be a string"});
    require_invalid(v3_config().set("rope_scaling", "[]"), {"'rope_scaling'", "must be an object"});
    require_invalid(v3_config().set("quantization_config", "\"fp8\""), {"'quantization_config'", "must be an object"});
    require_invalid(v3_config().set("rope_scaling", R"({"type": "yarn", "factor": "40",)"
                                                    R"( "original_max_position_embeddings": 4096})"),
                    {"'rope_scaling.factor'", "must be a number"});
    require_invalid(v3_config().set("eos_token_id", "\"</s>\""), {"'eos_token_id'", "must be an integer"});
    require_invalid(v4_config().set("compress_ratios", "4"), {"'compress_ratios'", "must be a list"});
    require_invalid(v4_config().set("compress_ratios", "[0, 4, \"x\", 0]"), {"'compress_ratios[2]'"});
    require_invalid(v4_engram_config().set("engram_vocab_size", "\"big\""),
                    {"'engram_vocab_size'", "an integer or a list"});
}

TEST_CASE("config: values out of range", "[config]") {
    require_invalid(v3_config().set("hidden_size", "0"), {"'hidden_size' is 0"});
    require_invalid(v3_config().set("vocab_size", "16777217"), {"'vocab_size'", "between 1 and 16777216"});
    require_invalid(v3_config().set("hidden_size", "65537"), {"'hidden_size'"});
    require_invalid(v3_config().set("num_hidden_layers", "100000"), {"'num_hidden_layers'"});
    require_invalid(v3_config().set("num_attention_heads", "-4"), {"'num_attention_heads'"});
    require_invalid(v3_config().set("qk_rope_head_dim", "33"), {"'qk_rope_head_dim'", "even"});
    require_invalid(v3_config().set("rms_norm_eps", "0"), {"'rms_norm_eps'", "positive"});
    require_invalid(v3_config().set("rope_theta", "-1"), {"'rope_theta'", "positive"});
    require_invalid(v3_config().set("routed_scaling_factor", "0"), {"'routed_scaling_factor'"});
    require_invalid(v3_config().set("first_k_dense_replace", "4"),
                    {"'first_k_dense_replace' is 4, more than num_hidden_layers (3)"});
    require_invalid(v3_config().set("num_nextn_predict_layers", "100"), {"'num_nextn_predict_layers'"});
    require_invalid(v3_config().set("bos_token_id", "256"), {"'bos_token_id'"});
    require_invalid(v3_config().set("rope_scaling", R"({"type": "yarn", "factor": 0,)"
                                                    R"( "original_max_position_embeddings": 4096})"),
                    {"'rope_scaling.factor'", "positive"});
    require_invalid(v3_config().set("quantization_config", R"({"quant_method": "fp8", "weight_block_size": [128]})"),
                    {"'quantization_config.weight_block_size'", "expected 2"});
    require_invalid(v3_config().set("quantization_config", R"({"quant_method": "fp8", "weight_block_size": [128, 0]})"),
                    {"'quantization_config.weight_block_size[1]'"});
}

TEST_CASE("config: expert routing must be satisfiable", "[config]") {
    require_invalid(v3_config().set("num_experts_per_tok", "17"),
                    {"'num_experts_per_tok' is 17, more than n_routed_experts (16)"});
    require_invalid(v3_config().set("topk_group", "5"), {"'topk_group' is 5, more than n_group (4)"});
    require_invalid(v3_config().set("n_group", "3"), {"'n_group'", "does not divide n_routed_experts (16)"});
    require_invalid(v3_config().set("n_group", "16").set("topk_group", "4"), {"'n_group'", "top-2"});
    require_invalid(v3_config().set("num_experts_per_tok", "9"), {"'num_experts_per_tok'", "topk_group"});
    CHECK(parse_model_config(v3_config().set("num_experts_per_tok", "8").text()).num_experts_per_tok == 8);
    CHECK(parse_model_config(v3_config().set("n_group", "1").set("topk_group", "1").text()).n_group == 1);
}

TEST_CASE("config: unsupported variants", "[config]") {
    require_bad(v3_config().set("scoring_func", "\"tanh\""), MNEME_ERROR_UNSUPPORTED, {"'scoring_func'", "'tanh'"});
    require_bad(v3_config().set("rope_scaling", R"({"type": "linear", "factor": 2})"), MNEME_ERROR_UNSUPPORTED,
                {"'rope_scaling.type'", "'linear'"});
    require_bad(v3_config().set("quantization_config", R"({"quant_method": "gptq", "weight_block_size": [128, 128]})"),
                MNEME_ERROR_UNSUPPORTED, {"'quantization_config.quant_method'"});
    require_bad(v3_config().set("quantization_config",
                                R"({"quant_method": "fp8", "fmt": "e5m2", "weight_block_size": [128, 128]})"),
                MNEME_ERROR_UNSUPPORTED, {"'quantization_config.fmt'"});
    require_bad(v3_config().set("quantization_config", R"({"quant_method": "fp8", "activation_scheme": "static",)"
                                                       R"( "weight_block_size": [128, 128]})"),
                MNEME_ERROR_UNSUPPORTED, {"'quantization_config.activation_scheme'"});
    require_bad(v3_config().set("quantization_config", R"({"quant_method": "fp8", "scale_fmt": "fp32",)"
                                                       R"( "weight_block_size": [128, 128]})"),
                MNEME_ERROR_UNSUPPORTED, {"'quantization_config.scale_fmt'"});
    require_bad(v4_config().set("expert_dtype", "\"int4\""), MNEME_ERROR_UNSUPPORTED, {"'expert_dtype'"});
    require_bad(v3_config().set("engram_layer_ids", "[1]"), MNEME_ERROR_UNSUPPORTED,
                {"'engram_layer_ids'", "deepseek_v4"});
}

TEST_CASE("config: V4 consistency", "[config]") {
    require_invalid(
        v4_config().set("compress_ratios", "[0, 4, 128]"),
        {"'compress_ratios' has 3 entries, expected 4", "num_hidden_layers 3", "num_nextn_predict_layers 1"});
    require_invalid(v4_config().set("num_nextn_predict_layers", "0"), {"'compress_ratios' has 4 entries, expected 3"});
    require_invalid(v4_config().set("compress_ratios", "[0, -4, 128, 0]"), {"'compress_ratios[1]'"});
    require_invalid(v4_config().set("o_groups", "3"), {"'o_groups'", "does not divide num_attention_heads (4)"});
    require_invalid(v4_config().set("head_dim", "64"), {"'head_dim' is 64, must be larger than qk_rope_head_dim (64)"});
    require_invalid(v4_config().set("hidden_size", "240"), {"'hidden_size'", "multiple of 32 for fp4"});
    require_invalid(v4_config().set("moe_intermediate_size", "48"), {"'moe_intermediate_size'", "multiple of 32"});
    CHECK(parse_model_config(v4_config().set("hidden_size", "240").set("expert_dtype", "\"fp8\"").text()).hidden_size ==
          240);
    require_invalid(v4_config().set("num_hash_layers", "4"),
                    {"'num_hash_layers' is 4, more than num_hidden_layers (3)"});
    require_invalid(v4_config().set("hc_mult", "0"), {"'hc_mult'"});
    require_invalid(v4_config().set("hc_mult", "17"), {"'hc_mult'"});
    require_invalid(v4_config().set("hc_eps", "-1"), {"'hc_eps'"});
    require_invalid(v4_config().set("swiglu_limit", "-1"), {"'swiglu_limit'"});
    require_invalid(v4_config().set("sliding_window", "0"), {"'sliding_window'"});
    require_invalid(v4_config().set("index_head_dim", "48"), {"'index_head_dim'"});
    require_invalid(v4_config().set("compress_rope_theta", "0"), {"'compress_rope_theta'"});
    require_invalid(v4_config().set("n_group", "3"), {"'n_group'"});
    require_invalid(v4_config().set("n_group", "9"), {"'n_group' is 9, more than n_routed_experts (8)"});
}

TEST_CASE("config: Engram consistency", "[config]") {
    require_invalid(v4_engram_config().set("engram_vocab_size", "[101]"),
                    {"'engram_vocab_size' has 1 entries, expected engram_max_ngram_size - 1 = 2"});
    require_invalid(v4_engram_config().set("engram_num_embeddings", "[412]"),
                    {"'engram_num_embeddings' has 1 entries", "one per Engram layer (2)"});
    require_invalid(v4_engram_config().set("engram_num_embeddings", "[412, 100]"),
                    {"'engram_num_embeddings[1]' is 100", "396"});
    require_invalid(v4_engram_config().set("engram_head_dim", "48"), {"'engram_head_dim'", "multiple of 32"});
    require_invalid(v4_engram_config().set("engram_n_heads", "3"), {"(N-1)·K·d_e", "192", "multiple of 128"});
    require_invalid(v4_engram_config().set("engram_layer_ids", "[1, 1]"), {"'engram_layer_ids'", "twice"});
    require_invalid(v4_engram_config().set("engram_layer_ids", "[1, 3]"), {"'engram_layer_ids[1]'", "between 0 and 2"});
    require_invalid(v4_engram_config().set("engram_max_ngram_size", "1"), {"'engram_max_ngram_size'"});
    require_invalid(v4_engram_config().set("engram_pad_token_id", "320"), {"'engram_pad_token_id'"});
    require_invalid(v4_engram_config().set("engram_compressed_vocab_size", "0"), {"'engram_compressed_vocab_size'"});
    require_invalid(v4_engram_config().set("engram_seed", "-1"), {"'engram_seed'"});
    require_invalid(v4_engram_config().set("engram_conv_kernel", "-1"), {"'engram_conv_kernel'"});
    require_invalid(v4_engram_config().set("engram_conv_dilation", "0"), {"'engram_conv_dilation'"});
    require_invalid(v4_engram_config().set("engram_conv_norm_eps", "0"), {"'engram_conv_norm_eps'"});
}

TEST_CASE("config: load_model_config reads a file", "[config]") {
    mneme_test::temp_dir dir;
    const std::string path = dir.file("config.json");
    require_error([&] { (void)mneme::load_model_config(path); }, MNEME_ERROR_FILE_NOT_FOUND, {"config.json"});
    mneme_test::write_text(path, v4_engram_config().text());
    CHECK(mneme::load_model_config(path).arch == model_arch::deepseek_v4_engram);
    mneme_test::write_text(path, v4_config().erase("hc_mult").text());
    require_error([&] { (void)mneme::load_model_config(path); }, MNEME_ERROR_INVALID_MODEL,
                  {path, "field 'hc_mult' is missing (required for deepseek_v4)"});
    mneme_test::write_text(path, "");
    require_error([&] { (void)mneme::load_model_config(path); }, MNEME_ERROR_INVALID_MODEL, {path, "not valid JSON"});
}
