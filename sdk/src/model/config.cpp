#include "model/config.h"

#include "core/error.h"
#include "model/config-engram.h"
#include "model/config-limits.h"
#include "model/config-reader.h"
#include "model/json-parse.h"
#include "model/mapped-file.h"

namespace mneme {

namespace lim = config_limits;

namespace {

using json = nlohmann::json;

// config.json of the largest release is a few KiB.
constexpr uint64_t k_max_config_bytes = 16ull << 20;

bool is_power_of_two(int64_t v) {
    return v > 0 && (v & (v - 1)) == 0;
}

// Cross-field bounds, reported with the field they depend on.
void require_at_most(const config_reader& r, std::string_view name, int64_t value, const char* other, int64_t limit) {
    if (value > limit) r.fail_field(name, "is ", value, ", more than ", other, " (", limit, ")");
}

model_arch arch_from_model_type(const config_reader& r, const std::string& model_type) {
    if (model_type == "deepseek_v3") return model_arch::deepseek_v3;
    if (model_type == "deepseek_v32") return model_arch::deepseek_v32;
    if (model_type == "deepseek_v4") return model_arch::deepseek_v4;
    r.fail_unsupported("model_type", "is ", quote_name(model_type),
                       "; supported: deepseek_v3, deepseek_v32, deepseek_v4");
}

moe_scoring read_scoring(const config_reader& r) {
    const std::string s = r.string_field("scoring_func");
    if (s == "sigmoid") return moe_scoring::sigmoid;
    if (s == "sqrtsoftplus") return moe_scoring::sqrtsoftplus;
    if (s == "softmax") return moe_scoring::softmax;
    r.fail_unsupported("scoring_func", "is ", quote_name(s), "; supported: sigmoid, sqrtsoftplus, softmax");
}

rope_scaling_config read_rope_scaling(const config_reader& top) {
    rope_scaling_config rs;
    const json* obj = top.find_object("rope_scaling");
    if (obj == nullptr) return rs;
    const config_reader r = top.nested("rope_scaling", *obj);
    // Older configs spell it "type", newer transformers "rope_type".
    const char* type_key = (!r.has("type") && r.has("rope_type")) ? "rope_type" : "type";
    const std::string type = r.string_field(type_key);
    if (type == "default") return rs;
    if (type != "yarn") r.fail_unsupported(type_key, "is ", quote_name(type), "; supported: yarn, default");
    rs.yarn = true;
    rs.factor = r.number_field("factor");
    r.require_positive("factor", rs.factor);
    rs.original_max_position_embeddings = r.int_field("original_max_position_embeddings", 1, lim::positions);
    rs.beta_fast = r.number_field_or("beta_fast", 32.0);
    rs.beta_slow = r.number_field_or("beta_slow", 1.0);
    r.require_positive("beta_fast", rs.beta_fast);
    r.require_positive("beta_slow", rs.beta_slow);
    rs.mscale = r.number_field_or("mscale", 1.0);
    rs.mscale_all_dim = r.number_field_or("mscale_all_dim", 1.0);
    return rs;
}

quantization_config read_quantization(const config_reader& top) {
    quantization_config q;
    const json* obj = top.find_object("quantization_config");
    if (obj == nullptr) return q;
    const config_reader r = top.nested("quantization_config", *obj);
    q.present = true;
    q.quant_method = r.string_field("quant_method");
    if (q.quant_method != "fp8")
        r.fail_unsupported("quant_method", "is ", quote_name(q.quant_method), "; supported: fp8");
    q.fmt = r.string_field_or("fmt", "e4m3");
    if (q.fmt != "e4m3") r.fail_unsupported("fmt", "is ", quote_name(q.fmt), "; supported: e4m3");
    q.activation_scheme = r.string_field_or("activation_scheme", "dynamic");
    if (q.activation_scheme != "dynamic") {
        r.fail_unsupported("activation_scheme", "is ", quote_name(q.activation_scheme), "; supported: dynamic");
    }
    const std::string scale_fmt = r.string_field_or("scale_fmt", "");
    if (!scale_fmt.empty() && scale_fmt != "ue8m0") {
        r.fail_unsupported("scale_fmt", "is ", quote_name(scale_fmt), "; supported: ue8m0 or absent");
    }
    q.scale_ue8m0 = scale_fmt == "ue8m0";
    const std::vector<int64_t> block = r.int_list_field("weight_block_size", 2, 1, lim::quant_block);
    if (block.size() != 2) r.fail_field("weight_block_size", "has ", block.size(), " entries, expected 2");
    q.block_rows = block[0];
    q.block_cols = block[1];
    return q;
}

void read_token_ids(const config_reader& r, model_config& c) {
    c.bos_token_id = r.int_field_or("bos_token_id", -1, 0, c.vocab_size - 1);
    const json* eos = r.find("eos_token_id");
    if (eos == nullptr) return;
    if (eos->is_array()) {
        c.eos_token_ids = r.int_list_field("eos_token_id", 64, 0, c.vocab_size - 1);
    } else {
        c.eos_token_ids = {r.checked_int("eos_token_id", *eos, 0, c.vocab_size - 1)};
    }
}

void read_common(const config_reader& r, model_config& c) {
    c.vocab_size = r.int_field("vocab_size", 1, lim::vocab);
    c.hidden_size = r.int_field("hidden_size", 1, lim::hidden);
    c.num_hidden_layers = r.int_field("num_hidden_layers", 1, lim::layers);
    c.num_nextn_predict_layers = r.int_field_or("num_nextn_predict_layers", 0, 0, lim::mtp_layers);
    c.num_attention_heads = r.int_field("num_attention_heads", 1, lim::heads);
    c.qk_rope_head_dim = r.int_field("qk_rope_head_dim", 2, lim::head_dim);
    // Rotary dimensions come in pairs.
    if (c.qk_rope_head_dim % 2 != 0) r.fail_field("qk_rope_head_dim", "is ", c.qk_rope_head_dim, ", must be even");
    c.rms_norm_eps = r.number_field("rms_norm_eps");
    r.require_positive("rms_norm_eps", c.rms_norm_eps);
    c.rope_theta = r.number_field("rope_theta");
    r.require_positive("rope_theta", c.rope_theta);
    c.rope_scaling = read_rope_scaling(r);
    c.quantization = read_quantization(r);
    c.tie_word_embeddings = r.bool_field_or("tie_word_embeddings", false);
    c.max_position_embeddings = r.int_field_or("max_position_embeddings", 0, 1, lim::positions);
    read_token_ids(r, c);
}

void read_moe(const config_reader& r, model_config& c) {
    c.n_routed_experts = r.int_field("n_routed_experts", 1, lim::experts);
    c.n_shared_experts = r.int_field("n_shared_experts", 0, lim::shared_experts);
    c.num_experts_per_tok = r.int_field("num_experts_per_tok", 1, lim::experts);
    require_at_most(r, "num_experts_per_tok", c.num_experts_per_tok, "n_routed_experts", c.n_routed_experts);
    c.moe_intermediate_size = r.int_field("moe_intermediate_size", 1, lim::ffn);
    c.scoring_func = read_scoring(r);
    c.topk_method = r.string_field_or("topk_method", "noaux_tc");
    c.norm_topk_prob = r.bool_field_or("norm_topk_prob", true);
    c.routed_scaling_factor = r.number_field("routed_scaling_factor");
    r.require_positive("routed_scaling_factor", c.routed_scaling_factor);

    // V4 has no group limit; its configs carry neither field (or null).
    if (c.is_v4()) {
        c.n_group = r.int_field_or("n_group", 1, 1, lim::experts);
        c.topk_group = r.int_field_or("topk_group", c.n_group, 1, lim::experts);
    } else {
        c.n_group = r.int_field("n_group", 1, lim::experts);
        c.topk_group = r.int_field("topk_group", 1, lim::experts);
    }
    require_at_most(r, "n_group", c.n_group, "n_routed_experts", c.n_routed_experts);
    require_at_most(r, "topk_group", c.topk_group, "n_group", c.n_group);
    if (c.n_routed_experts % c.n_group != 0) {
        r.fail_field("n_group", "is ", c.n_group, ", which does not divide n_routed_experts (", c.n_routed_experts,
                     ")");
    }
    const int64_t group_size = c.n_routed_experts / c.n_group;
    // Groups are ranked by the sum of their two best experts.
    if (c.n_group > 1 && group_size < 2) {
        r.fail_field("n_group", "is ", c.n_group, ", leaving groups of ", group_size,
                     " expert; groups are ranked by their top-2 and need at least 2");
    }
    if (c.num_experts_per_tok > c.topk_group * group_size) {
        r.fail_field("num_experts_per_tok", "is ", c.num_experts_per_tok, ", more than the ", c.topk_group * group_size,
                     " experts in the topk_group (", c.topk_group, ") groups kept");
    }
}

void read_indexer(const config_reader& r, model_config& c) {
    c.index_n_heads = r.int_field("index_n_heads", 1, lim::heads);
    c.index_head_dim = r.int_field("index_head_dim", 1, lim::head_dim);
    // RoPE covers qk_rope_head_dim of the indexer's dimensions.
    if (c.index_head_dim < c.qk_rope_head_dim) {
        r.fail_field("index_head_dim", "is ", c.index_head_dim, ", smaller than qk_rope_head_dim (", c.qk_rope_head_dim,
                     ")");
    }
    // Indexer queries and keys go through a Hadamard transform of this size.
    if (!is_power_of_two(c.index_head_dim)) {
        r.fail_field("index_head_dim", "is ", c.index_head_dim, ", must be a power of two");
    }
    c.index_topk = r.int_field("index_topk", 1, lim::topk_tokens);
}

void read_v3_family(const config_reader& r, model_config& c) {
    // Required, but an explicit null (or 0) means the query is not compressed (V2-Lite layout).
    if (r.contains_key("q_lora_rank") && !r.has("q_lora_rank")) {
        c.q_lora_rank = 0;
    } else {
        c.q_lora_rank = r.int_field("q_lora_rank", 0, lim::lora_rank);
    }
    c.kv_lora_rank = r.int_field("kv_lora_rank", 1, lim::lora_rank);
    c.qk_nope_head_dim = r.int_field("qk_nope_head_dim", 1, lim::head_dim);
    c.v_head_dim = r.int_field("v_head_dim", 1, lim::head_dim);
    c.intermediate_size = r.int_field("intermediate_size", 1, lim::ffn);
    c.first_k_dense_replace = r.int_field("first_k_dense_replace", 0, lim::layers);
    require_at_most(r, "first_k_dense_replace", c.first_k_dense_replace, "num_hidden_layers", c.num_hidden_layers);
    c.moe_layer_freq = r.int_field_or("moe_layer_freq", 1, 1, lim::layers);
    read_moe(r, c);
    if (c.arch == model_arch::deepseek_v32) read_indexer(r, c);
    const json* engram_ids = r.find("engram_layer_ids");
    if (engram_ids != nullptr && !(engram_ids->is_array() && engram_ids->empty())) {
        r.fail_unsupported("engram_layer_ids", "is set, but Engram is only defined for deepseek_v4");
    }
}

void read_v4(const config_reader& r, model_config& c) {
    c.q_lora_rank = r.int_field("q_lora_rank", 1, lim::lora_rank);
    c.head_dim = r.int_field("head_dim", 1, lim::head_dim);
    // RoPE takes the last qk_rope_head_dim dims of the head; the rest carry no position.
    if (c.head_dim <= c.qk_rope_head_dim) {
        r.fail_field("head_dim", "is ", c.head_dim, ", must be larger than qk_rope_head_dim (", c.qk_rope_head_dim,
                     ")");
    }
    c.o_groups = r.int_field("o_groups", 1, lim::heads);
    if (c.num_attention_heads % c.o_groups != 0) {
        r.fail_field("o_groups", "is ", c.o_groups, ", which does not divide num_attention_heads (",
                     c.num_attention_heads, ")");
    }
    c.o_lora_rank = r.int_field("o_lora_rank", 1, lim::lora_rank);
    c.sliding_window = r.int_field("sliding_window", 1, lim::window);
    c.compress_ratios = r.int_list_field("compress_ratios", static_cast<std::size_t>(lim::layers + lim::mtp_layers), 0,
                                         lim::compress_ratio);
    if (static_cast<int64_t>(c.compress_ratios.size()) != c.total_layers()) {
        r.fail_field("compress_ratios", "has ", c.compress_ratios.size(), " entries, expected ", c.total_layers(),
                     " (num_hidden_layers ", c.num_hidden_layers, " + num_nextn_predict_layers ",
                     c.num_nextn_predict_layers, ")");
    }
    c.compress_rope_theta = r.number_field("compress_rope_theta");
    r.require_positive("compress_rope_theta", c.compress_rope_theta);
    c.swiglu_limit = r.number_field("swiglu_limit");
    if (c.swiglu_limit < 0) r.fail_field("swiglu_limit", "is ", c.swiglu_limit, ", must not be negative");
    c.num_hash_layers = r.int_field("num_hash_layers", 0, lim::layers);
    require_at_most(r, "num_hash_layers", c.num_hash_layers, "num_hidden_layers", c.num_hidden_layers);
    c.hc_mult = r.int_field("hc_mult", 1, lim::hc_mult);
    c.hc_sinkhorn_iters = r.int_field("hc_sinkhorn_iters", 0, lim::sinkhorn_iters);
    c.hc_eps = r.number_field("hc_eps");
    if (c.hc_eps < 0) r.fail_field("hc_eps", "is ", c.hc_eps, ", must not be negative");

    const std::string experts = r.string_field_or("expert_dtype", "fp8");
    if (experts == "fp4") {
        c.expert_dtype = expert_storage::fp4;
    } else if (experts != "fp8") {
        r.fail_unsupported("expert_dtype", "is ", quote_name(experts), "; supported: fp4, fp8");
    }

    read_moe(r, c);
    read_indexer(r, c);
    // FP4 experts pack two values per byte and carry one e8m0 scale per 32 inputs.
    if (c.quantization.present && c.expert_dtype == expert_storage::fp4) {
        if (c.hidden_size % 32 != 0) {
            r.fail_field("hidden_size", "is ", c.hidden_size, ", must be a multiple of 32 for fp4 experts");
        }
        if (c.moe_intermediate_size % 32 != 0) {
            r.fail_field("moe_intermediate_size", "is ", c.moe_intermediate_size,
                         ", must be a multiple of 32 for fp4 experts");
        }
    }

    c.engram = read_engram_config(r, c);
    if (c.engram.enabled()) c.arch = model_arch::deepseek_v4_engram;
}

}  // namespace

std::string_view model_arch_name(model_arch arch) noexcept {
    switch (arch) {
        case model_arch::deepseek_v3:
            return "DeepSeek-V3";
        case model_arch::deepseek_v32:
            return "DeepSeek-V3.2";
        case model_arch::deepseek_v4:
            return "DeepSeek-V4";
        case model_arch::deepseek_v4_engram:
            return "DeepSeek-V4 + Engram";
    }
    return "unknown";
}

std::string_view moe_scoring_name(moe_scoring scoring) noexcept {
    switch (scoring) {
        case moe_scoring::sigmoid:
            return "sigmoid";
        case moe_scoring::sqrtsoftplus:
            return "sqrtsoftplus";
        case moe_scoring::softmax:
            return "softmax";
    }
    return "unknown";
}

model_config parse_model_config(std::string_view json_text, const std::string& filename) {
    const json root = parse_json_strictly(json_text, filename, "config");
    if (!root.is_object())
        fail(MNEME_ERROR_INVALID_MODEL, filename, ": must be a JSON object, got ", json_type_words(root));

    model_config c;
    c.model_type = config_reader(root, filename, "required").string_field("model_type");
    const config_reader r(root, filename, "required for " + c.model_type);
    c.arch = arch_from_model_type(r, c.model_type);

    read_common(r, c);
    if (c.is_v4()) {
        read_v4(r, c);
    } else {
        read_v3_family(r, c);
    }
    return c;
}

model_config load_model_config(const std::string& path) {
    const mapped_file map = mapped_file::open(path);
    if (map.size() > k_max_config_bytes) {
        fail(MNEME_ERROR_INVALID_MODEL, path, ": ", map.size(), " bytes, more than the limit of ", k_max_config_bytes);
    }
    return parse_model_config(
        std::string_view(reinterpret_cast<const char*>(map.data()), static_cast<std::size_t>(map.size())), path);
}

}  // namespace mneme
