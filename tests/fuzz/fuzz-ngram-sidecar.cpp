// libFuzzer target: reading an n-gram sidecar (the drafting table saved next to a snapshot, which
// lives on disk and may be corrupted or planted). Each input is tried as it is, and again re-signed
// (the header bound to the context and the checksum made right), so that the fuzzer reaches the
// checks behind the checksum. Any crash, or a table that loads and then proposes a token outside
// the context, is a finding.
#include <cstdint>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "decode/ngram-draft.h"

namespace {

// The context the seed corpus was written for: repetitive, a few tokens with many followers.
std::vector<int32_t> context() {
    std::vector<int32_t> c;
    uint32_t x = 12345;
    while (c.size() < 400) {
        x = x * 1103515245u + 12345u;
        if (c.size() > 8 && (x >> 16) % 3 == 0) {
            const std::size_t from = (x >> 8) % (c.size() - 4);
            for (std::size_t i = 0; i < 6 && c.size() < 400; ++i) c.push_back(c[from + i]);
        } else {
            c.push_back(static_cast<int32_t>((x >> 16) % 37));
        }
    }
    return c;
}

void check(mneme::ngram_drafter& d, const std::vector<int32_t>& ctx) {
    for (int32_t next = 0; next < 40; ++next) {
        for (int32_t t : d.propose(next, 1e-9, 15)) {
            if (t < 0 || t >= 37) __builtin_trap();
        }
    }
    d.push(ctx);  // counting on from a loaded table must not go wrong either
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const std::vector<int32_t> ctx = context();
    mneme::ngram_drafter d;
    if (d.deserialize(std::span<const unsigned char>(data, size), ctx).empty()) check(d, ctx);

    std::vector<unsigned char> signed_bytes(data, data + size);
    if (signed_bytes.size() >= 80) {
        const uint64_t tokens = ctx.size(), hash = mneme::token_prefix_hash(ctx);
        std::memcpy(signed_bytes.data() + 24, &tokens, 8);
        std::memcpy(signed_bytes.data() + 32, &hash, 8);
        const uint64_t sum =
            mneme::ngram_table_checksum(std::span<const unsigned char>(signed_bytes).first(signed_bytes.size() - 8));
        std::memcpy(signed_bytes.data() + signed_bytes.size() - 8, &sum, 8);
        std::istringstream in(std::string(signed_bytes.begin(), signed_bytes.end()));
        if (d.deserialize(in, signed_bytes.size(), ctx).empty()) check(d, ctx);
    }
    return 0;
}
