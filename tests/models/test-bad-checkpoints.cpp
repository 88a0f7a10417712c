// Hostile or broken checkpoints through mneme_model_open: each gives a clear error that names the
// file and the field or tensor, never a crash.
#include <catch2/catch.hpp>
#include <cstdint>
#include <cstring>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "model-harness.h"

namespace fs = std::filesystem;
using namespace mneme::test;

namespace {

std::string slurp(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::ostringstream os;
    os << f.rdbuf();
    return os.str();
}

void spit(const fs::path& p, const std::string& s) {
    std::ofstream f(p, std::ios::binary | std::ios::trunc);
    f << s;
}

// A scratch copy of a golden fixture that a test may damage.
struct fixture_copy {
    fs::path dir;
    explicit fixture_copy(const std::string& name) {
        static int counter = 0;
        dir = fs::temp_directory_path() /
              ("mneme-bad-" + name + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
        fs::create_directories(dir);
        for (const auto& e : fs::directory_iterator(golden_dir(name))) fs::copy_file(e.path(), dir / e.path().filename());
    }
    ~fixture_copy() { fs::remove_all(dir); }
};

// Rewrites a safetensors file with `edit` applied to its header JSON (data section unchanged).
void edit_header(const fs::path& file, const std::function<void(nlohmann::json&)>& edit) {
    const std::string all = slurp(file);
    uint64_t n;
    std::memcpy(&n, all.data(), 8);
    nlohmann::json h = nlohmann::json::parse(all.substr(8, n));
    edit(h);
    std::string header = h.dump();
    header.append((8 - header.size() % 8) % 8, ' ');
    const uint64_t len = header.size();
    std::string out(reinterpret_cast<const char*>(&len), 8);
    out += header;
    out += all.substr(8 + n);
    spit(file, out);
}

struct open_result {
    mneme_status status;
    std::string message;
};

open_result try_open(const fs::path& dir) {
    mneme_runtime_desc rd = MNEME_RUNTIME_DESC_INIT;
    rd.log_level = MNEME_LOG_LEVEL_OFF;
    mneme_runtime* rt = nullptr;
    REQUIRE(mneme_runtime_create(&rd, &rt) == MNEME_OK);
    mneme_model* m = nullptr;
    const mneme_status st = mneme_model_open(rt, dir.string().c_str(), nullptr, &m);
    open_result r{st, mneme_last_error_message()};
    mneme_model_destroy(m);
    mneme_runtime_destroy(rt);
    return r;
}

}  // namespace

TEST_CASE("a missing required config field is named", "[model][bad-input]") {
    fixture_copy fx("v3-tiny");
    auto cfg = nlohmann::json::parse(slurp(fx.dir / "config.json"));
    cfg.erase("kv_lora_rank");
    spit(fx.dir / "config.json", cfg.dump());
    const auto r = try_open(fx.dir);
    CHECK(r.status == MNEME_ERROR_INVALID_MODEL);
    CHECK(r.message.find("config.json") != std::string::npos);
    CHECK(r.message.find("kv_lora_rank") != std::string::npos);
}

TEST_CASE("a truncated safetensors file is refused with its name", "[model][bad-input]") {
    fixture_copy fx("v3-tiny");
    const auto file = fx.dir / "model.safetensors";
    const std::string all = slurp(file);
    spit(file, all.substr(0, all.size() / 2));
    const auto r = try_open(fx.dir);
    CHECK(r.status == MNEME_ERROR_INVALID_MODEL);
    CHECK(r.message.find("model.safetensors") != std::string::npos);
}

TEST_CASE("a missing tensor is named", "[model][bad-input]") {
    fixture_copy fx("v3-tiny");
    edit_header(fx.dir / "model.safetensors",
                [](nlohmann::json& h) { h.erase("model.layers.1.self_attn.kv_a_layernorm.weight"); });
    const auto r = try_open(fx.dir);
    CHECK(r.status == MNEME_ERROR_INVALID_MODEL);
    CHECK(r.message.find("model.layers.1.self_attn.kv_a_layernorm.weight") != std::string::npos);
}

TEST_CASE("a tensor with the wrong shape is named with expected and actual", "[model][bad-input]") {
    fixture_copy fx("v3-tiny");
    edit_header(fx.dir / "model.safetensors", [](nlohmann::json& h) {
        auto& t = h["model.layers.0.mlp.gate_proj.weight_scale_inv"];
        const int64_t n = t["shape"][0].get<int64_t>() * t["shape"][1].get<int64_t>();
        t["shape"] = nlohmann::json::array({n});  // same bytes, a 1-D grid instead of 2-D
    });
    const auto r = try_open(fx.dir);
    CHECK(r.status == MNEME_ERROR_INVALID_MODEL);
    CHECK(r.message.find("model.layers.0.mlp.gate_proj.weight_scale_inv") != std::string::npos);
}

TEST_CASE("a tensor stored with another dtype of a different width is refused", "[model][bad-input]") {
    fixture_copy fx("v3-tiny");
    edit_header(fx.dir / "model.safetensors", [](nlohmann::json& h) {
        h["model.layers.0.self_attn.kv_a_proj_with_mqa.weight"]["dtype"] = "I8";  // same bytes as F8_E4M3
    });
    const auto r = try_open(fx.dir);
    CHECK(r.status == MNEME_ERROR_INVALID_MODEL);
    CHECK(r.message.find("model.layers.0.self_attn.kv_a_proj_with_mqa.weight") != std::string::npos);
}

TEST_CASE("a missing shard named by the index is named", "[model][bad-input]") {
    fixture_copy fx("v3-tiny-sharded");
    std::string victim;
    for (const auto& e : fs::directory_iterator(fx.dir)) {
        if (e.path().extension() == ".safetensors") victim = e.path().filename().string();
    }
    REQUIRE(!victim.empty());
    fs::remove(fx.dir / victim);
    const auto r = try_open(fx.dir);
    CHECK(r.status == MNEME_ERROR_FILE_NOT_FOUND);
    CHECK(r.message.find(victim) != std::string::npos);
}

TEST_CASE("a directory that is not a model gives FILE_NOT_FOUND", "[model][bad-input]") {
    const auto r = try_open("/nonexistent/model/dir");
    CHECK(r.status == MNEME_ERROR_FILE_NOT_FOUND);
    CHECK(r.message.find("/nonexistent/model/dir") != std::string::npos);
}
