// A device that fails in the middle of a forward pass (tests/models/faulty-plugin.cpp: the CPU
// backend whose queue fails like a GPU after a kernel fault). The call returns the device's error
// with its message, and the session is left in a defined state: after a transient fault exactly
// as before the failed chunk or token (caches, token count and logits), so it continues as if the
// fault never happened; after a lost device (the undo fails too) with an empty context, which
// works again once the device does.
#include <dlfcn.h>
#include <mneme/mneme.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <string>
#include <vector>

#include "model-harness.h"

namespace {

using arm_fn = int64_t (*)(int64_t after, int persist);

class faulty_model {
  public:
    explicit faulty_model(const std::string& dir) {
        mneme_runtime_desc rd = MNEME_RUNTIME_DESC_INIT;
        rd.n_threads = 2;
        rd.log_level = MNEME_LOG_LEVEL_OFF;
        const char* paths[] = {MNEME_FAULTY_PLUGIN};
        rd.plugin_paths = paths;
        rd.plugin_path_count = 1;
        REQUIRE(mneme_runtime_create(&rd, &rt_) == MNEME_OK);
        mneme_model_desc md = MNEME_MODEL_DESC_INIT;
        md.precision = MNEME_PRECISION_F32;
        md.backend = "faulty";
        const mneme_status st = mneme_model_open(rt_, dir.c_str(), &md, &model_);
        INFO(mneme_last_error_message());
        REQUIRE(st == MNEME_OK);
        // The runtime loaded the module; this finds the same copy.
        module_ = dlopen(MNEME_FAULTY_PLUGIN, RTLD_NOW | RTLD_NOLOAD);
        REQUIRE(module_ != nullptr);
        arm = reinterpret_cast<arm_fn>(dlsym(module_, "mneme_faulty_arm"));
        REQUIRE(arm != nullptr);
    }
    ~faulty_model() {
        arm(-1, 0);
        mneme_model_destroy(model_);
        mneme_runtime_destroy(rt_);
        dlclose(module_);
    }
    faulty_model(const faulty_model&) = delete;
    faulty_model& operator=(const faulty_model&) = delete;

    mneme_model* get() const { return model_; }
    arm_fn arm = nullptr;

