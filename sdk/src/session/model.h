// The object behind mneme_model: a checkpoint opened on one backend device, with its tokenizer,
// its architecture's forward pass and the facts the API reports about it.
#pragma once

#include <mneme/mneme.h>

#include <memory>
#include <mutex>
#include <string>

#include "core/runtime.h"
#include "engram/store-table.h"
#include "graph/arch-model.h"
#include "graph/device.h"
#include "model/checkpoint.h"
#include "model/config.h"
#include "tokenizer/chat-format.h"
#include "tokenizer/tokenizer.h"

namespace mneme {

// Tokens per forward pass when a feed does not choose (and what the memory planner assumes).
inline constexpr std::size_t k_default_feed_chunk = 256;

class model {
public:
    model(runtime& rt, const std::string& dir, const mneme_model_desc& desc);
    ~model();

    runtime& rt() noexcept { return rt_; }
    const model_config& config() const noexcept { return cfg_; }
    const tokenizer* tok() const noexcept { return tok_.get(); }
    device& dev() noexcept { return *dev_; }
    arch_model& arch() noexcept { return *arch_; }
    mneme_dtype act_dtype() const noexcept { return act_; }
    mneme_precision precision() const noexcept { return act_ == MNEME_DTYPE_F64 ? MNEME_PRECISION_F64 : MNEME_PRECISION_F32; }
    chat_family chat() const noexcept;
    int64_t max_context() const noexcept;
    uint64_t identity() const noexcept { return identity_; }
    const std::string& arch_name() const noexcept { return arch_name_; }
    uint64_t weights_bytes() const noexcept { return weights_bytes_; }
    uint64_t n_params() const noexcept { return n_params_; }
    uint64_t memory_budget() const noexcept { return budget_; }

    mneme_model_info info() const;
    // Engram table serving: cache and read counters when the tables come from a store.
    mneme_engram_stats engram_stats() const;
    // Adds the rows `tokens` read to the Engram store's profile (see store_engram_table::add_profile).
    profile_result engram_profile(std::span<const int32_t> tokens);
    mneme_memory_plan plan(uint64_t context_tokens) const;

    // Scratch buffers ended sessions leave for new ones (see scratch_spares).
    scratch_spares& spares() noexcept { return spares_; }

    // Serialises forward passes of sessions sharing this model's device queue.
    std::mutex& device_mutex() noexcept { return device_mutex_; }

private:
    runtime& rt_;
    model_config cfg_;
    std::unique_ptr<checkpoint> ckpt_;
    std::unique_ptr<tokenizer> tok_;
    std::unique_ptr<device> dev_;
    scratch_spares spares_;  // after dev_: its buffers are freed before the device closes
    std::unique_ptr<graph_builder> loader_;
    std::unique_ptr<arch_model> arch_;
    mneme_dtype act_ = MNEME_DTYPE_F32;
    uint64_t identity_ = 0;
    std::string arch_name_;
    uint64_t weights_bytes_ = 0, n_params_ = 0, budget_ = 0;
    uint64_t fp8_bytes_ = 0, fp4_bytes_ = 0, bf16_bytes_ = 0, f32_bytes_ = 0;
    uint64_t embedding_bytes_ = 0;
    uint64_t unused_bytes_ = 0;
    uint64_t loaded_bytes_ = 0;  // device buffers loading allocated and keeps (see plan())  // tensors the forward pass never reads (the MTP layer)  // the token embedding table (resident by rows when mapped)
    uint64_t engram_table_bytes_ = 0;  // Engram embedding tables held in memory
    std::mutex device_mutex_;
    std::shared_ptr<store_engram_table> engram_store_;  // null: tables from the checkpoint
};

}  // namespace mneme

struct mneme_model : mneme::model {
    using mneme::model::model;
};
