// Crash test of MNEME_FEED_SNAPSHOT snapshots: the writer feeds token sequences that depend on
// (seed, cycle) in two steps with snapshots on, so each cycle saves two new snapshots, and reports
// each. After each kill: only snapshots and temporary files are in the folder; every reported
// snapshot is there; every snapshot is one the writer was saving; each is used by a new session
// (no warning, every token reused) with exactly the logits of a fresh prefill, and continuing
// from it gives exactly the fresh prefill's next logits. Temporary files left by kills are removed
// by a later save once they are stale.
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <set>

#include "kill-loop.h"
#include "kinds.h"
#include "sdk-fixture.h"
#include "session/atomic-file.h"
#include "session/snapshot-store.h"

namespace mneme::crash {
namespace {

namespace fs = std::filesystem;
constexpr int k_cycles = 3;

struct cycle_plan {
    std::vector<int32_t> tokens;
    std::size_t first = 0, second = 0;  // the two prefix lengths saved
};

// Golden tokens drawn at random from (seed, c), so every cycle's prefixes are new.
cycle_plan plan(const std::vector<int32_t>& golden, uint64_t seed, int c) {
    const uint64_t h = mix(seed, static_cast<uint64_t>(c));
    cycle_plan p;
    for (std::size_t k = 0; k < golden.size(); ++k)
        p.tokens.push_back(golden[mix(seed, static_cast<uint64_t>(c), k + 1) % golden.size()]);
    p.first = 8 + (h >> 16) % 16;
    p.second = p.first + 4 + (h >> 24) % 16;
    return p;
}

std::string name_suffix(const cycle_plan& p, std::size_t n) {
    char hex[17];
    std::snprintf(hex, sizeof(hex), "%016llx",
                  static_cast<unsigned long long>(snapshot_store::prefix_hash(std::span(p.tokens).first(n))));
    return "-" + std::to_string(n) + "-" + hex + ".snap";
}

bool ends_with(const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

int mode_of(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? static_cast<int>(st.st_mode & 0777) : -1;
}

}  // namespace

int write_snapshots(const std::string& dir, uint64_t seed) {
    const std::string g = golden_dir("v3-tiny");
    const auto golden = read_tokens(g);
    c_model m(g);
    c_session s(m, static_cast<uint32_t>(golden.size()), dir);
    if (!s.get()) return 1;
    for (int c = 0; c < k_cycles; ++c) {
        const cycle_plan p = plan(golden, seed, c);
        if (mneme_session_reset(s.get()) != MNEME_OK || !s.feed(p.tokens.data(), p.first, true)) return 1;
        report("saved " + std::to_string(c) + " 1");
        if (!s.feed(p.tokens.data() + p.first, p.second - p.first, true)) return 1;
        report("saved " + std::to_string(c) + " 2");
    }
    return 0;
}

int check_snapshots() {
    kill_loop loop("snapshots", 60);
    scratch_dir d("snapshots");
    const std::string dir = d.path + "/snaps";
    const std::string g = golden_dir("v3-tiny");
    const auto golden = read_tokens(g);
    c_model m(g);
    loop.expect(m.ok(), "the golden V3 model opens: " + m.error());
    if (!m.ok()) return loop.finish("no model");
    const auto n_ctx = static_cast<uint32_t>(golden.size());

    // A snapshot of `p` at `n` tokens: used whole by a new session, logits exactly those of a fresh
    // prefill in the writer's steps, and the same next logits after one more token.
    auto verify_file = [&](const cycle_plan& p, std::size_t n) {
        c_session fresh(m, n_ctx);
        if (n == p.second) fresh.feed(p.tokens.data(), p.first);
        fresh.feed(p.tokens.data() + (n == p.second ? p.first : 0), n == p.second ? p.second - p.first : n);
        const auto want = fresh.last_logits();
        fresh.feed(p.tokens.data() + n, 1);
        const auto want_next = fresh.last_logits();

        m.warnings().clear();
        c_session s(m, n_ctx, dir);
        s.feed(p.tokens.data(), n, true);
        const auto st = s.last_stats();
        loop.expect(st.tokens_reused == n && m.warnings().empty(),
                    "a snapshot on disk is used whole (" + std::to_string(st.tokens_reused) + " of " +
                        std::to_string(n) + " tokens reused" +
                        (m.warnings().empty() ? "" : "; " + m.warnings().front()) + ")");
        loop.expect(s.last_logits() == want, "a restored snapshot has the fresh prefill's logits");
        s.feed(p.tokens.data() + n, 1);
        loop.expect(s.last_logits() == want_next, "continuing from a snapshot gives the fresh prefill's next logits");
    };

    const uint64_t first_seed = loop.rng()();
    const writer_run full = loop.run({"write", "snapshots", dir, std::to_string(first_seed)}, -1);
    loop.expect(full.exited_ok && full.reports.size() == 2 * k_cycles, "an uninterrupted writer saves every snapshot");
    const double span = full.seconds * 1.1;
    loop.expect(mode_of(dir) == 0700, "the snapshot folder is user-only (0700)");

    std::set<std::string> verified;  // file names checked in earlier kills
    for (const auto& e : fs::directory_iterator(dir)) verified.insert(e.path().filename().string());
    int checked = 0, in_flight = 0;
    std::set<std::string> temps;  // temporary files of killed saves
    for (int i = 0; i < loop.kills(); ++i) {
        const uint64_t seed = loop.rng()();
        const double delay = loop.random_delay(span);
        loop.set_iteration(i, delay);
        const writer_run r = loop.run({"write", "snapshots", dir, std::to_string(seed)}, delay);
        // Saves in the writer's order: (cycle, step) as index 2c + step - 1. Those reported must
        // be there; the one after them may be.
        const int reported = static_cast<int>(r.reports.size());
        std::map<std::string, std::pair<int, std::size_t>> expected;  // name suffix -> (save index, tokens)
        std::vector<cycle_plan> plans;
        for (int c = 0; c < k_cycles; ++c) plans.push_back(plan(golden, seed, c));
        for (int k = 0; k <= std::min(reported, 2 * k_cycles - 1); ++k) {
            const cycle_plan& p = plans[static_cast<std::size_t>(k / 2)];
            const std::size_t n = k % 2 ? p.second : p.first;
            expected[name_suffix(p, n)] = {k, n};
        }
        std::vector<std::string> names;
        for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
        for (const auto& [suffix, what] : expected) {
            const bool there =
                std::any_of(names.begin(), names.end(), [&](const std::string& n) { return ends_with(n, suffix); });
            loop.expect(there || what.first == reported,
                        "reported snapshot " + std::to_string(what.first) + " is there");
        }
        for (const std::string& name : names) {
            const fs::path path = fs::path(dir) / name;
            if (is_atomic_temp_name(name)) {
                temps.insert(name);
                continue;
            }
            if (verified.count(name)) continue;
            loop.expect(path.extension() == ".snap", "only snapshots and temporary files: " + name);
            loop.expect(mode_of(path.string()) == 0600, "a snapshot is user-only (0600): " + name);
            bool known = false;
            for (const auto& [suffix, what] : expected) {
                if (!ends_with(name, suffix)) continue;
                known = true;
                if (what.first == reported) ++in_flight;
                verify_file(plans[static_cast<std::size_t>(what.first / 2)], what.second);
                ++checked;
            }
            loop.expect(known, "every snapshot is one the writer saved: " + name);
            verified.insert(name);
        }
    }
    // Temporary files of killed saves: once stale, the next save removes them.
    int left = 0;
    for (const auto& e : fs::directory_iterator(dir)) {
        if (!is_atomic_temp_name(e.path().filename().string())) continue;
        fs::last_write_time(e.path(), fs::file_time_type::clock::now() - std::chrono::hours(1));
        ++left;
    }
    loop.set_iteration(loop.kills(), -1);
    loop.expect(loop.run({"write", "snapshots", dir, std::to_string(loop.rng()())}, -1).exited_ok,
                "a last writer finishes");
    for (const auto& e : fs::directory_iterator(dir)) {
        loop.expect(!is_atomic_temp_name(e.path().filename().string()),
                    "stale temporary files are removed: " + e.path().string());
    }
    return loop.finish(std::to_string(loop.kills()) + " kills survived; " + std::to_string(checked) +
                       " snapshots restored with identical logits (" + std::to_string(in_flight) +
                       " saved in flight), " + std::to_string(temps.size()) +
                       " temporary files of killed saves ignored (" + std::to_string(left) +
                       " left at the end, removed once stale)");
}

}  // namespace mneme::crash
