// Abandoning a forward pass half-way (cancel, or an error) on the tiny golden checkpoints of every
// family: the pass is stopped before each of its submissions in turn (one op per submission, so
// before every single op; and five, so with recorded ops not yet submitted), put back with abort_pass, and the state
// must then give exactly the logits of a sequence that never saw the aborted attempts — for the pass run again, and for
// the passes after it. Covers what a pass rewrites in place: V4's window ring, the compressors' held rows when a block
// completes, Engram's convolution history, V3.2's coarse block count.
#include <catch2/catch.hpp>

#include <cstring>
#include <fstream>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "cpu-device.h"
#include "graph/deepseek-v3.h"
#include "graph/deepseek-v4.h"
#include "model/checkpoint.h"
#include "model/config.h"

namespace {

const std::string k_golden = std::string(MNEME_TEST_DATA_DIR) + "/golden/";

std::vector<int32_t> fixture_tokens(const std::string& dir) {
    std::ifstream f(dir + "/tokens.txt");
    std::vector<int32_t> out;
    std::string item;
    while (std::getline(f, item, ',')) out.push_back(static_cast<int32_t>(std::stol(item)));
    return out;
}

// One model with two sequences: `ref` is fed without interruption, `test` with aborted attempts.
struct fixture_run {
    mneme::model_config cfg;
    std::unique_ptr<mneme::checkpoint> ckpt;
    mneme::test::cpu_device dev{MNEME_DTYPE_F32};
    std::unique_ptr<mneme::arch_model> arch;
    std::unique_ptr<mneme::arch_state> ref, test;
    std::vector<int32_t> tokens;

    fixture_run(const std::string& name, int64_t coarse_block, std::size_t batch_ops = 1) {
        const std::string dir = k_golden + name;
        cfg = mneme::load_model_config(dir + "/config.json");
        ckpt = mneme::checkpoint::open(dir);
        if (cfg.is_v4()) {
            arch = mneme::make_deepseek_v4(*ckpt, cfg, dev.g(), mneme::v4_options{});
        } else {
            mneme::v3_options o;
            o.coarse_block = coarse_block;
            arch = mneme::make_deepseek_v3(*ckpt, cfg, dev.g(), o);
        }
        tokens = fixture_tokens(dir);
        ref = arch->new_state(dev.g(), static_cast<int64_t>(tokens.size()));
        test = arch->new_state(dev.g(), static_cast<int64_t>(tokens.size()));
        // 1: every op is a point where a pass can stop. Larger: a pass also stops with ops recorded
        // but not submitted, whose effects (and preserved copies) must then not count.
        dev.g().set_batch_ops(batch_ops);
    }

    std::span<const int32_t> range(std::size_t a, std::size_t b) const {
        return std::span<const int32_t>(tokens).subspan(a, b - a);
    }

    // A pass that completes, as a session runs it.
    std::vector<double> run(mneme::arch_state& st, std::span<const int32_t> t) {
        dev.g().begin_pass({});
        auto out = arch->forward(dev.g(), st, t, true);
        dev.g().end_pass();
        return out;
    }

    // Runs the pass over `t` on `test`, first stopping it before its 0th, 1st, 2nd, ... submission
    // (every `stride`-th) until one attempt completes; returns that attempt's logits. Attempt number
    // `fail_at` stops with a device error instead of a cancel. Counts the aborted attempts.
    std::vector<double> run_with_aborts(std::span<const int32_t> t, std::size_t stride, std::size_t fail_at,
                                        std::size_t& aborted) {
        const int64_t n_past = test->n_past;
        for (std::size_t k = 0;; k += stride) {
            std::size_t calls = 0;
            const bool fail = k == fail_at * stride;
            dev.g().begin_pass([&] {
                if (calls++ < k) return false;
                if (fail) mneme::fail(MNEME_ERROR_OUT_OF_DEVICE_MEMORY, "injected device failure");
                return true;
            });
            try {
                auto out = arch->forward(dev.g(), *test, t, true);
                dev.g().end_pass();
                return out;
            } catch (const mneme::pass_cancelled&) {
                REQUIRE_FALSE(fail);
            } catch (const mneme::error& e) {
                REQUIRE(fail);
                REQUIRE(e.status() == MNEME_ERROR_OUT_OF_DEVICE_MEMORY);
            }
            REQUIRE(dev.g().abort_pass() == nullptr);
            REQUIRE(test->n_past == n_past);
            ++aborted;
        }
    }
};

// Stopping before every op makes the test quadratic in a pass's ops: ~2 s in a release build, ~40 s
// under a sanitizer. Sanitized builds, which look for memory and thread errors on the same paths,
// stop before every third op; release builds check every single one.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr std::size_t k_stop_stride = 3;
#else
constexpr std::size_t k_stop_stride = 1;
#endif

void require_identical(const std::vector<double>& got, const std::vector<double>& want) {
    REQUIRE(got.size() == want.size());
    REQUIRE(std::memcmp(got.data(), want.data(), got.size() * sizeof(double)) == 0);
}

}  // namespace

