// DeepSeek-V4 and V4 + Engram against the float64 reference (tools/reference/model_v4.py): every
// V4 fixture in prefill, decode and chunked modes at --precision f64; the float32 path against
// the f64 path with the round trips off; and corrupted checkpoints rejected with errors that name
// the tensor or config field.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "model-harness.h"
#include "npy.h"

using namespace mneme::test;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

const char* const k_v4_fixtures[] = {"v4-tiny", "v4e-tiny", "v4e-conv-tiny"};

void check_exact(const std::string& name) {
    const std::string dir = golden_dir(name);
    const auto tokens = read_tokens(dir);
    const auto ref = read_npy_f64(dir + "/logits.f64.npy");
    REQUIRE(ref.rows == tokens.size());
    loaded_model m(dir);
    for (std::size_t chunk : {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{16}}) {
        const double err = max_relative_error(m.logits(tokens, chunk), ref.data);
        std::printf("%s f64 %s max relative error %.3e\n", name.c_str(),
                    chunk == 0 ? "prefill" : ("chunk " + std::to_string(chunk)).c_str(), err);
        INFO(name << " chunk " << chunk << " max relative error " << err);
        CHECK(err <= 1e-9);
    }
}

void check_f32(const std::string& name) {
    const std::string dir = golden_dir(name);
    const auto tokens = read_tokens(dir);
    loaded_model f64(dir, {MNEME_PRECISION_F64, MNEME_ACT_QUANT_OFF});
    loaded_model f32(dir, {MNEME_PRECISION_F32, MNEME_ACT_QUANT_OFF});
    const auto want = f64.logits(tokens);
    for (std::size_t chunk : {std::size_t{0}, std::size_t{1}, std::size_t{5}}) {
        const double err = max_relative_error(f32.logits(tokens, chunk), want);
        std::printf("%s f32 (round trips off) chunk %zu max relative error vs f64 %.3e\n", name.c_str(), chunk, err);
        INFO(name << " chunk " << chunk << " max relative error " << err);
        CHECK(err <= 1e-5);
    }
}

// A copy of a fixture in a fresh temporary directory, with helpers to corrupt it.
class fixture_copy {
public:
    explicit fixture_copy(const std::string& name) {
        dir_ = fs::temp_directory_path() / ("mneme-v4-bad-" + name + "-" + std::to_string(counter()++));
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        for (const auto& e : fs::directory_iterator(golden_dir(name)))
            fs::copy_file(e.path(), dir_ / e.path().filename());
    }
    ~fixture_copy() {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    std::string dir() const { return dir_.string(); }

    void edit_config(const std::function<void(json&)>& edit) {
        json cfg = json::parse(read(dir_ / "config.json"));
        edit(cfg);
        write(dir_ / "config.json", cfg.dump(2));
    }

    // Rewrites model.safetensors with `edit` applied to one tensor's (shape, bytes).
    void edit_tensor(const std::string& tensor,
                     const std::function<void(std::vector<int64_t>&, std::vector<unsigned char>&)>& edit) {
        const std::string file = read(dir_ / "model.safetensors");
        uint64_t n = 0;
        std::memcpy(&n, file.data(), 8);
        json header = json::parse(file.substr(8, n));
        const std::size_t data_at = 8 + n;
        json out_header = json::object();
        std::string data;
        for (auto& [name, info] : header.items()) {
            if (name == "__metadata__") {
                out_header[name] = info;
                continue;
            }
            const uint64_t b = info["data_offsets"][0], e = info["data_offsets"][1];
            std::vector<unsigned char> bytes(file.begin() + static_cast<std::ptrdiff_t>(data_at + b),
                                             file.begin() + static_cast<std::ptrdiff_t>(data_at + e));
            std::vector<int64_t> shape = info["shape"].get<std::vector<int64_t>>();
            if (name == tensor) edit(shape, bytes);
            while (data.size() % 8) data.push_back('\0');
            json t = info;
            t["shape"] = shape;
            t["data_offsets"] = {data.size(), data.size() + bytes.size()};
            data.append(bytes.begin(), bytes.end());
            out_header[name] = t;
        }
        std::string h = out_header.dump();
        while ((h.size() + 8) % 8) h.push_back(' ');
        const uint64_t len = h.size();
        std::string out(8, '\0');
        std::memcpy(out.data(), &len, 8);
        write(dir_ / "model.safetensors", out + h + data);
    }

private:
    static int& counter() {
        static int c = 0;
        return c;
    }
    static std::string read(const fs::path& p) {
        std::ifstream f(p, std::ios::binary);
        std::ostringstream s;
        s << f.rdbuf();
        return s.str();
    }
    static void write(const fs::path& p, const std::string& text) {
        std::ofstream f(p, std::ios::binary | std::ios::trunc);
        f << text;
    }
    fs::path dir_;
};

// Opening must fail with MNEME_ERROR_INVALID_MODEL and a message containing every `needle`.
void require_rejected(const std::string& dir, std::initializer_list<const char*> needles) {
    mneme_runtime_desc rd = MNEME_RUNTIME_DESC_INIT;
    rd.n_threads = 1;
    mneme_runtime* rt = nullptr;
    REQUIRE(mneme_runtime_create(&rd, &rt) == MNEME_OK);
    mneme_model_desc md = MNEME_MODEL_DESC_INIT;
    md.precision = MNEME_PRECISION_F64;
    mneme_model* m = nullptr;
    const mneme_status st = mneme_model_open(rt, dir.c_str(), &md, &m);
    const std::string msg = mneme_last_error_message();
    INFO(msg);
    CHECK(st == MNEME_ERROR_INVALID_MODEL);
    for (const char* n : needles) CHECK(msg.find(n) != std::string::npos);
    if (m) mneme_model_destroy(m);
    mneme_runtime_destroy(rt);
}

}  // namespace

