// The Engram store: import round trips for random tables and cache budgets, concurrent readers with
// prefetch, corrupt and foreign stores refused with errors that say what and where, an interrupted
// import detected and resumed, and an importer killed at random points never leaving wrong rows.
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>
#include <thread>

#include "core/error.h"
#include "engram-test-tables.h"
#include "engram/store-table.h"

using namespace mneme;
using namespace mneme::test;
namespace fs = std::filesystem;

namespace {

struct temp_dir {
    fs::path path;
    explicit temp_dir(const std::string& name) {
        static int n = 0;
        path = fs::temp_directory_path() /
               ("mneme-store-" + name + "-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
        fs::remove_all(path);
    }
    ~temp_dir() { fs::remove_all(path); }
    std::string str() const { return path.string(); }
};

std::unique_ptr<store_engram_table> open_store(const temp_dir& d, const engram_test_model& m, uint64_t cache,
                                               unsigned io_threads = 0, const std::string& id = "model-a") {
    return open_store_engram_table(d.str(), id, m.config(), m.rows, cache, io_threads);
}

// Gathers `rows` of table i and checks every byte against the generator.
void check_rows(const store_engram_table& t, const engram_test_model& m, std::size_t i,
                const std::vector<int64_t>& rows) {
    const std::size_t w = static_cast<std::size_t>(m.width), sw = w / 32;
    std::vector<uint8_t> codes(rows.size() * w), scales(rows.size() * sw);
    t.gather(m.layers[i], rows, codes, scales);
    bool ok = true;
    for (std::size_t k = 0; k < rows.size() && ok; ++k) {
        for (std::size_t j = 0; j < w; ++j)
            ok &= codes[k * w + j] == engram_test_byte(m.seed, m.layers[i], rows[k], static_cast<int64_t>(j));
        for (std::size_t j = 0; j < sw; ++j)
            ok &= scales[k * sw + j] == engram_test_byte(m.seed, m.layers[i], rows[k], static_cast<int64_t>(w + j));
    }
    CHECK(ok);
}

std::vector<int64_t> random_rows(std::mt19937_64& rng, int64_t n_rows, std::size_t n) {
    std::uniform_int_distribution<int64_t> pick(0, n_rows - 1);
    std::vector<int64_t> out(n);
    for (auto& r : out) r = pick(rng);
    return out;
}

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const error& e) {
        return e.what();
    }
    return "";
}

void sql(const std::string& db_path, const char* statement) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(db_path.c_str(), &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, statement, nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(db);
}

}  // namespace

TEST_CASE("Engram store: random tables round-trip through any cache budget", "[engram-store]") {
    std::mt19937_64 rng(7);
    for (int64_t width : {32, 256, 4096}) {
        engram_test_model m;
        m.seed = static_cast<uint64_t>(width);
        m.width = width;
        m.rows = {width == 4096 ? 40 : 531, width == 4096 ? 17 : 1200};
        temp_dir d("roundtrip");
        REQUIRE(import_engram_tables(d.str(), "model-a", m.sources(), nullptr));
        const uint64_t rb = static_cast<uint64_t>(m.row_bytes());
        for (uint64_t budget : {uint64_t{0}, rb, 3 * rb, 100 * rb, uint64_t{1} << 24}) {
            auto t = open_store(d, m, budget, 3);
            CHECK(t->rows(m.layers[1]) == m.rows[1]);
            CHECK(t->stats().cache_budget_bytes <= budget);
            for (int step = 0; step < 20; ++step) {
                for (std::size_t i = 0; i < m.layers.size(); ++i) {
                    const auto rows = random_rows(rng, m.rows[i], 1 + static_cast<std::size_t>(step % 9));
                    if (step % 2) t->prefetch(m.layers[i], rows);
                    check_rows(*t, m, i, rows);
                }
            }
            const auto st = t->stats();
            CHECK(st.cache_bytes_used <= st.cache_budget_bytes);
            CHECK(st.steps == 20);
            if (budget == 0) CHECK(st.hits == 0);
        }
    }
}

