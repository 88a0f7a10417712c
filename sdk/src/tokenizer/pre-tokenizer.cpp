#include "tokenizer/pre-tokenizer.h"

namespace mneme {

// From Hugging Face's ByteLevel pre-tokenizer (itself GPT-2's encoder.py), in Oniguruma syntax.
const char* const gpt2_split_pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

void pre_tokenizer::split(std::string_view text, std::vector<std::string_view>& words,
                          std::deque<std::string>& storage) const {
    thread_local std::vector<std::string_view> current, next;
    current.clear();
    if (!text.empty()) current.push_back(text);
    for (const pre_tokenizer_step& step : steps_) {
        next.clear();
        for (std::string_view piece : current) {
            if (step.type == pre_tokenizer_step::kind::prefix_space) {
                // ByteLevel's add_prefix_space: every piece that does not start with a space gets one.
                if (piece.front() != ' ') {
                    storage.push_back(std::string(" ").append(piece));
                    piece = storage.back();
                }
                next.push_back(piece);
                continue;
            }
            split_piece(step, piece, next);
        }
        std::swap(current, next);
    }
    words.insert(words.end(), current.begin(), current.end());
}

void pre_tokenizer::split_piece(const pre_tokenizer_step& step, std::string_view piece,
                                std::vector<std::string_view>& out) {
    // Hugging Face's NormalizedString::split: the matches and the gaps between them, in order,
    // each flagged as delimiter or not, then combined according to the behaviour.
    struct span {
        std::size_t begin, end;
        bool delimiter;
    };
    thread_local std::vector<span> spans;
    spans.clear();
    std::size_t previous = 0;
    step.pattern->for_each_match(piece, [&](std::size_t b, std::size_t e) {
        if (b != previous) spans.push_back({previous, b, step.invert});
        spans.push_back({b, e, !step.invert});
        previous = e;
    });
    if (previous != piece.size()) spans.push_back({previous, piece.size(), step.invert});

    const auto emit = [&](std::size_t b, std::size_t e) {
        if (e > b) out.push_back(piece.substr(b, e - b));
    };
    switch (step.behavior) {
        case split_behavior::removed:
            for (const span& s : spans)
                if (!s.delimiter) emit(s.begin, s.end);
            break;
        case split_behavior::isolated:
            for (const span& s : spans) emit(s.begin, s.end);
            break;
        case split_behavior::contiguous:
        case split_behavior::merged_with_previous: {
            // Contiguous joins neighbours of the same kind; MergedWithPrevious glues a delimiter
            // onto whatever precedes it.
            thread_local std::vector<span> merged;
            merged.clear();
            bool previous_delimiter = false;
            for (const span& s : spans) {
                const bool join = step.behavior == split_behavior::contiguous ? s.delimiter == previous_delimiter
                                                                              : s.delimiter && !previous_delimiter;
                if (join && !merged.empty()) {
                    merged.back().end = s.end;
                } else {
                    merged.push_back(s);
                }
                previous_delimiter = s.delimiter;
            }
            for (const span& s : merged) emit(s.begin, s.end);
            break;
        }
        case split_behavior::merged_with_next: {
            // Mirror image of MergedWithPrevious, computed right to left.
            thread_local std::vector<span> merged;
            merged.clear();
            bool previous_delimiter = false;
            for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
                if (it->delimiter && !previous_delimiter && !merged.empty()) {
                    merged.back().begin = it->begin;
                } else {
                    merged.push_back(*it);
                }
                previous_delimiter = it->delimiter;
            }
            for (auto it = merged.rbegin(); it != merged.rend(); ++it) emit(it->begin, it->end);
            break;
        }
    }
}

}  // namespace mneme
