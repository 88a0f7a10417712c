// Snapshots: a prefilled prefix saved once is reused by later sessions (only the rest is
// evaluated), with identical logits; corrupt snapshots are ignored, never loaded wrongly.
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "model-harness.h"

namespace fs = std::filesystem;
using namespace mneme::test;

namespace {

struct snap_session {
    mneme_session* s = nullptr;
    snap_session(mneme_model* m, const std::string& dir) {
        mneme_session_desc sd = MNEME_SESSION_DESC_INIT;
        sd.n_ctx = 256;
        sd.snapshot_dir = dir.c_str();
        REQUIRE(mneme_session_create(m, &sd, &s) == MNEME_OK);
    }
    ~snap_session() { mneme_session_destroy(s); }

    mneme_feed_stats feed(const std::vector<int32_t>& t, size_t from, size_t to) {
        mneme_feed_desc fd = MNEME_FEED_DESC_INIT;
        fd.flags = MNEME_FEED_SNAPSHOT;
        REQUIRE(mneme_session_feed_tokens(s, t.data() + from, to - from, &fd) == MNEME_OK);
        mneme_feed_stats st{};
        st.struct_size = sizeof(st);
        REQUIRE(mneme_session_last_feed_stats(s, &st) == MNEME_OK);
        return st;
    }
    std::vector<double> logits() const {
        const double* l = nullptr;
        size_t rows = 0, vocab = 0;
        REQUIRE(mneme_session_get_logits_f64(s, &l, &rows, &vocab) == MNEME_OK);
        REQUIRE(rows >= 1);
        return std::vector<double>(l + (rows - 1) * vocab, l + rows * vocab);
    }
};

std::string fresh_dir() {
    static int n = 0;
    const fs::path d = fs::temp_directory_path() / ("mneme-snap-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    fs::remove_all(d);
    return d.string();
}

std::vector<fs::path> snapshot_files(const std::string& dir) {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path());
    return out;
}

}  // namespace

TEST_CASE("a saved prefix is reused by a second session with identical logits", "[snapshot]") {
    const std::string g = golden_dir("v32-tiny");
    const auto tokens = read_tokens(g);
    loaded_model m(g);
    const std::string dir = fresh_dir();

    snap_session a(m.get(), dir);
    auto st = a.feed(tokens, 0, 100);  // the "codebase" prefix
    CHECK(st.tokens_reused == 0);
    CHECK(st.tokens_evaluated == 100);
    CHECK(st.snapshot_saved == MNEME_TRUE);
    a.feed(tokens, 100, 120);  // a first question
    const auto want = a.logits();

    snap_session b(m.get(), dir);
    st = b.feed(tokens, 0, 100);
    CHECK(st.tokens_reused == 100);
    CHECK(st.tokens_evaluated == 0);
    st = b.feed(tokens, 100, 120);
    CHECK(b.logits() == want);

    // A single feed of prefix + a different question reuses the longest saved prefix.
    snap_session c(m.get(), dir);
    st = c.feed(tokens, 0, 130);
    CHECK(st.tokens_reused == 120);
    CHECK(st.tokens_evaluated == 10);
    snap_session fresh(m.get(), fresh_dir());
    fresh.feed(tokens, 0, 130);
    const auto got = c.logits(), ref = fresh.logits();
    for (size_t i = 0; i < got.size(); ++i) CHECK(std::fabs(got[i] - ref[i]) <= 1e-12 * std::max(1.0, std::fabs(ref[i])));
    fs::remove_all(dir);
}

TEST_CASE("a corrupt snapshot is ignored and the prefix evaluated again", "[snapshot]") {
    const std::string g = golden_dir("v3-tiny");
    const auto tokens = read_tokens(g);
    loaded_model m(g);
    const std::string dir = fresh_dir();
    {
        snap_session a(m.get(), dir);
        a.feed(tokens, 0, 30);
    }
    const auto files = snapshot_files(dir);
    REQUIRE(files.size() == 1);
    {
        std::fstream f(files[0], std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(200);
        f.put('\x7f');
    }
    snap_session b(m.get(), dir);
    const auto st = b.feed(tokens, 0, 30);
    CHECK(st.tokens_reused == 0);
    CHECK(st.tokens_evaluated == 30);
    snap_session c(m.get(), fresh_dir());
    c.feed(tokens, 0, 30);
    CHECK(b.logits() == c.logits());
    fs::remove_all(dir);
}

TEST_CASE("snapshots of another model are never used", "[snapshot]") {
    const auto tokens = read_tokens(golden_dir("v3-tiny"));
    loaded_model a(golden_dir("v3-tiny")), b(golden_dir("v3-tiny-sharded"));
    const std::string dir = fresh_dir();
    snap_session sa(a.get(), dir);
    sa.feed(tokens, 0, 20);
    snap_session sb(b.get(), dir);
    CHECK(sb.feed(tokens, 0, 20).tokens_reused == 0);
    fs::remove_all(dir);
}
