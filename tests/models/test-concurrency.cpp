// Many sessions on one model from many threads, with cancel storms: results must equal a
// single-threaded run and nothing may race (this file runs under ThreadSanitizer in CI).
#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <thread>
#include <vector>

#include "model-harness.h"

using namespace mneme::test;

namespace {

// Logits of every token through a fresh session, without Catch2 macros (they are not thread-safe):
// returns an empty vector on any error.
std::vector<double> logits_in_thread(mneme_model* m, const std::vector<int32_t>& tokens, size_t chunk) {
    mneme_session_desc sd = MNEME_SESSION_DESC_INIT;
    sd.n_ctx = static_cast<uint32_t>(tokens.size());
    mneme_session* s = nullptr;
    if (mneme_session_create(m, &sd, &s) != MNEME_OK) return {};
    std::vector<double> out;
    for (size_t done = 0; done < tokens.size(); done += chunk) {
        const size_t n = std::min(chunk, tokens.size() - done);
        mneme_feed_desc fd = MNEME_FEED_DESC_INIT;
        fd.logits = MNEME_LOGITS_ALL;
        const double* l = nullptr;
        size_t rows = 0, vocab = 0;
        if (mneme_session_feed_tokens(s, tokens.data() + done, n, &fd) != MNEME_OK ||
            mneme_session_get_logits_f64(s, &l, &rows, &vocab) != MNEME_OK || rows != n) {
            mneme_session_destroy(s);
            return {};
        }
        out.insert(out.end(), l, l + rows * vocab);
    }
    mneme_session_destroy(s);
    return out;
}

}  // namespace

TEST_CASE("sessions on one model in parallel threads give the single-threaded logits", "[concurrency]") {
    const std::string dir = golden_dir("v4e-tiny");
    const auto all = read_tokens(dir);
    const std::vector<int32_t> tokens(all.begin(), all.begin() + 40);
    loaded_model m(dir, {MNEME_PRECISION_F32, MNEME_ACT_QUANT_DEFAULT});
    const auto want = m.logits(tokens);

    constexpr int k_threads = 4;
    std::vector<std::vector<double>> got(k_threads);
    std::vector<std::thread> workers;
    for (int t = 0; t < k_threads; ++t) {
        // Different chunkings: the caches of each session must stay its own.
        workers.emplace_back([&, t] { got[t] = logits_in_thread(m.get(), tokens, static_cast<size_t>(t + 1)); });
    }
    for (auto& w : workers) w.join();
    for (int t = 0; t < k_threads; ++t) {
        REQUIRE(got[t].size() == want.size());
        CHECK(max_relative_error(got[t], want) <= 1e-6);
    }
}

TEST_CASE("cancel storms from other threads leave every session usable", "[concurrency]") {
    loaded_model m(golden_dir("v3-tiny"), {MNEME_PRECISION_F32, MNEME_ACT_QUANT_DEFAULT});
    constexpr int k_sessions = 3;
    std::vector<mneme_session*> sessions(k_sessions, nullptr);
    for (auto& s : sessions) {
        mneme_session_desc sd = MNEME_SESSION_DESC_INIT;
        sd.n_ctx = 512;
        REQUIRE(mneme_session_create(m.get(), &sd, &s) == MNEME_OK);
    }
    std::atomic<bool> stop{false};
    std::thread storm([&] {
        while (!stop.load()) {
            for (auto* s : sessions) mneme_session_cancel(s);
            std::this_thread::yield();
        }
    });
    std::vector<std::thread> workers;
    std::atomic<int> failures{0};
    for (int i = 0; i < k_sessions; ++i) {
        workers.emplace_back([&, i] {
            std::vector<int32_t> prompt(64);
            for (size_t j = 0; j < prompt.size(); ++j) prompt[j] = static_cast<int32_t>((j * 7 + static_cast<size_t>(i)) % 200);
            for (int round = 0; round < 5; ++round) {
                if (mneme_session_reset(sessions[i]) != MNEME_OK) ++failures;
                mneme_feed_desc fd = MNEME_FEED_DESC_INIT;
                fd.chunk_size = 8;
                const mneme_status st = mneme_session_feed_tokens(sessions[i], prompt.data(), prompt.size(), &fd);
                if (st != MNEME_OK && st != MNEME_CANCELLED) ++failures;
                uint64_t n = 0;
                if (mneme_session_token_count(sessions[i], &n) != MNEME_OK || n > prompt.size() || n % 8 != 0) ++failures;
            }
        });
    }
    for (auto& w : workers) w.join();
    stop = true;
    storm.join();
    CHECK(failures.load() == 0);
    // After the storm, a call runs to completion (a cancel sent while idle does not leak into it).
    const std::vector<int32_t> t = {1, 2, 3, 4};
    for (auto* s : sessions) {
        REQUIRE(mneme_session_reset(s) == MNEME_OK);
        CHECK(mneme_session_feed_tokens(s, t.data(), t.size(), nullptr) == MNEME_OK);
        mneme_session_destroy(s);
    }
}
