#include "session/model.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "engram/store-identity.h"
#include "graph/deepseek-v3.h"
#include "graph/deepseek-v4.h"
#include "model/tensor-use.h"

namespace mneme {
namespace fs = std::filesystem;

namespace {

constexpr uint64_t k_default_engram_cache_bytes = uint64_t{256} << 20;
// Direct reads wait on the device, not the CPU: more threads than cores keep several in flight.
constexpr unsigned k_engram_io_threads = 8;

uint64_t fnv1a(uint64_t h, const void* data, std::size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < n; ++i) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

std::string read_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream os;
    os << in.rdbuf();
    return os.str();
}

const plugin_entry& choose_backend(runtime& rt, const char* name, mneme_dtype act) {
    if (name && name[0]) {
        if (const plugin_entry* e = rt.plugins().find(name)) return *e;
        std::string state = "not found";
        for (const auto& e : rt.plugins().entries()) {
            if (e.name == name) state = e.message;
        }
        fail(MNEME_ERROR_NO_BACKEND, "backend '", name, "' is not available (", state, ")");
    }
    // The f64 reference path exists only on the CPU backend.
    if (act == MNEME_DTYPE_F64) {
        if (const plugin_entry* e = rt.plugins().find("cpu")) return *e;
        fail(MNEME_ERROR_NO_BACKEND, "the f64 reference path needs the cpu backend");
    }
    const auto usable = rt.plugins().usable();
    if (usable.empty()) fail(MNEME_ERROR_NO_BACKEND, "no usable backend");
    return *usable.front();
}

}  // namespace