  private:
    mneme_runtime* rt_ = nullptr;
    mneme_model* model_ = nullptr;
    void* module_ = nullptr;
};

struct session_ptr {
    mneme_session* s = nullptr;
    explicit session_ptr(mneme_model* m) {
        mneme_session_desc sd = MNEME_SESSION_DESC_INIT;
        sd.n_ctx = 256;
        REQUIRE(mneme_session_create(m, &sd, &s) == MNEME_OK);
    }
    ~session_ptr() { mneme_session_destroy(s); }
    session_ptr(const session_ptr&) = delete;
    session_ptr& operator=(const session_ptr&) = delete;
};

// The last row of logits in both precisions (they must agree: the float copy is not stale).
std::vector<double> logits_of(mneme_session* s) {
    const double* l = nullptr;
    const float* f = nullptr;
    size_t rows = 0, vocab = 0, rows_f = 0, vocab_f = 0;
    REQUIRE(mneme_session_get_logits_f64(s, &l, &rows, &vocab) == MNEME_OK);
    REQUIRE(mneme_session_get_logits(s, &f, &rows_f, &vocab_f) == MNEME_OK);
    REQUIRE(rows_f == rows);
    if (rows == 0) return {};
    for (size_t i = 0; i < vocab; ++i)
        REQUIRE(f[(rows - 1) * vocab + i] == static_cast<float>(l[(rows - 1) * vocab + i]));
    return std::vector<double>(l + (rows - 1) * vocab, l + rows * vocab);
}

uint64_t count_of(mneme_session* s) {
    uint64_t n = 0;
    REQUIRE(mneme_session_token_count(s, &n) == MNEME_OK);
    return n;
}

mneme_status feed(mneme_session* s, const std::vector<int32_t>& t, std::size_t from, std::size_t to) {
    return mneme_session_feed_tokens(s, t.data() + from, to - from, nullptr);
}

mneme_status greedy(mneme_session* s, uint32_t n, std::vector<int32_t>& ids) {
    mneme_generate_desc gd = MNEME_GENERATE_DESC_INIT;
    gd.max_tokens = n;
    gd.stop_at_eos = MNEME_FALSE;
    gd.token_user_data = &ids;
    gd.token_fn = [](void* ud, const mneme_token_event* ev) -> mneme_bool {
        static_cast<std::vector<int32_t>*>(ud)->push_back(ev->token);
        return MNEME_TRUE;
    };
    return mneme_session_generate(s, &gd, nullptr);
}

bool identical(const std::vector<double>& a, const std::vector<double>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

}  // namespace

TEST_CASE("a device fault inside a pass returns its error and leaves the session as before", "[session][faults]") {
    const char* fixture = GENERATE("v32-tiny", "v4e-conv-tiny");
    CAPTURE(fixture);
    const std::string dir = mneme::test::golden_dir(fixture);
    const auto tokens = mneme::test::read_tokens(dir);
    const std::size_t prefix = 37, end = 61;
    faulty_model m(dir);

    session_ptr ref(m.get());
    REQUIRE(feed(ref.s, tokens, 0, prefix) == MNEME_OK);
    const auto want_prefix = logits_of(ref.s);
    const int64_t before_chunk = m.arm(-1, 0);
    REQUIRE(feed(ref.s, tokens, prefix, end) == MNEME_OK);
    const int64_t chunk_submits = m.arm(-1, 0) - before_chunk;
    const auto want_end = logits_of(ref.s);
    std::vector<int32_t> want_ids;
    const int64_t before_decode = m.arm(-1, 0);
    REQUIRE(greedy(ref.s, 8, want_ids) == MNEME_OK);
    const int64_t decode_submits = m.arm(-1, 0) - before_decode;
    REQUIRE(chunk_submits > 4);
    REQUIRE(decode_submits > 16);

    SECTION("transient: the failed chunk left no trace") {
        session_ptr s(m.get());
        REQUIRE(feed(s.s, tokens, 0, prefix) == MNEME_OK);
        m.arm(chunk_submits / 2, 0);
        CHECK(feed(s.s, tokens, prefix, end) == MNEME_ERROR_DEVICE_LOST);
        CHECK(std::string(mneme_last_error_message()).find("cudaErrorIllegalAddress") != std::string::npos);
        CHECK(count_of(s.s) == prefix);
        CHECK(identical(logits_of(s.s), want_prefix));
        REQUIRE(feed(s.s, tokens, prefix, end) == MNEME_OK);
        CHECK(identical(logits_of(s.s), want_end));
        std::vector<int32_t> ids;
        REQUIRE(greedy(s.s, 8, ids) == MNEME_OK);
        CHECK(ids == want_ids);
    }

    SECTION("transient, while generating: the context keeps the tokens fed before the fault") {
        session_ptr s(m.get());
        REQUIRE(feed(s.s, tokens, 0, end) == MNEME_OK);
        m.arm(decode_submits / 2, 0);  // about half-way through the 8 tokens
        std::vector<int32_t> ids;
        CHECK(greedy(s.s, 8, ids) == MNEME_ERROR_DEVICE_LOST);
        const uint64_t fed = count_of(s.s) - end;
        CHECK(fed > 0);
        REQUIRE(fed < 8);
        REQUIRE(ids.size() == fed + 1);  // the token of the failed pass was streamed, not fed
        // Its logits are still those the streamed token came from: generation carries on exactly.
        std::vector<int32_t> more;
        REQUIRE(greedy(s.s, static_cast<uint32_t>(8 - fed), more) == MNEME_OK);
        ids.resize(fed);
        ids.insert(ids.end(), more.begin(), more.end());
        CHECK(ids == want_ids);
    }

    SECTION("persistent: the context is dropped, and works again with the device") {
        session_ptr s(m.get());
        REQUIRE(feed(s.s, tokens, 0, prefix) == MNEME_OK);
        m.arm(chunk_submits / 2, 1);
        CHECK(feed(s.s, tokens, prefix, end) == MNEME_ERROR_DEVICE_LOST);
        CHECK(std::string(mneme_last_error_message()).find("cudaErrorIllegalAddress") != std::string::npos);
        CHECK(count_of(s.s) == 0);
        CHECK(logits_of(s.s).empty());
        std::vector<int32_t> ids;
        CHECK(greedy(s.s, 1, ids) == MNEME_ERROR_INVALID_ARGUMENT);  // nothing to continue from
        m.arm(-1, 0);
        REQUIRE(feed(s.s, tokens, 0, prefix) == MNEME_OK);
        CHECK(identical(logits_of(s.s), want_prefix));
        REQUIRE(feed(s.s, tokens, prefix, end) == MNEME_OK);
        CHECK(identical(logits_of(s.s), want_end));
    }
}
