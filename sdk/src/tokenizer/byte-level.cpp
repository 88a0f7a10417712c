#include "tokenizer/byte-level.h"

#include <array>

#include "tokenizer/utf8.h"

namespace mneme::byte_level {
namespace {

struct tables {
    std::array<char32_t, 256> to_char{};
    // The alphabet spans U+0021..U+0143, so a small direct table inverts it.
    std::array<std::int16_t, 0x144> to_byte{};

    tables() {
        to_byte.fill(-1);
        const auto printable = [](int b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE; };
        char32_t next = 0x100;
        for (int b = 0; b < 256; ++b) {
            to_char[b] = printable(b) ? char32_t(b) : next++;
            to_byte[to_char[b]] = static_cast<std::int16_t>(b);
        }
    }
};

const tables& the_tables() {
    static const tables t;
    return t;
}

}  // namespace

char32_t byte_to_char(std::uint8_t byte) noexcept {
    return the_tables().to_char[byte];
}

int char_to_byte(char32_t c) noexcept {
    const auto& t = the_tables();
    return c < t.to_byte.size() ? t.to_byte[c] : -1;
}

std::string encode(std::string_view bytes) {
    std::string out;
    out.reserve(bytes.size() * 2);
    for (unsigned char b : bytes) utf8::append(out, byte_to_char(b));
    return out;
}

bool decode(std::string_view text, std::string& out) {
    const std::size_t old_size = out.size();
    std::size_t pos = 0;
    while (pos < text.size()) {
        const utf8::sequence_scan s = utf8::scan(text, pos);
        int b = -1;
        if (s.complete) b = char_to_byte(utf8::decode_at(text, pos));
        if (b < 0) {
            out.resize(old_size);
            return false;
        }
        out.push_back(static_cast<char>(b));
    }
    return true;
}

}  // namespace mneme::byte_level
