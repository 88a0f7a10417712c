// Sessions through the public API: state save/restore, cancellation, generation determinism,
// stop conditions and the error paths a host hits.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "model-harness.h"

using namespace mneme::test;

namespace {

struct session_ptr {
    mneme_session* s = nullptr;
    ~session_ptr() { mneme_session_destroy(s); }
};

mneme_session* new_session(mneme_model* m, uint32_t n_ctx, const mneme_sampling_params* sp = nullptr) {
    mneme_session_desc sd = MNEME_SESSION_DESC_INIT;
    sd.n_ctx = n_ctx;
    sd.sampling = sp;
    mneme_session* s = nullptr;
    REQUIRE(mneme_session_create(m, &sd, &s) == MNEME_OK);
    return s;
}

std::vector<double> last_logits(mneme_session* s) {
    const double* l = nullptr;
    size_t rows = 0, vocab = 0;
    REQUIRE(mneme_session_get_logits_f64(s, &l, &rows, &vocab) == MNEME_OK);
    REQUIRE(rows >= 1);
    return std::vector<double>(l + (rows - 1) * vocab, l + rows * vocab);
}

std::vector<int32_t> generate_ids(mneme_session* s, uint32_t n) {
    std::vector<int32_t> ids;
    mneme_generate_desc gd = MNEME_GENERATE_DESC_INIT;
    gd.max_tokens = n;
    gd.stop_at_eos = MNEME_FALSE;
    gd.token_user_data = &ids;
    gd.token_fn = [](void* ud, const mneme_token_event* ev) -> mneme_bool {
        static_cast<std::vector<int32_t>*>(ud)->push_back(ev->token);
        return MNEME_TRUE;
    };
    mneme_generate_result r{};
    r.struct_size = sizeof(r);
    REQUIRE(mneme_session_generate(s, &gd, &r) == MNEME_OK);
    REQUIRE(r.n_tokens == n);
    return ids;
}

}  // namespace

TEST_CASE("a saved state restores identical next-token logits and continuation", "[session]") {
    const std::string dir = golden_dir("v32-tiny");
    const auto tokens = read_tokens(dir);
    loaded_model m(dir);
    const std::string path = (std::filesystem::temp_directory_path() / "mneme-test-state.bin").string();

    session_ptr a{new_session(m.get(), 128)};
    REQUIRE(mneme_session_feed_tokens(a.s, tokens.data(), 40, nullptr) == MNEME_OK);
    REQUIRE(mneme_session_save_state(a.s, path.c_str()) == MNEME_OK);
    const auto before = last_logits(a.s);
    const auto cont_a = generate_ids(a.s, 8);

    session_ptr b{new_session(m.get(), 128)};
    REQUIRE(mneme_session_load_state(b.s, path.c_str()) == MNEME_OK);
    uint64_t n = 0;
    REQUIRE(mneme_session_token_count(b.s, &n) == MNEME_OK);
    CHECK(n == 40);
    CHECK(last_logits(b.s) == before);
    CHECK(generate_ids(b.s, 8) == cont_a);

    // A corrupted file is refused and leaves the session untouched.
    {
        std::FILE* f = std::fopen(path.c_str(), "r+b");
        REQUIRE(f);
        std::fseek(f, 100, SEEK_SET);
        std::fputc(0x5a, f);
        std::fclose(f);
    }
    session_ptr c{new_session(m.get(), 128)};
    CHECK(mneme_session_load_state(c.s, path.c_str()) == MNEME_ERROR_INVALID_MODEL);
    CHECK(std::string(mneme_last_error_message()).find("checksum") != std::string::npos);
    REQUIRE(mneme_session_token_count(c.s, &n) == MNEME_OK);
    CHECK(n == 0);
    std::filesystem::remove(path);
}