TEST_CASE("a forward pass stopped before any of its ops leaves the state as if it never ran", "[cancel]") {
    struct plan {
        const char* fixture;
        int64_t coarse_block;
        // prefix | pass A (aborted everywhere) | fill | pass B, one token (aborted everywhere) | tail
        std::size_t a, b, c, d;
    };
    // V4: window 16, compressor ratios 4 and 16. A = [37, 50) runs past the window and completes
    // ratio-4 and ratio-16 blocks; B is the one token at position 63, which completes blocks of both.
    // V3.2's coarse stage only selects among blocks once there are more than 4 * top-k / block
    // tokens' worth of them (80 here): its B sits at position 120.
    const plan p = GENERATE(plan{"v3-tiny", 0, 17, 30, 31, 40}, plan{"v32-tiny", 0, 37, 50, 63, 80},
                            plan{"v32-tiny", 4, 37, 50, 120, 140}, plan{"v4-tiny", 0, 37, 50, 63, 80},
                            plan{"v4e-tiny", 0, 37, 50, 63, 80}, plan{"v4e-conv-tiny", 0, 37, 50, 63, 80});
    const std::size_t batch = GENERATE(1, 5);
    CAPTURE(p.fixture, p.coarse_block, batch);
    fixture_run f(p.fixture, p.coarse_block, batch);
    REQUIRE(f.tokens.size() >= p.d + 1);

    const auto ref_prefix = f.run(*f.ref, f.range(0, p.a));
    const auto ref_a = f.run(*f.ref, f.range(p.a, p.b));
    const auto ref_fill = f.run(*f.ref, f.range(p.b, p.c));
    const auto ref_b = f.run(*f.ref, f.range(p.c, p.c + 1));
    const auto ref_tail = f.run(*f.ref, f.range(p.c + 1, p.d));

    require_identical(f.run(*f.test, f.range(0, p.a)), ref_prefix);
    std::size_t aborted = 0;
    require_identical(f.run_with_aborts(f.range(p.a, p.b), k_stop_stride, 5, aborted), ref_a);
    CAPTURE(aborted);
    CHECK(aborted * batch * k_stop_stride > 100);  // the pass really was stopped at many points
    require_identical(f.run(*f.test, f.range(p.b, p.c)), ref_fill);
    std::size_t aborted_b = 0;
    require_identical(f.run_with_aborts(f.range(p.c, p.c + 1), k_stop_stride, 3, aborted_b), ref_b);
    CHECK(aborted_b * batch * k_stop_stride > 20);
    require_identical(f.run(*f.test, f.range(p.c + 1, p.d)), ref_tail);
}

TEST_CASE("after an aborted pass a different continuation gives the uninterrupted logits", "[cancel]") {
    // The attempt is abandoned half-way; the sequence then goes on with fewer tokens than the
    // attempt had, so state the attempt wrote beyond them must not matter either.
    const char* fixture = GENERATE("v32-tiny", "v4-tiny", "v4e-conv-tiny");
    CAPTURE(fixture);
    fixture_run f(fixture, 0);
    (void)f.run(*f.ref, f.range(0, 37));
    (void)f.run(*f.test, f.range(0, 37));
    const auto want_short = f.run(*f.ref, f.range(37, 41));
    const auto want_rest = f.run(*f.ref, f.range(41, 70));

    // Stop the 37..60 attempt late in the pass, after every layer has written its state.
    std::size_t total = 0;
    {
        auto probe = f.arch->new_state(f.dev.g(), static_cast<int64_t>(f.tokens.size()));
        (void)f.run(*probe, f.range(0, 37));
        f.dev.g().begin_pass([&] {
            ++total;
            return false;
        });
        (void)f.arch->forward(f.dev.g(), *probe, f.range(37, 60), true);
        f.dev.g().end_pass();
    }
    REQUIRE(total > 10);
    std::size_t calls = 0;
    f.dev.g().begin_pass([&] { return ++calls >= total - 2; });
    REQUIRE_THROWS_AS(f.arch->forward(f.dev.g(), *f.test, f.range(37, 60), true), mneme::pass_cancelled);
    REQUIRE(f.dev.g().abort_pass() == nullptr);

    require_identical(f.run(*f.test, f.range(37, 41)), want_short);
    require_identical(f.run(*f.test, f.range(41, 70)), want_rest);
}

TEST_CASE("abort_pass puts back preserved tensors and host state, however much was submitted", "[cancel]") {
    const std::size_t batch = GENERATE(1, 2, 3, 7);
    CAPTURE(batch);
    mneme::test::cpu_device dev(MNEME_DTYPE_F64);
    mneme::graph_builder& g = dev.g();
    g.set_batch_ops(batch);
    std::vector<double> init(32);
    for (std::size_t i = 0; i < init.size(); ++i) init[i] = static_cast<double>(i) - 3.5;
    const mneme_tensor s = dev.constant({4, 8}, init);
    int host = 0;
    // Per row: keep it, double it, keep it again (the older copy must win), add one; and a host
    // counter with its undo.
    const auto pass = [&] {
        for (int64_t i = 0; i < 8; ++i) {
            const mneme_tensor r = mneme::rows_of(s, i, 1);
            g.preserve(r);
            g.scale(r, r, 2.0);
            g.preserve(r);
            g.scale(r, r, 1.0, 1.0);
            g.on_abort([&host, before = host] { host = before; });
            ++host;
        }
        g.flush();
    };
    std::size_t aborted = 0;
    for (std::size_t k = 0;; ++k) {
        std::size_t calls = 0;
        g.begin_pass([&] { return calls++ >= k; });
        try {
            pass();
            g.end_pass();
            break;
        } catch (const mneme::pass_cancelled&) {
            REQUIRE(g.abort_pass() == nullptr);
        }
        ++aborted;
        REQUIRE(g.read(s) == init);
        REQUIRE(host == 0);
    }
    CHECK(aborted >= 32 / batch);
    std::vector<double> want(init);
    for (double& v : want) v = 2 * v + 1;
    CHECK(g.read(s) == want);
    CHECK(host == 8);

    // Outside a pass nothing is kept and nothing is undone.
    g.preserve(s);
    g.on_abort([&host] { host = -1; });
    g.scale(s, s, 0.0);
    g.flush();
    CHECK(g.abort_pass() == nullptr);
    CHECK(host == 8);
    CHECK(g.read(s) == std::vector<double>(32, 0.0));
}
