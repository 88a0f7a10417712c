#include "tokenizer/added-tokens.h"

#include <algorithm>
#include <cstring>

#include "tokenizer/regex.h"
#include "tokenizer/utf8.h"

namespace mneme {
namespace {

// Rust's regex \w (used by Hugging Face for single_word): Alphabetic, marks, decimal digits,
// connector punctuation and the joiners. Letter numbers (Nl) stand in for the non-letter part of
// Alphabetic.
const regex& word_char() {
    static const regex r("[\\p{L}\\p{Nl}\\p{M}\\p{Nd}\\p{Pc}\\x{200C}\\x{200D}]");
    return r;
}

bool is_word_char_at(std::string_view text, std::size_t pos) {
    std::size_t end = pos;
    utf8::decode_at(text, end);
    std::size_t b = 0, e = 0;
    return word_char().search(text.substr(pos, end - pos), 0, b, e);
}

}  // namespace

added_token_matcher::added_token_matcher(std::vector<entry> entries) : entries_(std::move(entries)) {
    trie_.emplace_back();
    for (std::size_t i = 0; i < entries_.size(); ++i) {
        const std::string& p = entries_[i].pattern;
        if (p.empty()) continue;  // Hugging Face ignores empty added tokens
        first_byte_[static_cast<unsigned char>(p[0])] = true;
        std::uint32_t at = 0;
        for (unsigned char b : p) {
            auto& children = trie_[at].children;
            auto it = std::lower_bound(children.begin(), children.end(), b,
                                       [](const auto& child, unsigned char key) { return child.first < key; });
            if (it == children.end() || it->first != b) {
                const auto child = static_cast<std::uint32_t>(trie_.size());
                it = children.insert(it, {b, child});
                trie_.emplace_back();
                at = child;
            } else {
                at = it->second;
            }
        }
        // Two tokens with the same text: the first declared wins (the loader rejects conflicting ids).
        if (trie_[at].entry < 0) trie_[at].entry = static_cast<std::int32_t>(i);
    }
}

const added_token_matcher::entry* added_token_matcher::find(std::string_view text, std::size_t from, std::size_t& start,
                                                            std::size_t& length) const {
    for (std::size_t pos = from; pos < text.size(); ++pos) {
        if (!first_byte_[static_cast<unsigned char>(text[pos])]) continue;
        std::uint32_t at = 0;
        std::int32_t best = -1;
        std::size_t best_length = 0;
        for (std::size_t k = pos; k < text.size(); ++k) {
            const auto& children = trie_[at].children;
            const unsigned char b = static_cast<unsigned char>(text[k]);
            const auto it = std::lower_bound(children.begin(), children.end(), b,
                                             [](const auto& child, unsigned char key) { return child.first < key; });
            if (it == children.end() || it->first != b) break;
            at = it->second;
            if (trie_[at].entry >= 0) {
                best = trie_[at].entry;
                best_length = k + 1 - pos;
            }
        }
        if (best >= 0) {
            start = pos;
            length = best_length;
            return &entries_[best];
        }
    }
    return nullptr;
}

bool added_token_matcher::is_single_word(std::string_view text, std::size_t start, std::size_t stop) {
    if (start > 0 && is_word_char_at(text, utf8::previous_char_start(text, start))) return false;
    if (stop < text.size() && is_word_char_at(text, stop)) return false;
    return true;
}

std::size_t added_token_matcher::leading_space_start(std::string_view text, std::size_t start) {
    while (start > 0) {
        std::size_t prev = utf8::previous_char_start(text, start);
        std::size_t p = prev;
        if (!utf8::is_white_space(utf8::decode_at(text, p))) break;
        start = prev;
    }
    return start;
}

std::size_t added_token_matcher::trailing_space_end(std::string_view text, std::size_t stop) {
    while (stop < text.size()) {
        std::size_t p = stop;
        if (!utf8::is_white_space(utf8::decode_at(text, p))) break;
        stop = p;
    }
    return stop;
}

}  // namespace mneme