TEST_CASE("a state saved for another model is refused", "[session]") {
    loaded_model a(golden_dir("v3-tiny")), b(golden_dir("v3-tiny-sharded"));
    const std::string path = (std::filesystem::temp_directory_path() / "mneme-test-state2.bin").string();
    session_ptr s{new_session(a.get(), 16)};
    const std::vector<int32_t> t = {1, 2, 3};
    REQUIRE(mneme_session_feed_tokens(s.s, t.data(), t.size(), nullptr) == MNEME_OK);
    REQUIRE(mneme_session_save_state(s.s, path.c_str()) == MNEME_OK);
    session_ptr other{new_session(b.get(), 16)};
    CHECK(mneme_session_load_state(other.s, path.c_str()) == MNEME_ERROR_INVALID_MODEL);
    CHECK(std::string(mneme_last_error_message()).find("another model") != std::string::npos);
    std::filesystem::remove(path);
}

TEST_CASE("cancelling a prefill keeps the chunks done and continuing gives the uninterrupted logits", "[session]") {
    const std::string dir = golden_dir("v32-tiny");
    const auto tokens = read_tokens(dir);
    loaded_model m(dir);

    session_ptr full{new_session(m.get(), 256)};
    REQUIRE(mneme_session_feed_tokens(full.s, tokens.data(), tokens.size(), nullptr) == MNEME_OK);
    const auto want = last_logits(full.s);

    session_ptr s{new_session(m.get(), 256)};
    mneme_feed_desc fd = MNEME_FEED_DESC_INIT;
    fd.chunk_size = 16;
    int calls = 0;
    fd.progress_user_data = &calls;
    fd.progress_fn = [](void* ud, const mneme_progress* p) -> mneme_bool {
        ++*static_cast<int*>(ud);
        return p->done < 48 ? MNEME_TRUE : MNEME_FALSE;  // cancel after three chunks
    };
    CHECK(mneme_session_feed_tokens(s.s, tokens.data(), tokens.size(), &fd) == MNEME_CANCELLED);
    uint64_t n = 0;
    REQUIRE(mneme_session_token_count(s.s, &n) == MNEME_OK);
    CHECK(n == 48);
    CHECK(calls == 3);
    REQUIRE(mneme_session_feed_tokens(s.s, tokens.data() + n, tokens.size() - n, nullptr) == MNEME_OK);
    const auto got = last_logits(s.s);
    REQUIRE(got.size() == want.size());
    for (size_t i = 0; i < got.size(); ++i) CHECK(std::fabs(got[i] - want[i]) <= 1e-12 * std::max(1.0, std::fabs(want[i])));
}

TEST_CASE("mneme_session_cancel from another thread stops a long generation", "[session]") {
    loaded_model m(golden_dir("v3-tiny"), {MNEME_PRECISION_F32, MNEME_ACT_QUANT_DEFAULT});
    session_ptr s{new_session(m.get(), 4096)};
    const std::vector<int32_t> t = {5, 6, 7};
    REQUIRE(mneme_session_feed_tokens(s.s, t.data(), t.size(), nullptr) == MNEME_OK);
    std::atomic<int> produced{0};
    std::thread canceller([&] {
        while (produced.load() < 5) std::this_thread::yield();
        mneme_session_cancel(s.s);
    });
    mneme_generate_desc gd = MNEME_GENERATE_DESC_INIT;
    gd.max_tokens = 4000;
    gd.stop_at_eos = MNEME_FALSE;
    gd.token_user_data = &produced;
    gd.token_fn = [](void* ud, const mneme_token_event*) -> mneme_bool {
        ++*static_cast<std::atomic<int>*>(ud);
        return MNEME_TRUE;
    };
    mneme_generate_result r{};
    r.struct_size = sizeof(r);
    CHECK(mneme_session_generate(s.s, &gd, &r) == MNEME_CANCELLED);
    canceller.join();
    CHECK(r.n_tokens < 4000);
    CHECK(r.finish == MNEME_CANCELLED);
}

