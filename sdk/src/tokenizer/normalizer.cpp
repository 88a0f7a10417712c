#include "tokenizer/normalizer.h"

namespace mneme {

std::string_view normalizer::apply(std::string_view text, std::string& storage) const {
    if (steps_.empty()) return text;
    std::string current(text);
    for (const normalizer_step& step : steps_) {
        if (step.type == normalizer_step::kind::prepend) {
            // Hugging Face's Prepend leaves empty strings empty.
            if (!current.empty()) current.insert(0, step.content);
            continue;
        }
        std::string replaced;
        std::size_t copied = 0;
        step.pattern->for_each_match(current, [&](std::size_t b, std::size_t e) {
            replaced.append(current, copied, b - copied);
            replaced += step.content;
            copied = e;
        });
        replaced.append(current, copied, std::string::npos);
        current = std::move(replaced);
    }
    storage = std::move(current);
    return storage;
}

}  // namespace mneme
