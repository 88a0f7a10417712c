// Crash test of mneme_session_save_state: the writer feeds the golden V3 tokens in fixed pieces and
// saves the state over the same file after each piece, round after round, reporting each save.
// After each kill the file loads (a save is all or nothing), holds the last reported state or the
// one in flight (never an older one), gives exactly the logits of a fresh prefill to that point,
// and continuing from it gives exactly the logits of a fresh prefill of the next piece.
#include <sys/stat.h>

#include <filesystem>

#include "kill-loop.h"
#include "kinds.h"
#include "sdk-fixture.h"
#include "session/atomic-file.h"

namespace mneme::crash {
namespace {

namespace fs = std::filesystem;
constexpr int k_rounds = 3;
constexpr std::size_t k_bounds[] = {7, 19, 30, 41, 48};  // piece ends in the 48 golden tokens
constexpr int k_pieces = static_cast<int>(std::size(k_bounds));

std::size_t piece_begin(int i) {
    return i == 0 ? 0 : k_bounds[i - 1];
}

}  // namespace

int write_session_state(const std::string& dir, uint64_t) {
    const std::string g = golden_dir("v3-tiny");
    const auto tokens = read_tokens(g);
    c_model m(g);
    c_session s(m, static_cast<uint32_t>(tokens.size()));
    if (!s.get()) return 1;
    const std::string path = dir + "/state.bin";
    for (int round = 0; round < k_rounds; ++round) {
        if (mneme_session_reset(s.get()) != MNEME_OK) return 1;
        for (int i = 0; i < k_pieces; ++i) {
            if (!s.feed(tokens.data() + piece_begin(i), k_bounds[i] - piece_begin(i))) return 1;
            if (mneme_session_save_state(s.get(), path.c_str()) != MNEME_OK) {
                std::fprintf(stderr, "%s\n", last_error().c_str());
                return 1;
            }
            report("saved " + std::to_string(i));
        }
    }
    return 0;
}

int check_session_state() {
    kill_loop loop("session-state", 60);
    scratch_dir d("session-state");
    const std::string path = d.path + "/state.bin";
    const std::string g = golden_dir("v3-tiny");
    const auto tokens = read_tokens(g);
    c_model m(g);
    loop.expect(m.ok() && tokens.size() == k_bounds[k_pieces - 1], "the golden V3 model opens: " + m.error());
    if (loop.failures()) return loop.finish("no model");
    // Logits at every piece end, fed in the writer's pieces.
    std::vector<std::vector<double>> want(k_pieces);
    {
        c_session s(m, static_cast<uint32_t>(tokens.size()));
        for (int i = 0; i < k_pieces; ++i) {
            s.feed(tokens.data() + piece_begin(i), k_bounds[i] - piece_begin(i));
            want[static_cast<std::size_t>(i)] = s.last_logits();
        }
    }
    const writer_run full = loop.run({"write", "session-state", d.path, "0"}, -1);
    loop.expect(full.exited_ok && full.reports.size() == k_rounds * k_pieces,
                "an uninterrupted writer saves every piece");
    const double span = full.seconds * 1.1;
    fs::remove(path);

    int absent = 0, loaded = 0, in_flight = 0;
    int before = -1;  // piece of the state on disk before the run, -1 = no file
    c_session s(m, static_cast<uint32_t>(tokens.size()));
    for (int i = 0; i < loop.kills(); ++i) {
        const double delay = loop.random_delay(span);
        loop.set_iteration(i, delay);
        const writer_run r = loop.run({"write", "session-state", d.path, "0"}, delay);
        int last = before;
        if (!r.reports.empty()) last = std::stoi(r.reports.back().substr(6));
        // The next save after `last` in the writer's order (it starts every run at piece 0).
        const int next = r.reports.empty() ? 0 : (last + 1) % k_pieces;
        for (const auto& e : fs::directory_iterator(d.path)) {
            const std::string name = e.path().filename().string();
            loop.expect(name == "state.bin" || is_atomic_temp_name(name),
                        "only the state and temporary files: " + name);
        }
        if (!fs::exists(path)) {
            loop.expect(last < 0, "a reported save is never lost");
            ++absent;
            before = -1;
            continue;
        }
        struct stat st {};
        loop.expect(::stat(path.c_str(), &st) == 0 && (st.st_mode & 0777) == 0600,
                    "the state file is user-only (0600)");
        (void)mneme_session_reset(s.get());
        const bool ok = mneme_session_load_state(s.get(), path.c_str()) == MNEME_OK;
        loop.expect(ok, "a state file on disk always loads: " + last_error());
        if (!ok) continue;
        const uint64_t n = s.token_count();
        int piece = -1;
        for (int p = 0; p < k_pieces; ++p) {
            if (k_bounds[p] == n) piece = p;
        }
        loop.expect(piece >= 0 && (piece == last || piece == next),
                    "the file holds the last reported state or the one in flight (" + std::to_string(n) + " tokens)");
        if (piece < 0) continue;
        if (piece != last) ++in_flight;
        ++loaded;
        loop.expect(s.last_logits() == want[static_cast<std::size_t>(piece)],
                    "the loaded state has the prefill's logits");
        if (piece + 1 < k_pieces) {
            s.feed(tokens.data() + piece_begin(piece + 1), k_bounds[piece + 1] - piece_begin(piece + 1));
            loop.expect(s.last_logits() == want[static_cast<std::size_t>(piece + 1)],
                        "continuing from the loaded state gives the prefill's next logits");
        }
        before = piece;
    }
    return loop.finish(std::to_string(loop.kills()) + " kills survived; the state loaded with identical logits " +
                       std::to_string(loaded) + " times (" + std::to_string(in_flight) + " the save in flight), " +
                       std::to_string(absent) + " times no save had completed yet");
}

}  // namespace mneme::crash