TEST_CASE("Engram store: prefetched blocks are read once, in parallel, and superseded steps are harmless",
          "[engram-store]") {
    engram_test_model m;
    m.width = 1024;  // 1056-byte rows: three to a 4 KiB block
    m.rows = {3000, 3001};
    temp_dir d("prefetch");
    REQUIRE(import_engram_tables(d.str(), "model-a", m.sources(), nullptr));
    const uint64_t block_bytes = 4096;
    const auto n_blocks = [](const std::vector<int64_t>& rows) {
        std::vector<int64_t> b;
        for (int64_t r : rows) b.push_back(r / 3);
        std::sort(b.begin(), b.end());
        return static_cast<uint64_t>(std::unique(b.begin(), b.end()) - b.begin());
    };
    std::mt19937_64 rng(11);
    for (unsigned io : {0u, 1u, 4u}) {
        auto t = open_store(d, m, 0, io);  // no cache: every row comes from a read
        uint64_t needed = 0, superseded = 0;
        for (int step = 0; step < 30; ++step) {
            const auto rows = random_rows(rng, m.rows[0], 1 + static_cast<std::size_t>(step % 13));
            if (step % 3 == 0) {
                // A step issued and never gathered (a cancelled pass) is replaced by the next one.
                const auto dropped = random_rows(rng, m.rows[0], 5);
                t->prefetch(m.layers[0], dropped);
                superseded += n_blocks(dropped);
            }
            t->prefetch(m.layers[0], rows);
            // Gathering other rows than were prefetched reads what it lacks itself.
            std::vector<int64_t> asked = rows;
            if (step % 4 == 0) asked.push_back((rows.front() + 1500) % m.rows[0]);
            check_rows(*t, m, 0, asked);
            needed += n_blocks(asked);
        }
        const auto st = t->stats();
        CHECK(st.hits == 0);
        CHECK(st.steps == 30);
        CHECK(st.prefetched_steps == (io == 0 ? 0u : 30u));
        // Every block a gather needed was read exactly once, by an I/O thread or by the gather; a
        // superseded step's reads may have started before it was replaced.
        CHECK(st.bytes_read >= needed * block_bytes);
        CHECK(st.bytes_read <= (needed + (io == 0 ? 0 : superseded)) * block_bytes);
    }
}

TEST_CASE("Engram store: hot rows persist and warm the next open", "[engram-store]") {
    engram_test_model m;
    temp_dir d("hot");
    REQUIRE(import_engram_tables(d.str(), "model-a", m.sources(), nullptr));
    const std::vector<int64_t> hot{5, 6, 7};
    {
        auto t = open_store(d, m, 1 << 20);
        for (int i = 0; i < 3; ++i) check_rows(*t, m, 0, hot);
    }
    auto t = open_store(d, m, 1 << 20);
    check_rows(*t, m, 0, hot);
    const auto st = t->stats();
    CHECK(st.misses == 0);
    CHECK(st.hits == 3);
}

TEST_CASE("Engram store: a profile warms the cache, outranks one-off rows and survives a run's save",
          "[engram-store]") {
    engram_test_model m;
    temp_dir d("profile");
    REQUIRE(import_engram_tables(d.str(), "model-a", m.sources(), nullptr));
    const uint64_t rb = static_cast<uint64_t>(m.row_bytes());
    // Rows 10..29 of layer 0 are read 50 times each in the profiled text, rows 100..399 once.
    std::vector<int64_t> text;
    for (int rep = 0; rep < 50; ++rep) {
        for (int64_t r = 10; r < 30; ++r) text.push_back(r);
    }
    for (int64_t r = 100; r < 400; ++r) text.push_back(r);
    const std::vector<std::pair<int64_t, std::vector<int64_t>>> profile{{m.layers[0], text}};
    std::vector<int64_t> hot(20);
    std::iota(hot.begin(), hot.end(), 10);
    {
        auto t = open_store(d, m, 24 * rb);  // room for the 20 hot rows and a few more
        const profile_result r = t->add_profile(profile);
        CHECK(r.lookups == text.size());
        CHECK(r.distinct_rows == 320);
        check_rows(*t, m, 0, hot);
        CHECK(t->stats().misses == 0);
        CHECK(t->stats().hits == 20);
        // A run that reads other rows saves those as its hot rows when it closes ...
        check_rows(*t, m, 1, {1, 2, 3});
        check_rows(*t, m, 1, {1, 2, 3});
        REQUIRE_THROWS(t->add_profile(std::vector<std::pair<int64_t, std::vector<int64_t>>>{{m.layers[0], {-1}}}));
    }
    // ... and the next open still warms from the profile, by share, alongside them.
    auto t = open_store(d, m, 24 * rb);
    check_rows(*t, m, 0, hot);
    check_rows(*t, m, 1, {1, 2, 3});
    CHECK(t->stats().misses == 0);
}