model::model(runtime& rt, const std::string& dir, const mneme_model_desc& desc) : rt_(rt) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) fail(MNEME_ERROR_FILE_NOT_FOUND, dir, ": not a model directory");
    const fs::path config_path = fs::path(dir) / "config.json";
    cfg_ = load_model_config(config_path.string());
    if (desc.index_topk) cfg_.index_topk = desc.index_topk;  // an experiment knob (part of the identity)
    ckpt_ = checkpoint::open(dir);
    const fs::path tok_path = fs::path(dir) / "tokenizer.json";
    if (fs::exists(tok_path, ec)) tok_ = tokenizer::load(tok_path.string());

    act_ = desc.precision == MNEME_PRECISION_F64 ? MNEME_DTYPE_F64 : MNEME_DTYPE_F32;
    arch_name_ = cfg_.model_type;
    budget_ = desc.memory_budget_bytes ? desc.memory_budget_bytes : rt.memory_budget();

    // Identity: config text plus every tensor's name, dtype, shape and size (saved states and
    // snapshots are only ever restored into the model they came from).
    const std::string cfg_text = read_text(config_path);
    uint64_t h = fnv1a(1469598103934665603ull, cfg_text.data(), cfg_text.size());
    for (const auto& t : *ckpt_) {
        h = fnv1a(h, t.name.data(), t.name.size());
        h = fnv1a(h, &t.dtype, sizeof(t.dtype));
        for (int64_t d : t.shape) h = fnv1a(h, &d, sizeof(d));
        const tensor_use use = use_of(t.name, cfg_);
        if (use == tensor_use::unused) {
            unused_bytes_ += t.size_bytes;
            continue;
        }
        n_params_ += static_cast<uint64_t>(t.numel());
        // Bytes by storage format; scales count with the weights they scale. Packed FP4 is stored as I8.
        const bool is_scale = t.name.ends_with(".scale") || t.name.ends_with("weight_scale_inv");
        const bool routed_fp4 = cfg_.expert_dtype == expert_storage::fp4 && t.name.find(".ffn.experts.") != std::string::npos;
        if (use == tensor_use::engram_table) {
            engram_table_bytes_ += t.size_bytes;  // planned as Engram memory, not as weights
        } else if (routed_fp4 && (t.dtype == st_dtype::i8 || is_scale)) {
            fp4_bytes_ += t.size_bytes;
        } else if (t.dtype == st_dtype::f8_e4m3 || is_scale) {
            fp8_bytes_ += t.size_bytes;
        } else if (t.dtype == st_dtype::bf16 || t.dtype == st_dtype::f16) {
            bf16_bytes_ += t.size_bytes;
        } else {
            f32_bytes_ += t.size_bytes;
        }
    }
    // Evaluation settings that change the caches are part of the identity too.
    const uint32_t knobs[2] = {desc.index_topk, desc.act_quant == MNEME_ACT_QUANT_OFF ? 1u : 0u};
    h = fnv1a(h, knobs, sizeof(knobs));
    // Hashed only when set, so that the identities (and saved states) of exact models stay as they were.
    if (desc.index_coarse_block) h = fnv1a(h, &desc.index_coarse_block, sizeof(desc.index_coarse_block));
    identity_ = h;
    weights_bytes_ = ckpt_->total_bytes() - engram_table_bytes_ - unused_bytes_;
    if (budget_ && weights_bytes_ > budget_) {
        fail(MNEME_ERROR_BUDGET_EXCEEDED, "the weights need ", weights_bytes_, " bytes, the memory budget is ", budget_);
    }

    const plugin_entry& be = choose_backend(rt, desc.backend, act_);
    uint32_t device_index = desc.device >= 0 ? static_cast<uint32_t>(desc.device) : 0;
    if (device_index >= be.devices.size()) {
        fail(MNEME_ERROR_INVALID_ARGUMENT, "backend '", be.name, "' has no device ", device_index);
    }
    dev_ = std::make_unique<device>(*be.table, *rt.host_api(), device_index, be.name);
    loader_ = std::make_unique<graph_builder>(*dev_, act_);

    if (cfg_.is_v4()) {
        v4_options opts;
        opts.act_quant = desc.act_quant != MNEME_ACT_QUANT_OFF;
        if (desc.engram_store_path && desc.engram_store_path[0] && cfg_.engram.enabled()) {
            const std::string store = desc.engram_store_path, id = engram_store_identity(cfg_text, *ckpt_, cfg_);
            const uint64_t cache = desc.engram_cache_bytes ? desc.engram_cache_bytes : k_default_engram_cache_bytes;
            opts.engram_tables = [&, store, id, cache](std::span<const int64_t> rows) -> std::shared_ptr<engram_table> {
                engram_store_ = open_store_engram_table(store, id, cfg_, rows, cache, k_engram_io_threads);
                return engram_store_;
            };
        }
        arch_ = make_deepseek_v4(*ckpt_, cfg_, *loader_, opts);
    } else {
        v3_options opts;
        opts.act_quant = desc.act_quant != MNEME_ACT_QUANT_OFF;
        opts.coarse_block = desc.index_coarse_block;
        arch_ = make_deepseek_v3(*ckpt_, cfg_, *loader_, opts);
    }
    loader_->scratch().reset();
    // What loading allocated and keeps, measured rather than estimated: on a host backend the
    // converted weights (norms, dequantised projections, and MLA's absorbed W_UK^T, a transposed
    // copy in the stored format; W_UV is a view of the mapped weight, and only heads off a scale
    // block get float copies); on a device backend every weight, which it uploads.
    loaded_bytes_ = dev_->allocated_bytes();
    rt.log().info("model", "opened ", dir, " (", arch_name_, ") on ", be.name);
}

model::~model() = default;

int64_t model::max_context() const noexcept {
    if (cfg_.max_position_embeddings > 0) return cfg_.max_position_embeddings;
    if (cfg_.rope_scaling.yarn) {
        return static_cast<int64_t>(cfg_.rope_scaling.factor * static_cast<double>(cfg_.rope_scaling.original_max_position_embeddings));
    }
    return 4096;
}

chat_family model::chat() const noexcept {
    // V3 and V3.1 share an architecture; the tokenizer's chat template tells them apart.
    if (tok_) {
        if (auto family = chat_family_from_template(tok_->chat_template())) return *family;
    }
    switch (cfg_.arch) {
        case model_arch::deepseek_v3: return chat_family::v3;
        case model_arch::deepseek_v32: return chat_family::v32;
        default: return chat_family::v4;
    }
}

