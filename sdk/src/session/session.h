// The object behind mneme_session: one context over a model (tokens + caches), chunked prefill
// with progress and cancel, sampling and streaming generation, state save/restore.
#pragma once

#include <mneme/mneme.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "graph/arch-model.h"
#include "session/generation-stats.h"
#include "session/model.h"
#include "session/sampler.h"
#include "session/snapshot-store.h"

namespace mneme {

class ngram_drafter;

class session {
public:
    session(model& m, const mneme_session_desc& desc);
    ~session();

    model& owner() noexcept { return model_; }
    void set_sampling(const mneme_sampling_params& p) { sampler_.set_params(p); }

    mneme_status feed(std::span<const int32_t> tokens, const mneme_feed_desc& desc);
    mneme_status generate(const mneme_generate_desc& desc, mneme_generate_result& result);

    // Logits kept by the last feed: [rows, vocab] as float (and as double for the f64 path).
    const std::vector<float>& logits() const noexcept { return logits_f32_; }
    const std::vector<double>& logits_f64() const noexcept { return logits_; }
    std::size_t logit_rows() const noexcept { return logit_rows_; }

    uint64_t token_count() const noexcept { return static_cast<uint64_t>(tokens_.size()); }
    const std::vector<int32_t>& tokens() const noexcept { return tokens_; }
    int64_t n_ctx() const noexcept { return n_ctx_; }
    void reset();

    void save(const std::string& path);
    void load(const std::string& path);

    void request_cancel() noexcept { cancel_.store(true, std::memory_order_relaxed); }
    const mneme_feed_stats& last_feed_stats() const noexcept { return stats_; }
    // Statistics of the last generate call and the prompt that led to it.
    const generation_stats& last_generation() const noexcept { return gen_; }

    // Marks the session busy for the duration of a call (MNEME_ERROR_BUSY for a concurrent call).
    class busy_guard {
    public:
        explicit busy_guard(session& s);
        ~busy_guard() { s_.busy_.store(false); }
        busy_guard(const busy_guard&) = delete;
        busy_guard& operator=(const busy_guard&) = delete;

    private:
        session& s_;
    };

private:
    bool take_cancel() noexcept { return cancel_.exchange(false, std::memory_order_relaxed); }
    // Runs one forward pass over `tokens` and records them in the context. A pass that throws
    // leaves the context as it was; an interruptible one also stops with pass_cancelled when a
    // cancel arrives while it runs.
    std::vector<double> step(std::span<const int32_t> tokens, bool all_logits, bool interruptible = false);
    mneme_status evaluate(std::span<const int32_t> tokens, const mneme_feed_desc& desc);
    // Restores the longest usable snapshot for context + tokens; returns how many of `tokens` it covered.
    std::size_t restore_snapshot(std::span<const int32_t> tokens);

    // n-gram drafting. The drafter is built at the first drafting generate and then follows tokens_:
    // what was appended since is counted at the next drafting generate, and whatever rewinds or
    // replaces tokens_ (reset, load) drops it. Sessions that never draft never build it.
    ngram_drafter& synced_drafter();
    void drop_drafter() noexcept;
    // A snapshot of tokens_[0, tokens) was just saved or restored: its sidecar (the drafter's table
    // over the same tokens) is read, or written, when the drafter is next built or synced.
    void note_snapshot(const std::string& path, std::size_t tokens);
    bool read_sidecar(const std::string& path, std::size_t tokens);
    void write_sidecar(const std::string& snapshot, std::size_t tokens);

    model& model_;
    graph_builder g_;
    std::unique_ptr<arch_state> state_;
    int64_t n_ctx_ = 0;
    std::vector<int32_t> tokens_;
    std::vector<double> logits_;
    std::vector<float> logits_f32_;
    std::size_t logit_rows_ = 0;
    sampler sampler_;
    std::unique_ptr<snapshot_store> snapshots_;
    std::unique_ptr<ngram_drafter> drafter_;  // null: not built since the last drop
    struct snapshot_ref {
        std::string path;
        std::size_t tokens = 0;
    };
    // Snapshots of prefixes of tokens_ whose sidecars the drafter has not read or written yet.
    std::vector<snapshot_ref> sidecars_;
    mneme_feed_stats stats_{};
    generation_stats gen_;
    std::atomic<bool> cancel_{false};
    std::atomic<bool> busy_{false};
};

}  // namespace mneme

struct mneme_session : mneme::session {
    using mneme::session::session;
};
