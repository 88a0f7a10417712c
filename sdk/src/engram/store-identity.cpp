#include "engram/store-identity.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace mneme {
namespace {

uint64_t fnv1a(uint64_t h, const void* data, std::size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < n; ++i) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

}  // namespace

std::string read_config_text(const std::string& model_dir) {
    std::ifstream in(std::filesystem::path(model_dir) / "config.json", std::ios::binary);
    std::ostringstream os;
    os << in.rdbuf();
    return os.str();
}

std::string engram_store_identity(const std::string& config_text, const checkpoint& ckpt, const model_config& cfg) {
    uint64_t h = fnv1a(1469598103934665603ull, config_text.data(), config_text.size());
    for (const auto& t : ckpt) {
        h = fnv1a(h, t.name.data(), t.name.size());
        h = fnv1a(h, &t.dtype, sizeof(t.dtype));
        for (int64_t d : t.shape) h = fnv1a(h, &d, sizeof(d));
    }
    // 64 bytes at 33 evenly spaced places of each table (start and end included): a few page reads.
    for (int64_t id : cfg.engram.layer_ids) {
        for (const char* part : {"weight", "scale"}) {
            const tensor_info* t = ckpt.find("layers." + std::to_string(id) + ".engram.embed." + part);
            if (!t || t->size_bytes == 0) continue;
            const uint64_t n = t->size_bytes, span = std::min<uint64_t>(64, n);
            for (uint64_t k = 0; k <= 32; ++k) h = fnv1a(h, t->data + (n - span) * k / 32, span);
        }
    }
    char hex[17];
    std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(h));
    return hex;
}

}  // namespace mneme