mneme_model_info model::info() const {
    mneme_model_info i{};
    switch (cfg_.arch) {
        case model_arch::deepseek_v3: i.architecture = MNEME_ARCH_DEEPSEEK_V3; break;
        case model_arch::deepseek_v32: i.architecture = MNEME_ARCH_DEEPSEEK_V32; break;
        case model_arch::deepseek_v4: i.architecture = MNEME_ARCH_DEEPSEEK_V4; break;
        case model_arch::deepseek_v4_engram: i.architecture = MNEME_ARCH_DEEPSEEK_V4_ENGRAM; break;
    }
    i.architecture_name = arch_name_.c_str();
    i.backend = dev_->backend_name().c_str();
    i.vocab_size = static_cast<uint32_t>(cfg_.vocab_size);
    i.n_layers = static_cast<uint32_t>(cfg_.num_hidden_layers);
    i.hidden_size = static_cast<uint32_t>(cfg_.hidden_size);
    i.max_context = static_cast<uint32_t>(std::min<int64_t>(max_context(), UINT32_MAX));
    i.bos_token = tok_ ? tok_->bos_id() : static_cast<int32_t>(cfg_.bos_token_id);
    i.eos_token = tok_ ? tok_->eos_id() : (cfg_.eos_token_ids.empty() ? -1 : static_cast<int32_t>(cfg_.eos_token_ids[0]));
    i.n_params = n_params_;
    i.weights_bytes = weights_bytes_;
    i.cache_bytes_per_token = arch_->cache_bytes_per_token(act_);
    i.has_tokenizer = tok_ ? MNEME_TRUE : MNEME_FALSE;
    i.precision = precision();
    return i;
}

profile_result model::engram_profile(std::span<const int32_t> tokens) {
    if (!engram_store_) {
        fail(MNEME_ERROR_INVALID_ARGUMENT,
             cfg_.engram.enabled() ? "the model's Engram tables are not served from a store" : "the model has no Engram tables",
             " (open it with mneme_model_desc.engram_store_path)");
    }
    return engram_store_->add_profile(arch_->engram_rows(tokens));
}

mneme_engram_stats model::engram_stats() const {
    mneme_engram_stats out{};
    out.struct_size = sizeof(out);
    if (!engram_store_) {
        const int64_t w = cfg_.engram.head_dim;
        for (int64_t rows : cfg_.engram.num_embeddings) out.table_bytes += static_cast<uint64_t>(rows * (w + w / 32));
        return out;
    }
    const engram_store_stats st = engram_store_->stats();
    out.from_store = MNEME_TRUE;
    out.table_bytes = st.table_bytes;
    out.cache_budget_bytes = st.cache_budget_bytes;
    out.cache_bytes = st.cache_bytes_used;
    out.hits = st.hits;
    out.misses = st.misses;
    out.bytes_read = st.bytes_read;
    out.steps = st.steps;
    out.prefetched_steps = st.prefetched_steps;
    out.prefetch_lead_seconds = st.prefetch_lead_seconds;
    out.stall_seconds = st.stall_seconds;
    return out;
}

mneme_memory_plan model::plan(uint64_t context_tokens) const {
    mneme_memory_plan p{};
    const uint64_t per_token = arch_->cache_bytes_per_token(act_);
    p.context_tokens = context_tokens;
    if (dev_->is_host_memory()) {
        // Mapped weights are resident once read, plus what loading converted into new buffers. (The
        // embedding table is read by rows, but the kernel maps file pages around each fault, so a
        // context of any length soon has most of it resident: it is counted whole.)
        p.weights_bytes = weights_bytes_ + loaded_bytes_;
    } else {
        p.weights_bytes = loaded_bytes_;  // uploaded at open, the embedding table whole
    }
    p.weights_fp8_bytes = fp8_bytes_;
    p.weights_fp4_bytes = fp4_bytes_;
    p.weights_bf16_bytes = bf16_bytes_;
    p.weights_f32_bytes = f32_bytes_;
    p.cache_bytes_per_token = per_token;
    p.cache_bytes = per_token * context_tokens;
    p.engram_bytes = engram_table_bytes_;
    // Scratch: one prefill chunk (the default feed chunk) when the context is full.
    p.scratch_bytes = arch_->scratch_bytes(static_cast<int64_t>(k_default_feed_chunk), static_cast<int64_t>(std::max<uint64_t>(context_tokens, 1)), act_);
    p.total_bytes = p.weights_bytes + p.cache_bytes + p.engram_bytes + p.scratch_bytes;
    p.budget_bytes = budget_;
    p.fits = (budget_ == 0 || p.total_bytes <= budget_) ? MNEME_TRUE : MNEME_FALSE;
    if (budget_ && per_token) {
        const uint64_t fixed = p.weights_bytes + p.engram_bytes + p.scratch_bytes;
        p.max_context_in_budget = budget_ > fixed ? (budget_ - fixed) / per_token : 0;
    }
    return p;
}

}  // namespace mneme
