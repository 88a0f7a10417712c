// Regular expressions for tokenizer.json patterns. Hugging Face compiles them with Oniguruma (Ruby
// syntax); we compile them with PCRE2 (8-bit, UTF + UCP, JIT when available) after translating the
// few constructs whose meaning differs between the two.
#pragma once

#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace mneme {

// A pattern that cannot be translated or compiled; the loader turns it into an error naming the
// file and field.
class regex_error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// Rewrites an Oniguruma (Ruby syntax) pattern as PCRE2 syntax with the same meaning:
//  - \s and \S use Unicode's White_Space set (PCRE2's \s in UCP mode also matches U+180E);
//  - \w and \W use Oniguruma's word set (letters, marks, decimal digits, connector punctuation);
//  - \h and \H are hexadecimal digits in Oniguruma (horizontal space in PCRE2);
//  - \uHHHH becomes \x{HHHH}.
// Class intersection ("&&") has no PCRE2 equivalent and is rejected.
std::string translate_oniguruma_pattern(std::string_view pattern);

// Escapes `text` so that it matches literally.
std::string escape_literal(std::string_view text);

class regex {
  public:
    // `pattern` is PCRE2 syntax (run translate_oniguruma_pattern first for tokenizer.json patterns).
    // Throws regex_error.
    explicit regex(const std::string& pattern);
    ~regex();
    regex(const regex&) = delete;
    regex& operator=(const regex&) = delete;
    regex(regex&&) noexcept;
    regex& operator=(regex&&) noexcept;

    // Leftmost match starting at or after `start`; the subject must be valid UTF-8 and `start` a
    // character boundary. Look-behind sees the whole subject, as Oniguruma's search does.
    bool search(std::string_view subject, std::size_t start, std::size_t& match_begin, std::size_t& match_end) const;

    // Every match, left to right, with the iteration rule of Rust's regex and onig crates: an empty
    // match right where the previous match ended is skipped and the search moves one character on.
    template <class OnMatch>
    void for_each_match(std::string_view subject, OnMatch&& on_match) const {
        std::size_t search_from = 0;
        std::size_t last_match_end = std::string_view::npos;
        while (search_from <= subject.size()) {
            std::size_t b = 0, e = 0;
            if (!search(subject, search_from, b, e)) break;
            if (b == e) {
                search_from = next_char(subject, e);
                if (e == last_match_end) continue;
            } else {
                search_from = e;
            }
            last_match_end = e;
            on_match(b, e);
        }
    }

    const std::string& pattern() const { return pattern_; }

  private:
    static std::size_t next_char(std::string_view s, std::size_t pos);

    struct compiled;
    std::unique_ptr<compiled> code_;
    std::string pattern_;
};

}  // namespace mneme
