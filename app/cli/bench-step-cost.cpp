#include "bench-step-cost.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace mneme_cli::bench {
namespace {

using json = nlohmann::json;

int64_t field(const json& cfg, const char* name) {
    const auto it = cfg.find(name);
    return it != cfg.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

// Appends the tensors of one safetensors file, reading only its header.
void read_header(const std::filesystem::path& file, std::vector<stored_tensor>& out) {
    std::ifstream f(file, std::ios::binary);
    uint64_t n = 0;
    if (!f.read(reinterpret_cast<char*>(&n), 8) || n > (100ull << 20)) {
        throw std::runtime_error("bad safetensors header in " + file.string());
    }
    std::string text(n, '\0');
    if (!f.read(text.data(), static_cast<std::streamsize>(n)))
        throw std::runtime_error("short header in " + file.string());
    const json h = json::parse(text);
    for (const auto& [name, t] : h.items()) {
        if (name == "__metadata__") continue;
        stored_tensor st;
        st.name = name;
        st.dtype = t.at("dtype").get<std::string>();
        st.shape = t.at("shape").get<std::vector<int64_t>>();
        const auto off = t.at("data_offsets").get<std::vector<uint64_t>>();
        st.bytes = off.at(1) - off.at(0);
        out.push_back(std::move(st));
    }
}

enum class part { skip, attention_dense, shared, routed, embedding, head, kv_b, hash_table, engram_table };

// The decoder layer a tensor belongs to (-1 for top-level tensors), from "model.layers.N." or
// "layers.N."; V4's "mtp.N." multi-token-prediction modules count as beyond the last layer.
int64_t layer_of(const std::string& name, int64_t n_layers) {
    if (name.rfind("mtp.", 0) == 0) return n_layers;
    for (const char* prefix : {"model.layers.", "layers."}) {
        const std::size_t len = std::strlen(prefix);
        if (name.compare(0, len, prefix) == 0) return std::stoll(name.substr(len));
    }
    return -1;
}

part classify(const std::string& name, const model_shape& s) {
    const int64_t layer = layer_of(name, s.layers);
    if (layer >= s.layers) return part::skip;  // MTP: not run when decoding without drafts
    if (layer < 0) {
        if (name == "model.embed_tokens.weight" || name == "embed.weight") return part::embedding;
        if (name == "lm_head.weight" || name == "head.weight") return part::head;
        return part::attention_dense;
    }
    if (name.ends_with(".gate.tid2eid")) return part::hash_table;
    if (name.find(".engram.embed.") != std::string::npos) return part::engram_table;
    if (name.find("shared_experts.") != std::string::npos) return part::shared;
    if (name.find(".experts.") != std::string::npos) return part::routed;
    if (s.v3_family() && name.find("self_attn.kv_b_proj.") != std::string::npos) return part::kv_b;
    return part::attention_dense;
}

bool is_scale(const stored_tensor& t) {
    return t.dtype == "F8_E8M0" || t.name.ends_with("weight_scale_inv") || t.name.ends_with(".scale");
}

// Multiply-adds per token for a weight matrix (packed FP4 holds two weights per I8 byte).
uint64_t matmul_params(const stored_tensor& t) {
    if (t.shape.size() != 2 || is_scale(t)) return 0;
    const uint64_t n = static_cast<uint64_t>(t.shape[0] * t.shape[1]);
    return t.dtype == "I8" ? 2 * n : n;
}

// One layer's kv_b_proj as stored: the weight [H*(nope+v), kv_lora] and its block scales.
struct kv_b_tensors {
    const stored_tensor* weight = nullptr;
    const stored_tensor* scale = nullptr;
};

// What a decode step reads of one layer's absorbed kv_b_proj, head by head as deepseek-v3.cpp
// loads it: a row range starting on a scale block keeps the stored format (W_UV a slice, W_UK^T a
// transposed copy, the same bytes and as many scales); any other is a dequantised copy.
uint64_t absorbed_kv_b_bytes(const model_shape& s, const kv_b_tensors& kv_b, uint64_t act_bytes) {
    const stored_tensor& w = *kv_b.weight;
    const uint64_t k = static_cast<uint64_t>(s.kv_lora);
    const uint64_t elements = static_cast<uint64_t>(s.heads * (s.nope + s.v_dim)) * k;
    const uint64_t weight_es = elements ? w.bytes / elements : act_bytes;
    const stored_tensor* sc = kv_b.scale;
    const bool scaled = sc && sc->shape.size() == 2 && sc->shape[0] * sc->shape[1] > 0;
    const int64_t bn = std::max<int64_t>(s.block_rows, 1);
    const uint64_t scale_row_bytes = scaled ? sc->bytes / static_cast<uint64_t>(sc->shape[0]) : 0;
    const auto rows_bytes = [&](int64_t first, int64_t n) -> uint64_t {
        if (scaled && first % bn != 0) return static_cast<uint64_t>(n) * k * act_bytes;
        const uint64_t blocks = scaled ? static_cast<uint64_t>((n + bn - 1) / bn) : 0;
        return static_cast<uint64_t>(n) * k * weight_es + blocks * scale_row_bytes;
    };
    uint64_t bytes = 0;
    for (int64_t h = 0; h < s.heads; ++h) {
        const int64_t first = h * (s.nope + s.v_dim);
        bytes += rows_bytes(first, s.nope) + rows_bytes(first + s.nope, s.v_dim);
    }
    return bytes;
}

}  // namespace

checkpoint_summary read_checkpoint_summary(const std::string& dir) {
    checkpoint_summary out;
    std::ifstream cf(std::filesystem::path(dir) / "config.json");
    if (!cf) throw std::runtime_error("no config.json in " + dir);
    const json cfg = json::parse(cf);
    model_shape& s = out.shape;
    s.model_type = cfg.value("model_type", std::string());
    s.hidden = field(cfg, "hidden_size");
    s.layers = field(cfg, "num_hidden_layers");
    s.vocab = field(cfg, "vocab_size");
    s.heads = field(cfg, "num_attention_heads");
    s.routed_experts = field(cfg, "n_routed_experts");
    s.experts_per_token = field(cfg, "num_experts_per_tok");
    s.kv_lora = field(cfg, "kv_lora_rank");
    s.rope = field(cfg, "qk_rope_head_dim");
    s.nope = field(cfg, "qk_nope_head_dim");
    s.v_dim = field(cfg, "v_head_dim");
    s.index_topk = field(cfg, "index_topk");
    s.index_heads = field(cfg, "index_n_heads");
    s.index_dim = field(cfg, "index_head_dim");
    if (cfg.contains("engram_layer_ids")) {
        s.engram_rows = std::max<int64_t>(field(cfg, "engram_max_ngram_size") - 1, 0) * field(cfg, "engram_n_heads");
    }
    if (const auto q = cfg.find("quantization_config"); q != cfg.end() && q->is_object()) {
        const auto b = q->find("weight_block_size");
        if (b != q->end() && b->is_array() && !b->empty() && b->at(0).is_number_integer()) {
            s.block_rows = b->at(0).get<int64_t>();
        }
    }
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
        if (e.path().extension() == ".safetensors") files.push_back(e.path());
    }
    if (files.empty()) throw std::runtime_error("no .safetensors files in " + dir);
    std::sort(files.begin(), files.end());
    for (const auto& f : files) read_header(f, out.tensors);
    return out;
}

