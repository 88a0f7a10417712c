// The normalizers of tokenizer.json that we support: an empty or absent normalizer (DeepSeek),
// and the string-rewriting steps Replace and Prepend, alone or in a Sequence. Unicode
// normalization forms (NFC, NFKC, ...) and case folding are rejected at load time.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/regex.h"

namespace mneme {

struct normalizer_step {
    enum class kind { replace, prepend };
    kind type = kind::replace;
    std::unique_ptr<regex> pattern;  // replace: what to find (literal patterns are escaped)
    std::string content;             // replace: the replacement; prepend: the prefix
};

class normalizer {
  public:
    normalizer() = default;
    explicit normalizer(std::vector<normalizer_step> steps) : steps_(std::move(steps)) {}

    bool empty() const { return steps_.empty(); }

    // Returns the normalized text; `storage` receives it when it differs from the input.
    std::string_view apply(std::string_view text, std::string& storage) const;

  private:
    std::vector<normalizer_step> steps_;
};

}  // namespace mneme
