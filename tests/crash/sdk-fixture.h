// A golden model opened through the public C API, for the crash writers and their checks: one
// worker thread (so results are bit-for-bit repeatable), warnings collected instead of printed.
#pragma once

#include <mneme/mneme.h>

#include <cstdint>
#include <string>
#include <vector>

namespace mneme::crash {

std::string golden_dir(const std::string& name);
std::vector<int32_t> read_tokens(const std::string& fixture_dir);

class c_model {
  public:
    // Opens `dir`; with `engram_store`, its Engram tables are served from that store. `ok()` is
    // false (and error() says why) when the open failed.
    explicit c_model(const std::string& dir, const std::string& engram_store = "");
    ~c_model();
    c_model(const c_model&) = delete;
    c_model& operator=(const c_model&) = delete;

    bool ok() const noexcept { return model_ != nullptr; }
    const std::string& error() const noexcept { return error_; }
    mneme_runtime* runtime() const noexcept { return rt_; }
    mneme_model* get() const noexcept { return model_; }
    // Warnings the library logged (e.g. why a snapshot was ignored), cleared by the caller.
    std::vector<std::string>& warnings() noexcept { return warnings_; }

  private:
    mneme_runtime* rt_ = nullptr;
    mneme_model* model_ = nullptr;
    std::string error_;
    std::vector<std::string> warnings_;
};

class c_session {
  public:
    explicit c_session(const c_model& m, uint32_t n_ctx, const std::string& snapshot_dir = "");
    ~c_session();
    c_session(const c_session&) = delete;
    c_session& operator=(const c_session&) = delete;

    mneme_session* get() const noexcept { return s_; }
    // Feeds tokens (with MNEME_FEED_SNAPSHOT when `snapshot`); false on an error.
    bool feed(const int32_t* tokens, std::size_t n, bool snapshot = false);
    mneme_feed_stats last_stats() const;
    // Logits of the last fed position (empty when none).
    std::vector<double> last_logits() const;
    uint64_t token_count() const;

  private:
    mneme_session* s_ = nullptr;
};

// Status message of the last failed call on this thread.
std::string last_error();

}  // namespace mneme::crash
