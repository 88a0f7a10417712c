// Pre-tokenization: cutting normalized text into the words that BPE encodes one by one. Supports
// the steps DeepSeek and GPT-2-style tokenizers use: Split (regex or literal pattern, every
// delimiter behaviour, invert), ByteLevel (add_prefix_space, use_regex with GPT-2's pattern),
// Digits and the Whitespace splitters, in a Sequence. Each step sees the pieces of the previous
// one separately, so a pattern never matches across a cut.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/regex.h"

namespace mneme {

enum class split_behavior { removed, isolated, merged_with_previous, merged_with_next, contiguous };

struct pre_tokenizer_step {
    enum class kind { split, prefix_space };
    kind type = kind::split;
    // split
    std::unique_ptr<regex> pattern;
    split_behavior behavior = split_behavior::isolated;
    bool invert = false;
};

// GPT-2's pre-tokenization pattern, used by ByteLevel when use_regex is true.
extern const char* const gpt2_split_pattern;

class pre_tokenizer {
  public:
    pre_tokenizer() = default;
    // `byte_level`: the last step is ByteLevel, so words go to BPE as raw bytes.
    pre_tokenizer(std::vector<pre_tokenizer_step> steps, bool byte_level)
        : steps_(std::move(steps)), byte_level_(byte_level) {}

    bool byte_level() const { return byte_level_; }

    // Appends the non-empty words of `text` to `words`. Words point into `text` or into strings
    // kept in `storage`, which must outlive them.
    void split(std::string_view text, std::vector<std::string_view>& words, std::deque<std::string>& storage) const;

  private:
    static void split_piece(const pre_tokenizer_step& step, std::string_view piece, std::vector<std::string_view>& out);

    std::vector<pre_tokenizer_step> steps_;
    bool byte_level_ = false;
};

}  // namespace mneme
