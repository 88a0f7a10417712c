// UTF-8 scanning shared by the tokenizer, its decoders and the chat formats. Validity follows
// Unicode's Table 3-7 (no overlongs, no surrogates, nothing above U+10FFFF), which is also what
// PCRE2 accepts in UTF mode, so text that passes here can be matched with PCRE2_NO_UTF_CHECK.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mneme::utf8 {

// What the bytes at one position are.
struct sequence_scan {
    // Bytes that form a valid character, or a valid prefix of one (0 when the first byte can never
    // start a character).
    std::size_t length = 0;
    // True when `length` bytes are a whole character; false when the character is cut short,
    // either by a byte that cannot continue it or by the end of the input.
    bool complete = false;
};

sequence_scan scan(std::string_view text, std::size_t pos) noexcept;

// Length of the valid prefix of `text` (text.size() when all of it is valid UTF-8).
std::size_t valid_prefix_length(std::string_view text) noexcept;

inline bool is_valid(std::string_view text) noexcept {
    return valid_prefix_length(text) == text.size();
}

// Number of bytes of the ill-formed sequence at `pos` that one U+FFFD replaces: the "maximal
// subpart" rule of Unicode (also used by WHATWG and Rust's from_utf8_lossy). Always >= 1.
std::size_t invalid_sequence_length(std::string_view text, std::size_t pos) noexcept;

// Copies `text`, replacing each maximal ill-formed subpart with U+FFFD.
std::string replace_invalid(std::string_view text);

// Decodes the valid character at `pos` and advances `pos` past it. Requires valid input.
char32_t decode_at(std::string_view text, std::size_t& pos) noexcept;

// Start of the character that ends just before `end` (valid input).
std::size_t previous_char_start(std::string_view text, std::size_t end) noexcept;

void append(std::string& out, char32_t code_point);

inline constexpr std::string_view replacement_character = "\xEF\xBF\xBD";

// The White_Space property (what Rust's char::is_whitespace and Oniguruma's \s use).
bool is_white_space(char32_t c) noexcept;

}  // namespace mneme::utf8
