// mneme_session_cancel during a prefill pass on the backend under test, through the public API: a
// feed of two chunks is cancelled from another thread while its second pass runs. The session must
// keep the first chunk and nothing of the second, with the logits of the first, and then continue
// (the second chunk, then greedy generation) exactly as a session that was never interrupted.
// Where the cancel lands is up to timing (it is sent half a pass after the first chunk, then
// sooner); what it leaves behind is checked wherever it landed. tests/unit/test-pass-cancel.cpp
// stops passes before every single op deterministically, on the CPU.
#include <mneme/mneme.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "model-harness.h"
#include "plugin-device.h"

namespace bt = mneme::backend_test;

namespace {

using clock_type = std::chrono::steady_clock;

class opened_model {
  public:
    opened_model(const std::string& dir, const std::string& backend) {
        mneme_runtime_desc rd = MNEME_RUNTIME_DESC_INIT;
        rd.n_threads = 2;
        REQUIRE(mneme_runtime_create(&rd, &rt_) == MNEME_OK);
        mneme_model_desc md = MNEME_MODEL_DESC_INIT;
        md.precision = MNEME_PRECISION_F32;
        md.backend = backend.c_str();
        const mneme_status st = mneme_model_open(rt_, dir.c_str(), &md, &model_);
        INFO(mneme_last_error_message());
        REQUIRE(st == MNEME_OK);
    }
    ~opened_model() {
        mneme_model_destroy(model_);
        mneme_runtime_destroy(rt_);
    }
    opened_model(const opened_model&) = delete;
    opened_model& operator=(const opened_model&) = delete;
    mneme_model* get() const { return model_; }

  private:
    mneme_runtime* rt_ = nullptr;
    mneme_model* model_ = nullptr;
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

std::vector<double> logits_of(mneme_session* s) {
    const double* l = nullptr;
    size_t rows = 0, vocab = 0;
    REQUIRE(mneme_session_get_logits_f64(s, &l, &rows, &vocab) == MNEME_OK);
    REQUIRE(rows == 1);
    return std::vector<double>(l, l + vocab);
}

uint64_t count_of(mneme_session* s) {
    uint64_t n = 0;
    REQUIRE(mneme_session_token_count(s, &n) == MNEME_OK);
    return n;
}

mneme_status feed(mneme_session* s, const std::vector<int32_t>& t, std::size_t from, std::size_t to,
                  const mneme_feed_desc* fd = nullptr) {
    return mneme_session_feed_tokens(s, t.data() + from, to - from, fd);
}

std::vector<int32_t> greedy(mneme_session* s, uint32_t n) {
    std::vector<int32_t> ids;
    mneme_generate_desc gd = MNEME_GENERATE_DESC_INIT;
    gd.max_tokens = n;
    gd.stop_at_eos = MNEME_FALSE;
    gd.token_user_data = &ids;
    gd.token_fn = [](void* ud, const mneme_token_event* ev) -> mneme_bool {
        static_cast<std::vector<int32_t>*>(ud)->push_back(ev->token);
        return MNEME_TRUE;
    };
    REQUIRE(mneme_session_generate(s, &gd, nullptr) == MNEME_OK);
    return ids;
}

bool identical(const std::vector<double>& a, const std::vector<double>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(double)) == 0;
}

// Sends mneme_session_cancel `delay` after the feed's progress callback reports its first chunk
// (or after construction, with `at_once`). With `until_stopped` it then keeps sending them until
// destroyed, yielding in between: cancels that reach an idle session are dropped, so the first one
// sent while the call runs lands, provided the scheduler runs this thread during the call.
struct canceller {
    mneme_session* s;
    std::chrono::microseconds delay;
    bool until_stopped;
    std::mutex mutex;
    std::condition_variable cv;
    bool first_chunk_done = false;
    std::atomic<bool> stop{false};
    std::thread thread;

    canceller(mneme_session* session, std::chrono::microseconds d, bool at_once = false, bool repeat = false)
        : s(session), delay(d), until_stopped(repeat), first_chunk_done(at_once) {
        thread = std::thread([this] {
            std::unique_lock lock(mutex);
            cv.wait(lock, [this] { return first_chunk_done; });
            lock.unlock();
            std::this_thread::sleep_for(delay);
            do {
                mneme_session_cancel(s);
                if (until_stopped) std::this_thread::yield();
            } while (until_stopped && !stop.load());
        });
    }
    ~canceller() {
        {
            std::lock_guard lock(mutex);
            first_chunk_done = true;  // also when the feed failed before its first chunk
        }
        stop.store(true);
        cv.notify_one();
        thread.join();
    }