step_cost decode_step_cost(const checkpoint_summary& ckpt, uint64_t context, uint64_t act_bytes,
                           uint64_t fallback_cache_bytes_per_token, uint64_t index_key_bytes) {
    const model_shape& s = ckpt.shape;
    step_cost c;
    // Routed experts are summed per layer, then scaled by top-k / n_routed: one token selects
    // exactly top-k distinct experts of equal size in every MoE layer.
    std::map<int64_t, uint64_t> routed_bytes, routed_stored, routed_params;
    std::map<int64_t, kv_b_tensors> kv_b;
    for (const stored_tensor& t : ckpt.tensors) {
        const part p = classify(t.name, s);
        const uint64_t params = matmul_params(t);
        switch (p) {
            case part::skip:
                break;
            case part::attention_dense:
                c.attention_dense_bytes += t.bytes;
                c.weight_bytes_stored += t.bytes;
                c.body_params += params;
                break;
            case part::shared:
                c.shared_expert_bytes += t.bytes;
                c.weight_bytes_stored += t.bytes;
                c.body_params += params;
                break;
            case part::routed: {
                const int64_t layer = layer_of(t.name, s.layers);
                routed_bytes[layer] += t.bytes;
                routed_params[layer] += params;
                break;
            }
            case part::embedding:
                c.embedding_bytes += t.shape.size() == 2 ? t.bytes / static_cast<uint64_t>(t.shape[0]) : t.bytes;
                c.weight_bytes_stored += t.shape.size() == 2 ? t.bytes / static_cast<uint64_t>(t.shape[0]) : t.bytes;
                break;
            case part::head:
                c.head_bytes += t.bytes;
                c.weight_bytes_stored += t.bytes;
                c.head_params += params;
                break;
            case part::hash_table:
            case part::engram_table: {
                // One row per token (the token's experts), or the n-gram rows Engram gathers.
                const uint64_t rows = t.shape.empty() ? 1 : static_cast<uint64_t>(std::max<int64_t>(t.shape[0], 1));
                const uint64_t read = p == part::hash_table ? 1 : static_cast<uint64_t>(s.engram_rows);
                const uint64_t bytes = t.bytes / rows * std::min(read, rows);
                c.attention_dense_bytes += bytes;
                c.weight_bytes_stored += bytes;
                break;
            }
            case part::kv_b: {
                c.weight_bytes_stored += t.bytes;
                c.body_params += params;
                kv_b_tensors& l = kv_b[layer_of(t.name, s.layers)];
                (is_scale(t) ? l.scale : l.weight) = &t;
                break;
            }
        }
    }
    for (const auto& [layer, l] : kv_b) {
        if (l.weight) c.attention_dense_bytes += absorbed_kv_b_bytes(s, l, act_bytes);
    }
    const uint64_t e = static_cast<uint64_t>(std::max<int64_t>(s.routed_experts, 1));
    const uint64_t k = static_cast<uint64_t>(s.experts_per_token);
    for (const auto& [layer, bytes] : routed_bytes) {
        c.routed_expert_bytes += bytes * k / e;
        c.weight_bytes_stored += bytes * k / e;
        c.body_params += routed_params[layer] * k / e;
        c.routed_experts_read += k;
    }

    if (s.v3_family()) {
        const uint64_t layers = static_cast<uint64_t>(s.layers);
        c.attend_cap = static_cast<uint64_t>(std::max<int64_t>(s.index_topk, 0));
        c.attended = s.index_topk > 0 ? std::min<uint64_t>(context, static_cast<uint64_t>(s.index_topk)) : context;
        // Latent rows [kv_lora + rope] for the attended tokens; V3.2 also scans every cached
        // indexer key [index_dim] to choose them.
        const uint64_t key_bytes = index_key_bytes ? index_key_bytes : act_bytes;
        c.cache_bytes = layers * (act_bytes * static_cast<uint64_t>(s.kv_lora + s.rope) * c.attended +
                                  key_bytes * static_cast<uint64_t>(s.index_dim) * (s.index_topk > 0 ? context : 0));
        // Absorbed MLA: scores over kv_lora + rope dims, values over kv_lora, for every head.
        c.attention_flops_per_key = 2.0 * static_cast<double>(layers * s.heads * (2 * s.kv_lora + s.rope));
        c.indexer_flops_per_key =
            s.index_topk > 0 ? 2.0 * static_cast<double>(layers * s.index_heads * s.index_dim) : 0.0;
    } else {
        c.attended = context;
        c.cache_bytes = fallback_cache_bytes_per_token * context;
    }
    return c;
}

double prefill_flops_per_token(const step_cost& c, uint64_t prompt_tokens) {
    const double p = static_cast<double>(std::max<uint64_t>(prompt_tokens, 1));
    const double mean_keys = (p + 1.0) / 2.0;
    const double attended = c.attend_cap ? std::min(static_cast<double>(c.attend_cap), mean_keys) : mean_keys;
    return 2.0 * static_cast<double>(c.body_params) + 2.0 * static_cast<double>(c.head_params) / p +
           c.attention_flops_per_key * attended + c.indexer_flops_per_key * mean_keys;
}

}  // namespace mneme_cli::bench