TEST_CASE("Engram store: concurrent readers gather the right rows", "[engram-store]") {
    engram_test_model m;
    m.width = 256;
    m.rows = {2000, 3000};
    temp_dir d("concurrent");
    REQUIRE(import_engram_tables(d.str(), "model-a", m.sources(), nullptr));
    auto t = open_store(d, m, 64 * static_cast<uint64_t>(m.row_bytes()), 4);
    std::vector<std::thread> readers;
    std::atomic<int> failures{0};
    for (int k = 0; k < 6; ++k) {
        readers.emplace_back([&, k] {
            std::mt19937_64 rng(static_cast<uint64_t>(k));
            const std::size_t w = static_cast<std::size_t>(m.width), sw = w / 32;
            for (int step = 0; step < 200; ++step) {
                const std::size_t i = static_cast<std::size_t>(step % 2);
                const auto rows = random_rows(rng, m.rows[i], 12);
                if (k == 0) t->prefetch(m.layers[i], rows);
                std::vector<uint8_t> codes(rows.size() * w), scales(rows.size() * sw);
                t->gather(m.layers[i], rows, codes, scales);
                for (std::size_t r = 0; r < rows.size(); ++r) {
                    if (codes[r * w + 7] != engram_test_byte(m.seed, m.layers[i], rows[r], 7) ||
                        scales[r * sw + 1] !=
                            engram_test_byte(m.seed, m.layers[i], rows[r], static_cast<int64_t>(w + 1))) {
                        ++failures;
                    }
                }
            }
        });
    }
    for (auto& r : readers) r.join();
    CHECK(failures == 0);
}

TEST_CASE("Engram store: corrupt or foreign stores are refused, naming what is wrong", "[engram-store]") {
    engram_test_model m;
    m.width = 256;
    temp_dir d("corrupt");
    REQUIRE(import_engram_tables(d.str(), "model-a", m.sources(), nullptr));
    const std::string file = (d.path / "tables" / "model-a-layer2.rows").string();

    SECTION("no store") {
        temp_dir empty("empty");
        CHECK(error_of([&] { open_store(empty, m, 0); }).find("no Engram store") != std::string::npos);
    }
    SECTION("another model's tables") {
        const std::string msg = error_of([&] { open_store(d, m, 0, 0, "model-b"); });
        CHECK(msg.find("no table of layer 0 for this model (identity model-b)") != std::string::npos);
        CHECK(msg.find("model-a") != std::string::npos);
    }
    SECTION("another geometry") {
        engram_test_model other = m;
        other.rows = {m.rows[0] + 1, m.rows[1]};
        CHECK(error_of([&] { open_store(d, other, 0); }).find("the model needs 501 rows") != std::string::npos);
    }
    SECTION("another schema version") {
        sql((d.path / "index.sqlite").string(), "UPDATE meta SET value='99' WHERE key='schema_version'");
        CHECK(error_of([&] { open_store(d, m, 0); }).find("schema version '99'") != std::string::npos);
    }
    SECTION("not a store database") {
        fs::remove(d.path / "index.sqlite-wal");
        fs::remove(d.path / "index.sqlite-shm");
        std::ofstream(d.path / "index.sqlite", std::ios::trunc) << "garbage that is not SQLite at all, not at all";
        CHECK_FALSE(error_of([&] { open_store(d, m, 0); }).empty());
    }
    SECTION("truncated payload") {
        fs::resize_file(file, fs::file_size(file) - 100);
        const std::string msg = error_of([&] { open_store(d, m, 0); });
        CHECK(msg.find(file) != std::string::npos);
        CHECK(msg.find("truncated") != std::string::npos);
    }
    SECTION("a row file outside the store") {
        // The index is untrusted: it must not make the store open files elsewhere.
        for (const char* planted : {"tables/../../outside.rows", "/etc/passwd", "tables/", "model-a-layer2.rows"}) {
            sql((d.path / "index.sqlite").string(),
                ("UPDATE tables SET file='" + std::string(planted) + "' WHERE layer=2").c_str());
            const std::string msg = error_of([&] { open_store(d, m, 0); });
            INFO(planted);
            CHECK(msg.find("not one in the store's tables/ folder") != std::string::npos);
        }
    }
    SECTION("an empty checksum list") {  // a fuzzing finding: an empty blob reached memcpy as null
        sql((d.path / "index.sqlite").string(), "UPDATE block_sums SET sums=x'' WHERE layer=2");
        CHECK(error_of([&] { open_store(d, m, 0); }).find("has checksums for 0 of its") != std::string::npos);
    }
    SECTION("a FIFO planted as a row file") {
        fs::remove(file);
        REQUIRE(::mkfifo(file.c_str(), 0600) == 0);
        const std::string msg = error_of([&] { open_store(d, m, 0); });  // would hang if opened blocking
        CHECK(msg.find("not a regular file") != std::string::npos);
    }
    SECTION("flipped bytes") {
        {
            std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
            f.seekp(4096 * 3 + 17);
            f.put('\x5a');
            f.seekp(4096 * 3 + 18);
            f.put('\xa5');
        }
        auto t = open_store(d, m, 1 << 20);
        // Rows of other blocks are served; the damaged block is refused on every read.
        check_rows(*t, m, 1, {0, 1, 200});
        const std::size_t w = 256, sw = 8;
        const int64_t bad_row = 3 * 15 + 1;  // 15 rows of 264 bytes per 4096-byte block
        std::vector<uint8_t> codes(w), scales(sw);
        for (int attempt = 0; attempt < 2; ++attempt) {
            const std::string msg = error_of([&] { t->gather(2, std::vector<int64_t>{bad_row}, codes, scales); });
            CHECK(msg.find(file) != std::string::npos);
            CHECK(msg.find("block 3 ") != std::string::npos);
            CHECK(msg.find("checksum") != std::string::npos);
        }
    }
}

