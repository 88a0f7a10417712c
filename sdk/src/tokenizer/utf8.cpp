#include "tokenizer/utf8.h"

namespace mneme::utf8 {

sequence_scan scan(std::string_view text, std::size_t pos) noexcept {
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
    const unsigned char lead = byte(pos);
    if (lead < 0x80) return {1, true};
    std::size_t need = 0;
    // Allowed range of the second byte; later bytes are always 80..BF.
    unsigned char low = 0x80, high = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
        need = 1;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        need = 2;
        if (lead == 0xE0) low = 0xA0;   // overlong
        if (lead == 0xED) high = 0x9F;  // surrogates
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        need = 3;
        if (lead == 0xF0) low = 0x90;   // overlong
        if (lead == 0xF4) high = 0x8F;  // above U+10FFFF
    } else {
        return {0, false};
    }
    std::size_t length = 1;
    for (std::size_t k = 1; k <= need; ++k) {
        if (pos + k >= text.size()) return {length, false};
        const unsigned char b = byte(pos + k);
        const unsigned char lo = k == 1 ? low : 0x80;
        const unsigned char hi = k == 1 ? high : 0xBF;
        if (b < lo || b > hi) return {length, false};
        ++length;
    }
    return {length, true};
}

std::size_t valid_prefix_length(std::string_view text) noexcept {
    std::size_t pos = 0;
    while (pos < text.size()) {
        // ASCII fast path: most text is mostly ASCII.
        if (static_cast<unsigned char>(text[pos]) < 0x80) {
            ++pos;
            continue;
        }
        const sequence_scan s = scan(text, pos);
        if (!s.complete) return pos;
        pos += s.length;
    }
    return pos;
}

std::size_t invalid_sequence_length(std::string_view text, std::size_t pos) noexcept {
    const sequence_scan s = scan(text, pos);
    return s.length == 0 ? 1 : s.length;
}

std::string replace_invalid(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    std::size_t pos = 0;
    while (pos < text.size()) {
        const std::size_t valid = valid_prefix_length(text.substr(pos));
        out.append(text.substr(pos, valid));
        pos += valid;
        if (pos < text.size()) {
            out.append(replacement_character);
            pos += invalid_sequence_length(text, pos);
        }
    }
    return out;
}

char32_t decode_at(std::string_view text, std::size_t& pos) noexcept {
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
    const unsigned char lead = byte(pos);
    if (lead < 0x80) {
        ++pos;
        return lead;
    }
    if (lead < 0xE0) {
        const char32_t c = (char32_t(lead & 0x1F) << 6) | (byte(pos + 1) & 0x3F);
        pos += 2;
        return c;
    }
    if (lead < 0xF0) {
        const char32_t c =
            (char32_t(lead & 0x0F) << 12) | (char32_t(byte(pos + 1) & 0x3F) << 6) | (byte(pos + 2) & 0x3F);
        pos += 3;
        return c;
    }
    const char32_t c = (char32_t(lead & 0x07) << 18) | (char32_t(byte(pos + 1) & 0x3F) << 12) |
                       (char32_t(byte(pos + 2) & 0x3F) << 6) | (byte(pos + 3) & 0x3F);
    pos += 4;
    return c;
}

std::size_t previous_char_start(std::string_view text, std::size_t end) noexcept {
    std::size_t pos = end;
    while (pos > 0) {
        --pos;
        if ((static_cast<unsigned char>(text[pos]) & 0xC0) != 0x80) break;
    }
    return pos;
}

void append(std::string& out, char32_t c) {
    if (c < 0x80) {
        out.push_back(static_cast<char>(c));
    } else if (c < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (c >> 6)));
        out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else if (c < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (c >> 12)));
        out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (c >> 18)));
        out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
}

bool is_white_space(char32_t c) noexcept {
    if (c <= 0x20) return c == 0x20 || (c >= 0x09 && c <= 0x0D);
    if (c < 0x85) return false;
    return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000;
}

}  // namespace mneme::utf8
