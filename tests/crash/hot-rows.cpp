// Crash test of the hot-row statistics: the writer opens a complete store, gathers a set of rows
// that depends on (seed, cycle) twice (so each has hits) and closes it, which saves the set; it
// reports each save. After each kill the saved set must be exactly one complete set: the last one
// reported or the one being saved when the kill came, never a mix, never an older one; and the
// store still opens, warms from it and serves exact rows.
#include <map>
#include <set>

#include "core/error.h"
#include "engram/import.h"
#include "engram/store-index.h"
#include "kill-loop.h"
#include "kinds.h"
#include "store-tables.h"

namespace mneme::crash {
namespace {

constexpr int k_cycles = 4;
constexpr uint64_t k_cache_bytes = 8 << 20;  // every row of both tables twice over: nothing evicted

using row_set = std::set<std::pair<int64_t, int64_t>>;  // (layer, row)

// The rows cycle `c` of a writer with `seed` makes hot.
row_set hot_set(uint64_t seed, int c) {
    const auto m = crash_tables();
    row_set out;
    for (std::size_t i = 0; i < m.layers.size(); ++i) {
        const uint64_t n = 400 + mix(seed, static_cast<uint64_t>(c), i) % 1200;
        for (uint64_t k = 0; k < n; ++k) {
            out.insert(
                {m.layers[i], static_cast<int64_t>(mix(seed, static_cast<uint64_t>(c), 1000000 + i * 100000 + k) %
                                                   static_cast<uint64_t>(m.rows[i]))});
        }
    }
    return out;
}

// The saved hot rows, and whether each has at least one hit.
row_set saved_set(const std::string& store, bool& all_hit) {
    store_index idx(store, false);
    row_set out;
    all_hit = true;
    for (const hot_row& h : idx.hot_rows(k_store_model, int64_t{1} << 40)) {
        out.insert({h.layer, h.row});
        all_hit &= h.hits >= 1;
    }
    return out;
}

}  // namespace

int write_hot_rows(const std::string& dir, uint64_t seed) {
    const auto m = crash_tables();
    for (int c = 0; c < k_cycles; ++c) {
        std::string why;
        auto t = open_crash_tables(dir, k_cache_bytes, why);
        if (!t) {
            std::fprintf(stderr, "%s\n", why.c_str());
            return 1;
        }
        std::map<int64_t, std::vector<int64_t>> by_layer;
        for (const auto& [layer, row] : hot_set(seed, c)) by_layer[layer].push_back(row);
        const std::size_t w = static_cast<std::size_t>(m.width);
        for (int pass = 0; pass < 2; ++pass) {
            for (const auto& [layer, rows] : by_layer) {
                std::vector<uint8_t> codes(rows.size() * w), scales(rows.size() * w / 32);
                t->gather(layer, rows, codes, scales);
            }
        }
        t.reset();  // closing the table saves its hot rows
        report("saved " + std::to_string(c));
    }
    return 0;
}

int check_hot_rows() {
    kill_loop loop("hot-rows", 60);
    scratch_dir d("hot-rows");
    const std::string store = d.path + "/store";
    import_engram_tables(store, k_store_model, crash_tables().sources(), nullptr);

    // One uninterrupted writer: the span the kills are spread over.
    const uint64_t first_seed = loop.rng()();
    const writer_run full = loop.run({"write", "hot-rows", store, std::to_string(first_seed)}, -1);
    loop.expect(full.exited_ok && full.reports.size() == k_cycles, "an uninterrupted writer saves every cycle");
    const double span = full.seconds * 1.1;
    bool all_hit = false;
    row_set before = saved_set(store, all_hit);
    loop.expect(before == hot_set(first_seed, k_cycles - 1), "the last save is what the store holds");

    int latest = 0, pending = 0, warm_opens = 0;
    for (int i = 0; i < loop.kills(); ++i) {
        const uint64_t seed = loop.rng()();
        const double delay = loop.random_delay(span);
        loop.set_iteration(i, delay);
        const writer_run r = loop.run({"write", "hot-rows", store, std::to_string(seed)}, delay);
        const int last = static_cast<int>(r.reports.size()) - 1;  // cycle of the last reported save
        row_set now;
        try {
            now = saved_set(store, all_hit);
        } catch (const mneme::error& e) {
            loop.expect(false, std::string("the index opens: ") + e.what());
            continue;
        }
        // What was committed stays; what was being written is there whole or not at all.
        const row_set committed = last >= 0 ? hot_set(seed, last) : before;
        const row_set next = hot_set(seed, last + 1);
        loop.expect(now == committed || now == next,
                    "the saved hot rows are the last committed set or the next, whole (" + std::to_string(now.size()) +
                        " rows)");
        loop.expect(all_hit, "every saved hot row has hits");
        if (now == committed)
            ++latest;
        else
            ++pending;
        std::string why;
        auto t = open_crash_tables(store, k_cache_bytes, why);
        loop.expect(t && serves_exact_rows(*t), "the store warms from its hot rows and serves exact rows: " + why);
        if (t) ++warm_opens;
        t.reset();  // (this save replaces the set with the rows just read: all of them)
        before = saved_set(store, all_hit);
    }
    return loop.finish(std::to_string(loop.kills()) + " kills survived; the saved set was the last committed one " +
                       std::to_string(latest) + " times and the one in flight " + std::to_string(pending) + " times; " +
                       std::to_string(warm_opens) + " warm opens served exact rows");
}

}  // namespace mneme::crash
