// The session's n-gram drafter across calls and sessions: it follows the context (appended tokens
// counted, rewinds and reloads dropping it), and a snapshot's sidecar carries its table to the next
// session over the same text. However the table was obtained, drafting must propose exactly what a
// fresh session over the same context proposes: same tokens, same draft counters, same passes
// (float64, where a prefill and token-by-token decoding give the same logits).
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <utility>

#include <unistd.h>

#include "model-harness.h"

namespace fs = std::filesystem;
using namespace mneme::test;

namespace {

struct log_capture {
    std::mutex m;
    std::vector<std::string> lines;

    log_capture() { mneme_log_set(on_line, this, MNEME_LOG_LEVEL_DEBUG); }
    ~log_capture() { mneme_log_set(nullptr, nullptr, MNEME_LOG_LEVEL_DEFAULT); }
    static void MNEME_CALL on_line(void* user, mneme_log_level, const char* category, const char* message) {
        auto* self = static_cast<log_capture*>(user);
        std::lock_guard lock(self->m);
        self->lines.push_back(std::string(category) + ": " + message);
    }
    // The lines logged since the last take.
    std::vector<std::string> take() {
        std::lock_guard lock(m);
        return std::exchange(lines, {});
    }
};

std::size_t count(const std::vector<std::string>& lines, const std::string& text) {
    return static_cast<std::size_t>(std::count_if(
        lines.begin(), lines.end(), [&](const std::string& l) { return l.find(text) != std::string::npos; }));
}

struct answer {
    std::vector<int32_t> tokens;
    mneme_generate_result r{};
};

mneme_bool MNEME_CALL collect(void* user, const mneme_token_event* ev) {
    static_cast<std::vector<int32_t>*>(user)->push_back(ev->token);
    return MNEME_TRUE;
}

struct session {
    mneme_session* s = nullptr;
    explicit session(mneme_model* m, const std::string& snapshot_dir = {}) {
        mneme_session_desc sd = MNEME_SESSION_DESC_INIT;
        sd.n_ctx = 768;
        if (!snapshot_dir.empty()) sd.snapshot_dir = snapshot_dir.c_str();
        REQUIRE(mneme_session_create(m, &sd, &s) == MNEME_OK);
    }
    ~session() { mneme_session_destroy(s); }

