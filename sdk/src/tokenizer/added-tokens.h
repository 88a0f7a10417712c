// Added tokens (special tokens such as "<｜User｜>" and any other token declared in
// tokenizer.json's added_tokens) are atomic: before normalization and pre-tokenization the text is
// cut around them. This follows Hugging Face's AddedVocabulary::find_matches: leftmost-longest
// matching over all contents, the single_word / lstrip / rstrip options, and, when special tokens
// are not parsed, special matches are skipped without being re-scanned.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mneme {

struct added_token {
    std::int32_t id = -1;
    std::string content;
    bool special = false;
    bool single_word = false;
    bool lstrip = false;
    bool rstrip = false;
    bool normalized = true;
};

class added_token_matcher {
  public:
    // A matcher over `tokens`, each with the text to look for (the content itself, or its
    // normalized form for tokens matched after normalization).
    struct entry {
        const added_token* token = nullptr;
        std::string pattern;
    };
    explicit added_token_matcher(std::vector<entry> entries);
    added_token_matcher() = default;

    bool empty() const { return entries_.empty(); }

    // Calls on_piece(text, id) for consecutive pieces covering `text`: id >= 0 for a matched added
    // token (the text then includes whitespace taken by lstrip/rstrip), -1 for text in between.
    // Empty pieces are not reported. `text` must be valid UTF-8.
    template <class OnPiece>
    void split(std::string_view text, bool parse_special, OnPiece&& on_piece) const {
        if (entries_.empty()) {
            if (!text.empty()) on_piece(text, -1);
            return;
        }
        std::size_t emitted = 0;  // end of the last reported piece
        std::size_t search = 0;   // where the next match may start
        while (search < text.size()) {
            std::size_t start = 0, length = 0;
            const entry* e = find(text, search, start, length);
            if (!e) break;
            std::size_t stop = start + length;
            search = stop;
            const added_token& t = *e->token;
            if (!parse_special && t.special) continue;
            if (t.single_word && !is_single_word(text, start, stop)) continue;
            if (t.lstrip) start = std::max(leading_space_start(text, start), emitted);
            if (t.rstrip) stop = trailing_space_end(text, stop);
            if (start > emitted) on_piece(text.substr(emitted, start - emitted), -1);
            on_piece(text.substr(start, stop - start), t.id);
            emitted = stop;
            search = std::max(search, stop);
        }
        if (emitted < text.size()) on_piece(text.substr(emitted), -1);
    }

  private:
    struct node {
        std::vector<std::pair<unsigned char, std::uint32_t>> children;  // sorted by byte
        std::int32_t entry = -1;
    };

    // Leftmost match at or after `from`, longest among those starting there.
    const entry* find(std::string_view text, std::size_t from, std::size_t& start, std::size_t& length) const;
    static bool is_single_word(std::string_view text, std::size_t start, std::size_t stop);
    static std::size_t leading_space_start(std::string_view text, std::size_t start);
    static std::size_t trailing_space_end(std::string_view text, std::size_t stop);

    std::vector<entry> entries_;
    std::vector<node> trie_;
    bool first_byte_[256] = {};
};

}  // namespace mneme