    static mneme_bool MNEME_CALL progress(void* self, const mneme_progress*) {
        auto* c = static_cast<canceller*>(self);
        // No delay: cancel here, on the feeding thread, so it lands whatever the scheduler does with
        // the canceller thread on a loaded machine (it is then seen at the next check).
        if (c->delay.count() == 0) mneme_session_cancel(c->s);
        {
            std::lock_guard lock(c->mutex);
            c->first_chunk_done = true;
        }
        c->cv.notify_one();
        return MNEME_TRUE;
    }
};

void check_cancel(const std::string& fixture, std::size_t prefix, std::size_t chunk) {
    const std::string& backend = bt::backend_under_test();
    const std::string dir = mneme::test::golden_dir(fixture);
    const auto tokens = mneme::test::read_tokens(dir);
    REQUIRE(tokens.size() >= prefix + 2 * chunk);
    const std::size_t mid = prefix + chunk, end = prefix + 2 * chunk;
    opened_model m(dir, backend);

    // The uninterrupted sequence, with the same pass boundaries (results may depend on them).
    session_ptr ref(m.get());
    REQUIRE(feed(ref.s, tokens, 0, prefix) == MNEME_OK);
    const auto want_prefix = logits_of(ref.s);
    REQUIRE(feed(ref.s, tokens, prefix, mid) == MNEME_OK);
    const auto want_mid = logits_of(ref.s);
    REQUIRE(feed(ref.s, tokens, mid, end) == MNEME_OK);
    const auto want_end = logits_of(ref.s);
    const auto want_ids = greedy(ref.s, 4);
    const auto want_after = logits_of(ref.s);

    // How long the second chunk's pass takes in a session like those below, which start on the
    // scratch an ended session left: the reference's passes, the model's first, also page-fault
    // through fresh scratch and can take many times longer, which would put the delays below past
    // the end of every pass.
    std::chrono::microseconds pass{};
    for (int i = 0; i < 2; ++i) {
        session_ptr t(m.get());
        REQUIRE(feed(t.s, tokens, 0, prefix) == MNEME_OK);
        const auto t0 = clock_type::now();
        REQUIRE(feed(t.s, tokens, prefix, mid) == MNEME_OK);
        pass = std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now() - t0);
    }

    bool cancelled = false;
    for (auto delay = pass / 2; !cancelled; delay /= 4) {
        session_ptr s(m.get());
        REQUIRE(feed(s.s, tokens, 0, prefix) == MNEME_OK);
        REQUIRE(identical(logits_of(s.s), want_prefix));
        mneme_status st;
        {
            canceller c(s.s, delay);
            mneme_feed_desc fd = MNEME_FEED_DESC_INIT;
            fd.chunk_size = static_cast<uint32_t>(chunk);
            fd.progress_fn = &canceller::progress;
            fd.progress_user_data = &c;
            st = feed(s.s, tokens, prefix, end, &fd);
        }
        std::printf("%s on %s: cancel %lld us after the first chunk (a pass takes %lld us): %s\n", fixture.c_str(),
                    backend.c_str(), static_cast<long long>(delay.count()), static_cast<long long>(pass.count()),
                    st == MNEME_CANCELLED ? "cancelled" : "completed first");
        if (st == MNEME_OK) {
            CHECK(identical(logits_of(s.s), want_end));
            REQUIRE(delay.count() > 0);  // a cancel sent at once must land before the pass ends
            continue;
        }
        REQUIRE(st == MNEME_CANCELLED);
        cancelled = true;
        CHECK(count_of(s.s) == mid);  // the first chunk, nothing of the second
        CHECK(identical(logits_of(s.s), want_mid));
        REQUIRE(feed(s.s, tokens, mid, end) == MNEME_OK);
        CHECK(identical(logits_of(s.s), want_end));
        CHECK(greedy(s.s, 4) == want_ids);
        CHECK(identical(logits_of(s.s), want_after));
    }

    // Cancelled inside the only pass of a feed: nothing changes, the logits of the prefix included.
    // A cancel sent before the call starts is dropped and one sent after it ends does nothing, so the
    // cancels start at delays from 0 to twice the pass time and repeat until the call returns.
    // On a loaded machine (the suite runs tests side by side) a pass of these small models can end
    // before the canceller thread is scheduled at all: try for a while rather than a fixed number
    // of times.
    cancelled = false;
    const auto give_up = clock_type::now() + std::chrono::seconds(20);
    for (int attempt = 0; !cancelled && (attempt < 40 || clock_type::now() < give_up); ++attempt) {
        const auto delay = pass * (attempt % 20) / 10;
        session_ptr s(m.get());
        REQUIRE(feed(s.s, tokens, 0, prefix) == MNEME_OK);
        mneme_feed_desc fd = MNEME_FEED_DESC_INIT;
        fd.chunk_size = static_cast<uint32_t>(chunk);
        mneme_status st;
        {
            canceller c(s.s, delay, true, true);
            st = feed(s.s, tokens, prefix, mid, &fd);
        }
        std::printf("%s on %s: cancel %lld us into a one-pass feed: %s\n", fixture.c_str(), backend.c_str(),
                    static_cast<long long>(delay.count()), st == MNEME_CANCELLED ? "cancelled" : "completed first");
        if (st != MNEME_CANCELLED) continue;  // the thread was late (or very early: dropped)
        cancelled = true;
        CHECK(count_of(s.s) == prefix);
        CHECK(identical(logits_of(s.s), want_prefix));
        REQUIRE(feed(s.s, tokens, prefix, end, &fd) == MNEME_OK);
        CHECK(identical(logits_of(s.s), want_end));
    }
    CHECK(cancelled);
}

}  // namespace

TEST_CASE("a cancel during a V3.2 prefill pass leaves the session as before that chunk", "[cancel]") {
    check_cancel("v32-tiny", 37, 48);
}

TEST_CASE("a cancel during a V4 + Engram prefill pass leaves the session as before that chunk", "[cancel]") {
    check_cancel("v4e-conv-tiny", 37, 24);
}