TEST_CASE("V4 logits equal the float64 reference in every mode", "[model][v4]") {
    check_exact("v4-tiny");
}

TEST_CASE("V4 + Engram logits equal the float64 reference in every mode", "[model][v4][engram]") {
    check_exact("v4e-tiny");
    check_exact("v4e-conv-tiny");
}

TEST_CASE("V4 float32 path agrees with the f64 path without round trips", "[model][v4][f32]") {
    for (const char* name : k_v4_fixtures) check_f32(name);
}

TEST_CASE("V4 decode state survives save/load and reset", "[model][v4][state]") {
    for (const char* name : k_v4_fixtures) {
        const std::string dir = golden_dir(name);
        const auto tokens = read_tokens(dir);
        const auto ref = read_npy_f64(dir + "/logits.f64.npy");
        loaded_model m(dir);
        const std::size_t vocab = ref.cols, split = 37;  // mid-block for ratios 4 and 16, past the window
        const std::string path = (fs::temp_directory_path() / (std::string("mneme-v4-state-") + name)).string();

        mneme_session_desc sd = MNEME_SESSION_DESC_INIT;
        sd.n_ctx = static_cast<uint32_t>(tokens.size());
        auto feed = [&](mneme_session* s, std::size_t from, std::size_t to, std::size_t chunk) {
            std::vector<double> out;
            for (std::size_t at = from; at < to; at += chunk) {
                const std::size_t n = std::min(chunk, to - at);
                mneme_feed_desc fd = MNEME_FEED_DESC_INIT;
                fd.logits = MNEME_LOGITS_ALL;
                fd.chunk_size = static_cast<uint32_t>(n);
                REQUIRE(mneme_session_feed_tokens(s, tokens.data() + at, n, &fd) == MNEME_OK);
                const double* l = nullptr;
                std::size_t rows = 0, cols = 0;
                REQUIRE(mneme_session_get_logits_f64(s, &l, &rows, &cols) == MNEME_OK);
                out.insert(out.end(), l, l + rows * cols);
            }
            return out;
        };
        auto ref_rows = [&](std::size_t from, std::size_t to) {
            return std::vector<double>(ref.data.begin() + static_cast<std::ptrdiff_t>(from * vocab),
                                       ref.data.begin() + static_cast<std::ptrdiff_t>(to * vocab));
        };

        mneme_session* a = nullptr;
        REQUIRE(mneme_session_create(m.get(), &sd, &a) == MNEME_OK);
        feed(a, 0, split, 6);
        REQUIRE(mneme_session_save_state(a, path.c_str()) == MNEME_OK);
        // A reset session starts again from position 0 (Engram history and conv state included).
        REQUIRE(mneme_session_reset(a) == MNEME_OK);
        CHECK(max_relative_error(feed(a, 0, tokens.size(), 11), ref.data) <= 1e-9);
        mneme_session_destroy(a);

        mneme_session* b = nullptr;
        REQUIRE(mneme_session_create(m.get(), &sd, &b) == MNEME_OK);
        feed(b, 0, 3, 3);  // some unrelated state that the load must replace
        REQUIRE(mneme_session_load_state(b, path.c_str()) == MNEME_OK);
        const double err = max_relative_error(feed(b, split, tokens.size(), 5), ref_rows(split, tokens.size()));
        std::printf("%s f64 save at %zu, load, continue: max relative error %.3e\n", name, split, err);
        CHECK(err <= 1e-9);
        mneme_session_destroy(b);
        fs::remove(path);

        // Only the last row wanted: hc_head and the head run for that token alone.
        mneme_session* c = nullptr;
        REQUIRE(mneme_session_create(m.get(), &sd, &c) == MNEME_OK);
        mneme_feed_desc fd = MNEME_FEED_DESC_INIT;
        fd.logits = MNEME_LOGITS_LAST;
        fd.chunk_size = 13;
        REQUIRE(mneme_session_feed_tokens(c, tokens.data(), tokens.size(), &fd) == MNEME_OK);
        const double* l = nullptr;
        std::size_t rows = 0, cols = 0;
        REQUIRE(mneme_session_get_logits_f64(c, &l, &rows, &cols) == MNEME_OK);
        REQUIRE(rows == 1);
        CHECK(max_relative_error(std::vector<double>(l, l + cols), ref_rows(tokens.size() - 1, tokens.size())) <= 1e-9);
        mneme_session_destroy(c);
    }
}

