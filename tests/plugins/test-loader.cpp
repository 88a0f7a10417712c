// The plugin loader through the public API: every kind of broken plugin is reported with the
// right state and skipped, and the CPU backend still loads.
#include <mneme/mneme.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstring>
#include <map>
#include <string>
#include <vector>

namespace {

struct entry {
    mneme_plugin_state state;
    std::string name, path, message;
};

std::vector<entry> diagnostics(mneme_runtime* rt) {
    size_t n = 0;
    REQUIRE(mneme_runtime_plugin_count(rt, &n) == MNEME_OK);
    std::vector<entry> out;
    for (size_t i = 0; i < n; ++i) {
        mneme_plugin_info info{};
        info.struct_size = sizeof(info);
        REQUIRE(mneme_runtime_plugin_info(rt, i, &info) == MNEME_OK);
        out.push_back({info.state, info.name, info.path, info.message});
    }
    return out;
}

const entry* by_path_part(const std::vector<entry>& es, const std::string& part) {
    for (const auto& e : es) {
        if (e.path.find(part) != std::string::npos) return &e;
    }
    return nullptr;
}

mneme_runtime* make_runtime(std::vector<const char*> paths, mneme_status* status = nullptr) {
    mneme_runtime_desc desc = MNEME_RUNTIME_DESC_INIT;
    desc.flags = MNEME_RUNTIME_FLAG_NO_DEFAULT_PLUGIN_PATHS | MNEME_RUNTIME_FLAG_NO_ENV_PLUGIN_PATH;
    desc.plugin_paths = paths.data();
    desc.plugin_path_count = paths.size();
    desc.n_threads = 2;
    desc.log_level = MNEME_LOG_LEVEL_OFF;
    mneme_runtime* rt = nullptr;
    const mneme_status st = mneme_runtime_create(&desc, &rt);
    if (status) *status = st;
    return rt;
}

}  // namespace

TEST_CASE("broken plugins are reported with their state and skipped", "[loader]") {
    // The CPU plugin by file: the plugin folder may also hold GPU plugins, which would add devices.
    const std::string cpu = std::string(MNEME_CPU_PLUGIN_DIR) + "/libmneme-backend-cpu.so";
    mneme_runtime* rt = make_runtime({MNEME_FAKE_PLUGIN_DIR, cpu.c_str(), "/nonexistent/mneme/plugins"});
    REQUIRE(rt != nullptr);
    const auto es = diagnostics(rt);

    const std::map<std::string, mneme_plugin_state> expected = {
        {"libmneme-backend-fake-notaplugin.so", MNEME_PLUGIN_STATE_NOT_A_PLUGIN},
        {"libmneme-backend-fake-wrongabi.so", MNEME_PLUGIN_STATE_ABI_MISMATCH},
        {"libmneme-backend-fake-refuses.so", MNEME_PLUGIN_STATE_ABI_MISMATCH},
        {"libmneme-backend-fake-probefails.so", MNEME_PLUGIN_STATE_PROBE_FAILED},
        {"libmneme-backend-fake-nodevice.so", MNEME_PLUGIN_STATE_NO_DEVICE},
        {"libmneme-backend-empty.so", MNEME_PLUGIN_STATE_LOAD_FAILED},
        {"libmneme-backend-garbage.so", MNEME_PLUGIN_STATE_LOAD_FAILED},
        {"/nonexistent/mneme/plugins", MNEME_PLUGIN_STATE_NOT_FOUND},
        {"libmneme-backend-cpu.so", MNEME_PLUGIN_STATE_LOADED},
    };
    for (const auto& [file, state] : expected) {
        INFO(file);
        const entry* e = by_path_part(es, file);
        REQUIRE(e != nullptr);
        CHECK(e->state == state);
        CHECK(!e->message.empty());
    }
    CHECK(by_path_part(es, "probefails")->message.find("driver exploded") != std::string::npos);
    CHECK(by_path_part(es, "nodevice")->message.find("no compatible driver") != std::string::npos);
    CHECK(by_path_part(es, "wrongabi")->message.find("plugin ABI 2") != std::string::npos);

    size_t devices = 0;
    REQUIRE(mneme_runtime_device_count(rt, &devices) == MNEME_OK);
    REQUIRE(devices == 1);
    mneme_device_info d{};
    d.struct_size = sizeof(d);
    REQUIRE(mneme_runtime_device_info(rt, 0, &d) == MNEME_OK);
    CHECK(std::string(d.backend) == "cpu");
    CHECK(d.type == MNEME_DEVICE_TYPE_CPU);
    CHECK(d.memory_total_bytes > 0);
    mneme_runtime_destroy(rt);
}

TEST_CASE("without a usable plugin the runtime fails with NO_BACKEND and says why", "[loader]") {
    mneme_status st = MNEME_OK;
    mneme_runtime* rt = make_runtime({MNEME_FAKE_PLUGIN_DIR}, &st);
    CHECK(rt == nullptr);
    CHECK(st == MNEME_ERROR_NO_BACKEND);
    const std::string msg = mneme_last_error_message();
    CHECK(msg.find("fake-probefails") != std::string::npos);
    CHECK(msg.find("not a Mneme plugin") != std::string::npos);
}

TEST_CASE("a plugin file given twice is examined once", "[loader]") {
    const std::string cpu = std::string(MNEME_CPU_PLUGIN_DIR) + "/libmneme-backend-cpu.so";
    mneme_runtime* rt = make_runtime({cpu.c_str(), MNEME_CPU_PLUGIN_DIR});
    REQUIRE(rt != nullptr);
    const auto es = diagnostics(rt);
    // The folder may hold other (GPU) plugins too; the CPU plugin must appear once.
    CHECK(std::count_if(es.begin(), es.end(), [](const entry& e) {
              return e.path.find("libmneme-backend-cpu.so") != std::string::npos;
          }) == 1);
    mneme_runtime_destroy(rt);
}

TEST_CASE("an old caller's smaller plugin_info struct is filled only up to its size", "[loader][abi]") {
    mneme_runtime* rt = make_runtime({MNEME_CPU_PLUGIN_DIR});
    REQUIRE(rt != nullptr);
    struct {
        mneme_plugin_info info;
        unsigned char guard[16];
    } probe{};
    std::memset(&probe, 0xAB, sizeof(probe));
    probe.info.struct_size = offsetof(mneme_plugin_info, message);  // an "older" struct ending before message
    REQUIRE(mneme_runtime_plugin_info(rt, 0, &probe.info) == MNEME_OK);
    CHECK(probe.info.state == MNEME_PLUGIN_STATE_LOADED);
    const auto* raw = reinterpret_cast<const unsigned char*>(&probe.info);
    for (size_t i = offsetof(mneme_plugin_info, message); i < sizeof(probe.info); ++i) CHECK(raw[i] == 0xAB);
    mneme_runtime_destroy(rt);
}

TEST_CASE("runtime rejects a header from a newer major version", "[loader][abi]") {
    mneme_runtime_desc desc = MNEME_RUNTIME_DESC_INIT;
    desc.header_version = (MNEME_VERSION_MAJOR + 1) * 1000000u;
    mneme_runtime* rt = nullptr;
    CHECK(mneme_runtime_create(&desc, &rt) == MNEME_ERROR_ABI_MISMATCH);
    CHECK(rt == nullptr);
}
