#include "cli-model.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "commands.h"

namespace mneme_cli {

std::vector<std::string> model_option_names() {
    auto names = runtime_option_names();
    for (const char* n : {"model", "precision", "act-quant", "backend", "device", "engram-store", "engram-cache-mb",
                          "index-coarse-block"})
        names.emplace_back(n);
    return names;
}

mneme_model* open_model(mneme_runtime* rt, const args& a) {
    const std::string store = a.get_or("engram-store", "");
    const uint64_t cache = static_cast<uint64_t>(a.get_double("engram-cache-mb", 0.0) * 1048576.0);
    return open_model(rt, a, store.empty() ? nullptr : store.c_str(), cache);
}

mneme_model* open_model(mneme_runtime* rt, const args& a, const char* engram_store, uint64_t engram_cache_bytes) {
    mneme_model_desc desc = MNEME_MODEL_DESC_INIT;
    desc.engram_store_path = engram_store;
    desc.engram_cache_bytes = engram_cache_bytes;
    const std::string precision = a.get_or("precision", "f32");
    if (precision == "f64") {
        desc.precision = MNEME_PRECISION_F64;
    } else if (precision != "f32") {
        throw usage_error{"--precision must be f32 or f64"};
    }
    const std::string aq = a.get_or("act-quant", "on");
    if (aq == "off") {
        desc.act_quant = MNEME_ACT_QUANT_OFF;
    } else if (aq != "on") {
        throw usage_error{"--act-quant must be on or off"};
    }
    const std::string backend = a.get_or("backend", "");
    if (!backend.empty()) desc.backend = backend.c_str();
    desc.device = static_cast<int32_t>(a.get_int("device", -1));
    const int64_t coarse = a.get_int("index-coarse-block", 0);
    if (coarse < 0 || coarse > 1 << 20) throw usage_error{"--index-coarse-block must be 0..1048576 tokens"};
    desc.index_coarse_block = static_cast<uint32_t>(coarse);
    const std::string path = a.require("model");
    mneme_model* m = nullptr;
    const mneme_status st = mneme_model_open(rt, path.c_str(), &desc, &m);
    if (st != MNEME_OK) {
        report_failure("cannot open model " + path, st);
        return nullptr;
    }
    return m;
}

opened_model open_runtime_and_model(const args& a) {
    opened_model out;
    out.runtime.reset(open_runtime(a));
    if (!out.runtime) return out;
    out.model.reset(open_model(out.runtime.get(), a));
    return out;
}

std::vector<int32_t> parse_token_list(const std::string& s) {
    std::vector<int32_t> out;
    size_t i = 0;
    while (i < s.size()) {
        size_t j = s.find_first_of(", \n\t", i);
        if (j == std::string::npos) j = s.size();
        if (j > i) {
            const std::string item = s.substr(i, j - i);
            char* end = nullptr;
            const long v = std::strtol(item.c_str(), &end, 10);
            if (!end || *end != '\0' || v < 0 || v > INT32_MAX) throw usage_error{"bad token id '" + item + "'"};
            out.push_back(static_cast<int32_t>(v));
        }
        i = j + 1;
    }
    if (out.empty()) throw usage_error{"empty token list"};
    return out;
}

void write_npy(const std::string& path, const double* data, size_t rows, size_t cols, bool as_f64) {
    std::string header = "{'descr': '" + std::string(as_f64 ? "<f8" : "<f4") +
                         "', 'fortran_order': False, 'shape': (" + std::to_string(rows) + ", " +
                         std::to_string(cols) + "), }";
    const size_t unpadded = 10 + header.size() + 1;
    header.append((64 - unpadded % 64) % 64, ' ');
    header.push_back('\n');
    std::ofstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error("cannot write " + path);
    const char magic[8] = {'\x93', 'N', 'U', 'M', 'P', 'Y', 1, 0};
    f.write(magic, 8);
    const uint16_t len = static_cast<uint16_t>(header.size());
    f.write(reinterpret_cast<const char*>(&len), 2);
    f.write(header.data(), static_cast<std::streamsize>(header.size()));
    for (size_t i = 0; i < rows * cols; ++i) {
        if (as_f64) {
            f.write(reinterpret_cast<const char*>(&data[i]), 8);
        } else {
            const float v = static_cast<float>(data[i]);
            f.write(reinterpret_cast<const char*>(&v), 4);
        }
    }
    if (!f) throw std::runtime_error("write failed: " + path);
}

}  // namespace mneme_cli