    mneme_feed_stats feed(const std::vector<int32_t>& t, bool snapshot = false) {
        mneme_feed_desc fd = MNEME_FEED_DESC_INIT;
        if (snapshot) fd.flags = MNEME_FEED_SNAPSHOT;
        REQUIRE(mneme_session_feed_tokens(s, t.data(), t.size(), &fd) == MNEME_OK);
        mneme_feed_stats st{};
        st.struct_size = sizeof(st);
        REQUIRE(mneme_session_last_feed_stats(s, &st) == MNEME_OK);
        return st;
    }
    answer generate(uint32_t n, bool draft) {
        answer a;
        mneme_generate_desc gd = MNEME_GENERATE_DESC_INIT;
        gd.max_tokens = n;
        gd.stop_at_eos = MNEME_FALSE;
        gd.token_fn = collect;
        gd.token_user_data = &a.tokens;
        gd.draft = draft ? MNEME_DRAFT_NGRAM : MNEME_DRAFT_NONE;
        gd.draft_threshold = 0.3f;  // low: rejections and rollbacks are frequent
        gd.draft_max = 6;
        a.r.struct_size = sizeof(a.r);
        const mneme_status st = mneme_session_generate(s, &gd, &a.r);
        INFO(mneme_last_error_message());
        REQUIRE(st == MNEME_OK);
        return a;
    }
};

// What a fresh session fed `context` in one piece answers: the reference every other path must meet.
answer fresh(mneme_model* m, const std::vector<int32_t>& context, uint32_t n) {
    session s(m);
    s.feed(context);
    return s.generate(n, true);
}

void check_same(const answer& got, const answer& want) {
    CHECK(got.tokens == want.tokens);
    CHECK(got.r.n_draft_proposed == want.r.n_draft_proposed);
    CHECK(got.r.n_draft_accepted == want.r.n_draft_accepted);
    CHECK(got.r.n_drafted == want.r.n_drafted);
    CHECK(got.r.n_forward_passes == want.r.n_forward_passes);
}

// Repetitive text: a few random units repeated in random order (code is like this).
std::vector<int32_t> repetitive(mneme_model* m, std::mt19937& rng, std::size_t n) {
    mneme_model_info info{};
    info.struct_size = sizeof(info);
    REQUIRE(mneme_model_get_info(m, &info) == MNEME_OK);
    std::uniform_int_distribution<int32_t> pick(3, static_cast<int32_t>(info.vocab_size) - 1);
    std::vector<std::vector<int32_t>> units(4);
    for (auto& u : units) {
        u.resize(5 + rng() % 6);
        for (auto& t : u) t = pick(rng);
    }
    std::vector<int32_t> out;
    while (out.size() < n) {
        const auto& u = units[rng() % units.size()];
        out.insert(out.end(), u.begin(), u.end());
    }
    out.resize(n);
    return out;
}

std::vector<int32_t> concat(std::vector<int32_t> a, const std::vector<int32_t>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

std::string fresh_dir() {
    static int n = 0;
    const fs::path d =
        fs::temp_directory_path() / ("mneme-draft-sidecar-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    fs::remove_all(d);
    return d.string();
}

std::vector<fs::path> files_with(const std::string& dir, const std::string& ext) {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(dir)) {
        if (e.path().extension() == ext) out.push_back(e.path());
    }
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

TEST_CASE("the session's drafter follows the context across generate and feed calls", "[draft]") {
    loaded_model m(golden_dir("v3-tiny"));
    std::mt19937 rng(31);
    const auto p1 = repetitive(m.get(), rng, 90), p2 = repetitive(m.get(), rng, 25);
    session s(m.get());
    s.feed(p1);
    std::vector<int32_t> history = p1;
    const answer a1 = s.generate(20, true);
    check_same(a1, fresh(m.get(), history, 20));
    history = concat(history, a1.tokens);
    // Tokens fed, then decoded without drafting: both counted at the next drafting call.
    s.feed(p2);
    history = concat(history, p2);
    const answer plain = s.generate(7, false);
    history = concat(history, plain.tokens);
    const answer a2 = s.generate(20, true);
    check_same(a2, fresh(m.get(), history, 20));
    history = concat(history, a2.tokens);
    const answer a3 = s.generate(20, true);
    check_same(a3, fresh(m.get(), history, 20));
    // Drafting never changes greedy output.
    session no_draft(m.get());
    no_draft.feed(history);
    CHECK(no_draft.generate(20, false).tokens == fresh(m.get(), history, 20).tokens);
}

TEST_CASE("reset and loading a state drop the drafter; it is counted again for the new context", "[draft]") {
    loaded_model m(golden_dir("v3-tiny"));
    std::mt19937 rng(32);
    const auto p1 = repetitive(m.get(), rng, 80), p2 = repetitive(m.get(), rng, 60);
    const std::string dir = fresh_dir();
    fs::create_directories(dir);
    const std::string state = dir + "/state.bin";

    session s(m.get());
    s.feed(p1);
    const answer a1 = s.generate(12, true);
    REQUIRE(mneme_session_save_state(s.s, state.c_str()) == MNEME_OK);
    const answer after_save = s.generate(20, true);
    // Back to the saved context: what was generated after the save must no longer be counted.
    REQUIRE(mneme_session_load_state(s.s, state.c_str()) == MNEME_OK);
    check_same(s.generate(20, true), after_save);
    // A new context altogether.
    REQUIRE(mneme_session_reset(s.s) == MNEME_OK);
    s.feed(p2);
    check_same(s.generate(20, true), fresh(m.get(), p2, 20));
    fs::remove_all(dir);
}

TEST_CASE("a snapshot's sidecar is written once drafting is used and read by the next session", "[draft][snapshot]") {
    log_capture logs;
    loaded_model m(golden_dir("v3-tiny"));
    std::mt19937 rng(33);
    const auto code = repetitive(m.get(), rng, 300), q1 = repetitive(m.get(), rng, 20),
               q2 = repetitive(m.get(), rng, 24);
    const std::string dir = fresh_dir();
    const answer want = fresh(m.get(), concat(code, q1), 24);
    logs.take();

    {
        session a(m.get(), dir);
        CHECK(a.feed(code, true).snapshot_saved == MNEME_TRUE);
        a.generate(8, false);
        // Never drafted: no table was built and no sidecar written.
        CHECK(files_with(dir, ".ngram").empty());
        CHECK(count(logs.take(), "n-gram table") == 0);
    }
    {
        session b(m.get(), dir);
        CHECK(b.feed(code, true).tokens_reused == code.size());
        b.feed(q1, true);  // a second snapshot: code + question
        REQUIRE(files_with(dir, ".snap").size() == 2);
        check_same(b.generate(24, true), want);
        // Both snapshots got their sidecar, counted once as the table passed their length.
        CHECK(files_with(dir, ".ngram").size() == 2);
        const auto lines = logs.take();
        CHECK(count(lines, "of them read from a sidecar") == 1);
        CHECK(count(lines, "(0 of them read from a sidecar)") == 1);
    }
    {
        session c(m.get(), dir);
        CHECK(c.feed(concat(code, q1), true).tokens_reused == code.size() + q1.size());
        check_same(c.generate(24, true), want);
        const auto lines = logs.take();
        CHECK(count(lines, "of them read from a sidecar") == 1);
        CHECK(count(lines, "(" + std::to_string(code.size() + q1.size()) + " of them read from a sidecar)") == 1);
        CHECK(count(lines, "ignoring") == 0);
    }
    {
        // Another question over the same code: the code's sidecar is read, the rest counted, and
        // the new snapshot gets its own sidecar.
        session d(m.get(), dir);
        CHECK(d.feed(code, true).tokens_reused == code.size());
        d.feed(q2, true);
        const answer want2 = fresh(m.get(), concat(code, q2), 24);
        logs.take();
        check_same(d.generate(24, true), want2);
        const auto lines = logs.take();
        CHECK(count(lines, "of them read from a sidecar") == 1);
        CHECK(count(lines, "(" + std::to_string(code.size()) + " of them read from a sidecar)") == 1);
        CHECK(files_with(dir, ".ngram").size() == 3);
        // Drafting in use: a later snapshot gets its sidecar when it is saved.
        d.feed(q1, true);
        CHECK(files_with(dir, ".ngram").size() == 4);
        CHECK(count(logs.take(), "of them read from a sidecar") == 0);
    }
    fs::remove_all(dir);
}

TEST_CASE("a corrupt, truncated or foreign sidecar is ignored with a warning and written again", "[draft][snapshot]") {
    log_capture logs;
    loaded_model m(golden_dir("v3-tiny"));
    std::mt19937 rng(34);
    const auto code = repetitive(m.get(), rng, 200), other = repetitive(m.get(), rng, 150);
    const answer want = fresh(m.get(), code, 24);
    const std::string dir = fresh_dir();
    {
        session a(m.get(), dir);
        a.feed(code, true);
        check_same(a.generate(24, true), want);
        session b(m.get(), dir);
        b.feed(other, true);
        b.generate(4, true);
    }
    REQUIRE(files_with(dir, ".ngram").size() == 2);
    std::string code_sidecar, other_sidecar;
    for (const auto& p : files_with(dir, ".snap")) {
        (p.filename().string().find("-200-") != std::string::npos ? code_sidecar : other_sidecar) =
            p.string() + ".ngram";
    }
    REQUIRE(fs::exists(code_sidecar));
    REQUIRE(fs::exists(other_sidecar));
    const auto good_bytes = fs::file_size(code_sidecar);

    const auto damage = [&](const std::string& how) {
        if (how == "flip") {
            std::fstream f(code_sidecar, std::ios::in | std::ios::out | std::ios::binary);
            f.seekp(static_cast<std::streamoff>(good_bytes / 2));
            const char c = static_cast<char>(f.peek());
            f.put(static_cast<char>(c ^ 0x10));
        } else if (how == "truncate") {
            fs::resize_file(code_sidecar, good_bytes / 3);
        } else if (how == "foreign") {
            fs::copy_file(other_sidecar, code_sidecar, fs::copy_options::overwrite_existing);
        } else if (how == "empty") {
            fs::resize_file(code_sidecar, 0);
        }
    };
    for (const std::string how : {"flip", "truncate", "foreign", "empty"}) {
        INFO(how);
        damage(how);
        logs.take();
        {
            session c(m.get(), dir);
            CHECK(c.feed(code, true).tokens_reused == code.size());
            check_same(c.generate(24, true), want);
            const auto lines = logs.take();
            CHECK(count(lines, "ignoring n-gram table") == 1);
            CHECK(count(lines, "(0 of them read from a sidecar)") == 1);
        }
        // Written again: the next session reads it.
        CHECK(fs::file_size(code_sidecar) == good_bytes);
        session d(m.get(), dir);
        d.feed(code, true);
        check_same(d.generate(24, true), want);
        const auto lines = logs.take();
        CHECK(count(lines, "(200 of them read from a sidecar)") == 1);
        CHECK(count(lines, "ignoring") == 0);
    }
    // A sidecar whose snapshot is gone is never read and goes at the next eviction.
    fs::remove(other_sidecar.substr(0, other_sidecar.size() - 6));
    session e(m.get(), dir);
    e.feed(repetitive(m.get(), rng, 40), true);  // saves a snapshot and evicts
    CHECK_FALSE(fs::exists(other_sidecar));
    CHECK(fs::exists(code_sidecar));
    fs::remove_all(dir);
}
