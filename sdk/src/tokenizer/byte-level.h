// GPT-2's byte-level alphabet (bytes_to_unicode): every byte is shown as one printable character
// so that a BPE vocabulary of strings can cover arbitrary bytes. Printable Latin-1 bytes stand for
// themselves; the other 68 bytes map, in increasing order, to U+0100, U+0101, ...
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mneme::byte_level {

char32_t byte_to_char(std::uint8_t byte) noexcept;

// The byte a character of the alphabet stands for, or -1 when it is not in the alphabet.
int char_to_byte(char32_t c) noexcept;

// Maps raw bytes to the alphabet (what Hugging Face's ByteLevel pre-tokenizer produces).
std::string encode(std::string_view bytes);

// Maps an alphabet string back to bytes, appending them to `out`. Returns false and leaves `out`
// unchanged when `text` is not valid UTF-8 or holds a character outside the alphabet (Hugging
// Face's ByteLevel decoder then keeps the token's text as it is, which is how added tokens such
// as "<｜User｜>" come out).
bool decode(std::string_view text, std::string& out);

}  // namespace mneme::byte_level