TEST_CASE("sampling is deterministic for a seed and greedy follows the argmax", "[session][sampling]") {
    loaded_model m(golden_dir("v3-tiny"), {MNEME_PRECISION_F32, MNEME_ACT_QUANT_DEFAULT});
    const std::vector<int32_t> prompt = {3, 1, 4, 1, 5};
    mneme_sampling_params sp = MNEME_SAMPLING_PARAMS_INIT;
    sp.temperature = 0.9f;
    sp.top_p = 0.9f;
    sp.seed = 42;
    session_ptr a{new_session(m.get(), 64, &sp)}, b{new_session(m.get(), 64, &sp)};
    REQUIRE(mneme_session_feed_tokens(a.s, prompt.data(), prompt.size(), nullptr) == MNEME_OK);
    REQUIRE(mneme_session_feed_tokens(b.s, prompt.data(), prompt.size(), nullptr) == MNEME_OK);
    CHECK(generate_ids(a.s, 12) == generate_ids(b.s, 12));

    session_ptr g{new_session(m.get(), 64)};  // default: greedy
    REQUIRE(mneme_session_feed_tokens(g.s, prompt.data(), prompt.size(), nullptr) == MNEME_OK);
    const auto logits = last_logits(g.s);
    const auto first = generate_ids(g.s, 1);
    CHECK(first[0] == static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin()));
}

TEST_CASE("feeding past the context or an unknown token is an error that changes nothing", "[session]") {
    loaded_model m(golden_dir("v3-tiny"), {MNEME_PRECISION_F32, MNEME_ACT_QUANT_DEFAULT});
    session_ptr s{new_session(m.get(), 4)};
    const std::vector<int32_t> five = {1, 2, 3, 4, 5};
    CHECK(mneme_session_feed_tokens(s.s, five.data(), five.size(), nullptr) == MNEME_ERROR_CONTEXT_FULL);
    const std::vector<int32_t> bad = {1, 99999};
    CHECK(mneme_session_feed_tokens(s.s, bad.data(), bad.size(), nullptr) == MNEME_ERROR_INVALID_ARGUMENT);
    CHECK(std::string(mneme_last_error_message()).find("99999") != std::string::npos);
    uint64_t n = 7;
    REQUIRE(mneme_session_token_count(s.s, &n) == MNEME_OK);
    CHECK(n == 0);
    mneme_generate_desc gd = MNEME_GENERATE_DESC_INIT;
    CHECK(mneme_session_generate(s.s, &gd, nullptr) == MNEME_ERROR_INVALID_ARGUMENT);  // nothing fed yet
}

TEST_CASE("caches that grow page by page give the logits of one contiguous allocation", "[session][paging]") {
    loaded_model m(golden_dir("v32-tiny"));
    std::vector<int32_t> tokens;
    for (int i = 0; i < 700; ++i) tokens.push_back((i * 37 + 11) % 256);
    // One pass reserves all 700 positions at once; chunks of 64 grow the caches through several pages.
    const auto once = m.logits(tokens, 0);
    const auto grown = m.logits(tokens, 64);
    CHECK(max_relative_error(grown, once) <= 1e-12);
}

TEST_CASE("a session on an ended session's scratch gives the logits of a fresh model", "[session][scratch]") {
    // A new session reuses the scratch buffers the last ended session of its model left (no fresh,
    // zeroed pages): no pass may depend on what they held. Float32 takes the fast kernels.
    for (const char* fixture : {"v32-tiny", "v4-tiny"}) {
        CAPTURE(fixture);
        const std::vector<int32_t> tokens = read_tokens(golden_dir(fixture));
        std::vector<int32_t> other;
        for (int i = 0; i < 150; ++i) other.push_back((i * 53 + 7) % 200);
        const open_options f32{MNEME_PRECISION_F32};
        std::vector<double> fresh;
        {
            loaded_model m(golden_dir(fixture), f32);
            fresh = m.logits(tokens);
        }
        loaded_model m(golden_dir(fixture), f32);
        m.logits(other);      // a longer prompt fills more scratch with other values
        m.logits(other, 16);  // and chunked passes
        const auto reused = m.logits(tokens);
        REQUIRE(reused.size() == fresh.size());
        CHECK(std::equal(reused.begin(), reused.end(), fresh.begin()));
    }
}