TEST_CASE("V4 caches that grow page by page give the logits of one allocation", "[model][v4][paging]") {
    for (const char* name : {"v4-tiny", "v4e-conv-tiny"}) {
        loaded_model m(golden_dir(name));
        std::vector<int32_t> tokens;
        for (int i = 0; i < 600; ++i) tokens.push_back((i * 37 + 11) % 256);
        // One pass reserves every position at once; chunks of 64 grow the compressed caches page by page.
        const auto once = m.logits(tokens, 0);
        const auto grown = m.logits(tokens, 64);
        CHECK(max_relative_error(grown, once) <= 1e-12);
    }
}

TEST_CASE("V4 rejects corrupted checkpoints, naming the tensor or field", "[model][v4][errors]") {
    SECTION("Engram table with the wrong row count") {
        fixture_copy c("v4e-tiny");
        for (const char* t : {"layers.1.engram.embed.weight", "layers.1.engram.embed.scale"}) {
            c.edit_tensor(t, [](std::vector<int64_t>& shape, std::vector<unsigned char>& bytes) {
                bytes.resize(bytes.size() / static_cast<std::size_t>(shape[0]) *
                             static_cast<std::size_t>(shape[0] - 1));
                shape[0] -= 1;
            });
        }
        require_rejected(c.dir(), {"layers.1.engram.embed.weight", "rows"});
    }
    SECTION("engram_num_embeddings inconsistent with the primes") {
        fixture_copy c("v4e-tiny");
        c.edit_config(
            [](json& j) { j["engram_num_embeddings"][1] = j["engram_num_embeddings"][1].get<int64_t>() + 1; });
        require_rejected(c.dir(), {"engram_num_embeddings[1]", "primes"});
    }
    SECTION("hash_multipliers that do not match engram_seed") {
        fixture_copy c("v4e-tiny");
        c.edit_tensor("engram.hash_multipliers", [](std::vector<int64_t>&, std::vector<unsigned char>& bytes) {
            bytes[8] ^= 2;  // entry 1 of layer 0 (still odd)
        });
        require_rejected(c.dir(), {"engram.hash_multipliers", "engram_seed"});
    }
    SECTION("tid2eid naming an expert that does not exist") {
        fixture_copy c("v4-tiny");
        c.edit_tensor("layers.0.ffn.gate.tid2eid", [](std::vector<int64_t>&, std::vector<unsigned char>& bytes) {
            const int64_t bad = 8;  // n_routed_experts
            std::memcpy(bytes.data() + 8 * 5, &bad, 8);
        });
        require_rejected(c.dir(), {"layers.0.ffn.gate.tid2eid", "expert 8"});
    }
    SECTION("compress_ratios with the wrong length") {
        fixture_copy c("v4-tiny");
        c.edit_config([](json& j) { j["compress_ratios"].erase(j["compress_ratios"].size() - 1); });
        require_rejected(c.dir(), {"compress_ratios", "entries"});
    }
}
