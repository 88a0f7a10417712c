// Helpers shared by the checkpoint and config tests: a scratch directory, a minimal safetensors
// writer (well-formed files, and raw header text for malformed ones), and an error matcher.
#pragma once

#include <catch2/catch.hpp>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"

namespace mneme_test {

namespace fs = std::filesystem;

// A fresh directory under the system temp dir, removed with everything in it at scope exit.
class temp_dir {
public:
    temp_dir() {
        static std::atomic<int> counter{0};
        std::random_device rd;
        path_ = fs::temp_directory_path() /
                ("mneme-test-" + std::to_string(rd()) + "-" + std::to_string(counter.fetch_add(1)));
        fs::create_directories(path_);
    }
    ~temp_dir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;

    const fs::path& path() const { return path_; }
    std::string file(const std::string& name) const { return (path_ / name).string(); }

private:
    fs::path path_;
};

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    REQUIRE(out.good());
}

inline void write_text(const std::string& path, const std::string& text) {
    write_bytes(path, std::vector<uint8_t>(text.begin(), text.end()));
}

// 8-byte little-endian header length, the header text, then the data section.
inline std::vector<uint8_t> raw_safetensors(const std::string& header, const std::vector<uint8_t>& data = {},
                                            uint64_t declared_length = UINT64_MAX) {
    const uint64_t n = declared_length == UINT64_MAX ? header.size() : declared_length;
    std::vector<uint8_t> out;
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(n >> (8 * i)));
    out.insert(out.end(), header.begin(), header.end());
    out.insert(out.end(), data.begin(), data.end());
    return out;
}

struct tensor_spec {
    std::string name;
    std::string dtype;  // header spelling
    std::vector<int64_t> shape;
    std::vector<uint8_t> bytes;
};

inline std::string shape_json(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
    return s + "]";
}

// A well-formed file: tensors laid out back to back in the order given, header padded with spaces
// to a multiple of 8 as the official writer does.
inline std::vector<uint8_t> encode_safetensors(const std::vector<tensor_spec>& tensors,
                                               const std::string& metadata = R"({"format":"pt"})") {
    std::string header = "{";
    if (!metadata.empty()) header += "\"__metadata__\":" + metadata;
    std::vector<uint8_t> data;
    for (const tensor_spec& t : tensors) {
        if (header.size() > 1) header += ",";
        const std::size_t begin = data.size();
        data.insert(data.end(), t.bytes.begin(), t.bytes.end());
        header += "\"" + t.name + "\":{\"dtype\":\"" + t.dtype + "\",\"shape\":" + shape_json(t.shape) +
                  ",\"data_offsets\":[" + std::to_string(begin) + "," + std::to_string(data.size()) + "]}";
    }
    header += "}";
    while ((8 + header.size()) % 8 != 0) header += ' ';
    return raw_safetensors(header, data);
}

// Bytes 0, 1, 2, ... (mod 251, so that neighbouring tensors differ).
inline std::vector<uint8_t> pattern_bytes(std::size_t n, uint8_t seed = 0) {
    std::vector<uint8_t> b(n);
    for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>((i + seed) % 251);
    return b;
}

// Runs `f`, which must throw mneme::error with `status` and a message containing every `part`.
inline void require_error(const std::function<void()>& f, mneme_status status,
                          std::initializer_list<std::string> parts) {
    try {
        f();
    } catch (const mneme::error& e) {
        INFO("message: " << e.what());
        CHECK(e.status() == status);
        for (const std::string& p : parts) CHECK_THAT(e.what(), Catch::Contains(p));
        return;
    }
    FAIL("expected a mneme::error, none was thrown");
}

}  // namespace mneme_test
