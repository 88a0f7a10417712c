// Crash test of the Engram store import: the writer imports the golden V4 + Engram checkpoint
// through the public API, then larger generated tables a few blocks per commit, reporting every
// commit. After each kill: the store opens or says why not (incomplete, not started), every byte a
// complete table serves is right, no committed chunk went missing, and the golden model served
// from the store gives exactly the logits of the model served from its checkpoint.
#include <filesystem>

#include "core/error.h"
#include "engram/import.h"
#include "engram/store-index.h"
#include "kill-loop.h"
#include "kinds.h"
#include "sdk-fixture.h"
#include "store-tables.h"

namespace mneme::crash {
namespace {

namespace fs = std::filesystem;
constexpr int64_t k_chunk_blocks = 12;

bool has(const std::string& text, const char* part) {
    return text.find(part) != std::string::npos;
}

// Logits of the golden tokens through `m`.
std::vector<double> golden_logits(const c_model& m, const std::vector<int32_t>& tokens) {
    c_session s(m, static_cast<uint32_t>(tokens.size()));
    return s.feed(tokens.data(), tokens.size()) ? s.last_logits() : std::vector<double>{};
}

// Bytes of the generated tables the index records as durable.
uint64_t indexed_bytes(const std::string& store) {
    try {
        store_index idx(store, false);
        uint64_t bytes = 0;
        for (int64_t layer : crash_tables().layers) {
            if (const auto r = idx.find(k_store_model, layer))
                bytes += static_cast<uint64_t>(r->blocks_done * r->block_bytes);
        }
        return bytes;
    } catch (const mneme::error&) {
        return 0;
    }
}

}  // namespace

int write_store_import(const std::string& dir, uint64_t) {
    {
        c_model probe(golden_dir("v4e-tiny"));  // a runtime for the public import call
        if (!probe.runtime()) return 1;
        if (mneme_engram_import(probe.runtime(), golden_dir("v4e-tiny").c_str(), dir.c_str(), nullptr, nullptr) !=
            MNEME_OK) {
            return 1;
        }
    }
    report("golden");
    import_options opts;
    opts.chunk_blocks = k_chunk_blocks;
    const auto tables = crash_tables().sources();
    import_engram_tables(
        dir, k_store_model, tables,
        [](uint64_t done, uint64_t) {
            report("committed " + std::to_string(done));
            return true;
        },
        opts);
    report("complete");
    return 0;
}

int check_store_import() {
    kill_loop loop("store-import", 60);
    scratch_dir d("store-import");
    const std::string store = d.path + "/store";
    const std::string golden = golden_dir("v4e-tiny");
    const auto tokens = read_tokens(golden);
    std::vector<double> want;
    {
        c_model m(golden);
        want = golden_logits(m, tokens);
    }
    loop.expect(!want.empty(), "reference logits of " + golden);

    // One uninterrupted import: how long a whole write takes, so kills spread over all of it.
    const writer_run full = loop.run({"write", "store-import", store, "0"}, -1);
    loop.expect(full.exited_ok && !full.reports.empty() && full.reports.back() == "complete",
                "a full import completes");
    const double span = full.seconds * 1.1;
    fs::remove_all(store);

    int served = 0, refused = 0, golden_served = 0;
    uint64_t committed = 0;
    bool golden_committed = false;
    auto verify = [&] {
        std::string why;
        if (auto t = open_crash_tables(store, 1 << 20, why)) {
            loop.expect(serves_exact_rows(*t), "a store that opens serves exactly the imported rows");
            ++served;
        } else {
            loop.expect(has(why, "incomplete") || has(why, "no table") || has(why, "no Engram store"),
                        "a refused store says why: " + why);
            ++refused;
        }
        const uint64_t durable = indexed_bytes(store);
        loop.expect(durable >= committed, "every reported commit is in the index (" + std::to_string(durable) + " of " +
                                              std::to_string(committed) + " bytes)");
        c_model m(golden, store);
        loop.expect(m.ok() || !golden_committed, "the completed golden import opens: " + m.error());
        if (m.ok()) {
            loop.expect(golden_logits(m, tokens) == want, "the golden model served from the store gives its logits");
            ++golden_served;
        }
    };
    for (int i = 0; i < loop.kills(); ++i) {
        if (i % 4 == 0) {  // kills of fresh imports as well as of resumed ones
            fs::remove_all(store);
            committed = 0;
            golden_committed = false;
        }
        const double delay = loop.random_delay(span);
        loop.set_iteration(i, delay);
        const writer_run r = loop.run({"write", "store-import", store, "0"}, delay);
        for (const auto& line : r.reports) {
            if (line == "golden") golden_committed = true;
            if (line.rfind("committed ", 0) == 0)
                committed = std::max<uint64_t>(committed, std::stoull(line.substr(10)));
        }
        verify();
    }
    // Whatever the kills left, one more run completes the store.
    loop.set_iteration(loop.kills(), -1);
    const writer_run last = loop.run({"write", "store-import", store, "0"}, -1);
    loop.expect(last.exited_ok, "the import resumes and completes");
    std::string why;
    auto t = open_crash_tables(store, 1 << 20, why);
    loop.expect(t && serves_exact_rows(*t), "the resumed store serves exactly the imported rows: " + why);
    verify();
    return loop.finish(std::to_string(loop.kills()) + " kills survived; " + std::to_string(served) +
                       " opens served exact rows, " + std::to_string(refused) +
                       " refused as incomplete, golden model served " + std::to_string(golden_served) +
                       " times with identical logits");
}

}  // namespace mneme::crash
