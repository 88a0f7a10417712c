// The Engram fixtures served from an Engram store: imported through the C API, evaluated at f64
// through caches from one row to the whole table, the logits must equal the in-memory table's bit
// for bit (and so the golden logits); stats count what happened.
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>

#include "model-harness.h"
#include "npy.h"

using namespace mneme::test;
namespace fs = std::filesystem;

namespace {

struct temp_store {
    fs::path dir;
    explicit temp_store(const std::string& name) {
        dir = fs::temp_directory_path() / ("mneme-engram-store-" + name + "-" + std::to_string(::getpid()));
        fs::remove_all(dir);
    }
    ~temp_store() { fs::remove_all(dir); }
};

void import_into(const std::string& model_dir, const std::string& store) {
    mneme_runtime_desc rd = MNEME_RUNTIME_DESC_INIT;
    rd.n_threads = 2;
    mneme_runtime* rt = nullptr;
    REQUIRE(mneme_runtime_create(&rd, &rt) == MNEME_OK);
    const mneme_status st = mneme_engram_import(rt, model_dir.c_str(), store.c_str(), nullptr, nullptr);
    INFO(mneme_last_error_message());
    CHECK(st == MNEME_OK);
    mneme_runtime_destroy(rt);
}

}  // namespace

TEST_CASE("Engram fixtures through a store equal the in-memory table exactly, for any cache budget") {
    for (const char* name : {"v4e-tiny", "v4e-conv-tiny"}) {
        const std::string dir = golden_dir(name);
        const auto tokens = read_tokens(dir);
        const auto ref = read_npy_f64(dir + "/logits.f64.npy");
        temp_store store(name);
        import_into(dir, store.dir.string());
        import_into(dir, store.dir.string());  // a second import finds the tables complete and keeps them
        loaded_model mem(dir);
        const auto want_prefill = mem.logits(tokens, 0), want_decode = mem.logits(tokens, 1);
        CHECK(max_relative_error(want_prefill, ref.data) <= 1e-9);
        // 1 byte: no row fits; 40 bytes: one 33-byte row; then a few rows; then everything.
        for (uint64_t cache : {uint64_t{1}, uint64_t{40}, uint64_t{200}, uint64_t{1} << 20}) {
            loaded_model disk(dir, {}, {store.dir.string(), cache});
            INFO(name << " cache " << cache);
            CHECK(disk.logits(tokens, 0) == want_prefill);
            CHECK(disk.logits(tokens, 1) == want_decode);
            CHECK(disk.logits(tokens, 7) == mem.logits(tokens, 7));
            mneme_engram_stats st{};
            st.struct_size = sizeof(st);
            REQUIRE(mneme_model_engram_stats(disk.get(), &st) == MNEME_OK);
            CHECK(st.from_store == MNEME_TRUE);
            CHECK(st.table_bytes > 0);
            CHECK(st.cache_bytes <= st.cache_budget_bytes);
            CHECK(st.hits + st.misses > 0);
            CHECK(st.steps > 0);
            std::printf("%s cache %llu B: hits %llu misses %llu read %llu B steps %llu\n", name,
                        static_cast<unsigned long long>(cache), static_cast<unsigned long long>(st.hits),
                        static_cast<unsigned long long>(st.misses), static_cast<unsigned long long>(st.bytes_read),
                        static_cast<unsigned long long>(st.steps));
        }
    }
}

TEST_CASE("a store without this model's tables is refused with a clear error") {
    const std::string a = golden_dir("v4e-tiny"), b = golden_dir("v4e-conv-tiny");
    temp_store store("other-model");
    import_into(a, store.dir.string());
    mneme_runtime_desc rd = MNEME_RUNTIME_DESC_INIT;
    rd.n_threads = 2;
    mneme_runtime* rt = nullptr;
    REQUIRE(mneme_runtime_create(&rd, &rt) == MNEME_OK);
    mneme_model_desc md = MNEME_MODEL_DESC_INIT;
    md.precision = MNEME_PRECISION_F64;
    const std::string s = store.dir.string();
    md.engram_store_path = s.c_str();
    mneme_model* m = nullptr;
    CHECK(mneme_model_open(rt, b.c_str(), &md, &m) == MNEME_ERROR_INVALID_MODEL);
    const std::string msg = mneme_last_error_message();
    INFO(msg);
    CHECK(msg.find("no table") != std::string::npos);
    CHECK(msg.find("engram import") != std::string::npos);
    mneme_runtime_destroy(rt);
}

TEST_CASE("a profiled text warms the store's cache, now and at the next open, without changing logits") {
    const std::string dir = golden_dir("v4e-tiny");
    const auto tokens = read_tokens(dir);
    temp_store store("profile");
    import_into(dir, store.dir.string());
    loaded_model mem(dir);
    const auto want = mem.logits(tokens, 1);
    uint64_t distinct = 0;
    CHECK(mneme_model_engram_profile(mem.get(), tokens.data(), tokens.size(), &distinct) ==
          MNEME_ERROR_INVALID_ARGUMENT);
    CHECK(std::string(mneme_last_error_message()).find("not served from a store") != std::string::npos);

    const auto lookups_after = [](const loaded_model& m, uint64_t& misses) {
        mneme_engram_stats st{};
        st.struct_size = sizeof(st);
        REQUIRE(mneme_model_engram_stats(m.get(), &st) == MNEME_OK);
        misses = st.misses;
        return st.hits + st.misses;
    };
    {
        // Profiled and closed without a step: what the next open warms from is the profile alone.
        loaded_model disk(dir, {}, {store.dir.string(), uint64_t{1} << 20});
        REQUIRE(mneme_model_engram_profile(disk.get(), tokens.data(), tokens.size(), &distinct) == MNEME_OK);
        CHECK(distinct > 0);
        uint64_t misses = 0;
        CHECK(lookups_after(disk, misses) == 0);  // profiling counts rows, it serves none
        const int32_t bad = 1 << 30;
        CHECK(mneme_model_engram_profile(disk.get(), &bad, 1, nullptr) == MNEME_ERROR_INVALID_ARGUMENT);
    }
    loaded_model again(dir, {}, {store.dir.string(), uint64_t{1} << 20});
    CHECK(again.logits(tokens, 1) == want);
    uint64_t misses = 0;
    CHECK(lookups_after(again, misses) > 0);
    CHECK(misses == 0);
}