TEST_CASE("Engram store: an interrupted import is reported incomplete, then resumed", "[engram-store]") {
    engram_test_model m;
    m.width = 256;
    m.rows = {900, 1300};
    temp_dir d("resume");
    import_options opts;
    opts.chunk_blocks = 8;
    int calls = 0;
    CHECK_FALSE(import_engram_tables(
        d.str(), "model-a", m.sources(), [&](uint64_t, uint64_t) { return ++calls < 3; }, opts));
    const std::string msg = error_of([&] { open_store(d, m, 0); });
    CHECK(msg.find("incomplete (24 of 60 blocks imported)") != std::string::npos);
    REQUIRE(import_engram_tables(d.str(), "model-a", m.sources(), nullptr, opts));
    auto t = open_store(d, m, 0);
    std::vector<int64_t> all0(static_cast<std::size_t>(m.rows[0])), all1(static_cast<std::size_t>(m.rows[1]));
    for (std::size_t r = 0; r < all0.size(); ++r) all0[r] = static_cast<int64_t>(r);
    for (std::size_t r = 0; r < all1.size(); ++r) all1[r] = static_cast<int64_t>(r);
    check_rows(*t, m, 0, all0);
    check_rows(*t, m, 1, all1);
}

TEST_CASE("Engram store: an importer killed at random points never leaves wrong rows", "[engram-store][crash]") {
    temp_dir d("crash");
    engram_test_model m;
    m.seed = 42;
    m.width = 256;
    m.rows = {3000, 4500};  // as engram-import-helper writes them
    std::mt19937_64 rng(2024);
    int served = 0, incomplete = 0;
    auto verify = [&] {
        std::unique_ptr<store_engram_table> t;
        const std::string msg = error_of([&] { t = open_store(d, m, 4096, 0, "crash-model"); });
        if (!t) {
            INFO(msg);
            CHECK((msg.find("incomplete") != std::string::npos || msg.find("no table") != std::string::npos ||
                   msg.find("no Engram store") != std::string::npos));
            ++incomplete;
            return false;
        }
        for (std::size_t i = 0; i < 2; ++i) check_rows(*t, m, i, random_rows(rng, m.rows[i], 300));
        ++served;
        return true;
    };
    for (int kill = 0; kill < 24; ++kill) {
        if (kill % 4 == 0) fs::remove_all(d.path);  // kills of fresh imports as well as of resumed ones
        const pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            ::execl(MNEME_ENGRAM_IMPORT_HELPER, MNEME_ENGRAM_IMPORT_HELPER, d.str().c_str(), "crash-model", "42",
                    static_cast<char*>(nullptr));
            ::_exit(127);
        }
        std::this_thread::sleep_for(std::chrono::microseconds(std::uniform_int_distribution<int>(0, 700000)(rng)));
        ::kill(pid, SIGKILL);
        int status = 0;
        ::waitpid(pid, &status, 0);
        CHECK((WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) == 0)));
        verify();
    }
    std::printf("crash test: %d opens served correct rows, %d reported the import incomplete\n", served, incomplete);
    // A final uninterrupted run completes the store.
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::execl(MNEME_ENGRAM_IMPORT_HELPER, MNEME_ENGRAM_IMPORT_HELPER, d.str().c_str(), "crash-model", "42",
                static_cast<char*>(nullptr));
        ::_exit(127);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK(verify());
}
