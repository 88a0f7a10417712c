#include "tokenizer/stream-decoder.h"

#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace mneme {

utf8_stream_decoder::utf8_stream_decoder(const tokenizer& tok, bool render_special)
    : tokenizer_(&tok), render_special_(render_special) {}

std::string utf8_stream_decoder::push(std::int32_t id) {
    std::string bytes;
    if (tokenizer_->append_token_output(id, render_special_, first_token_, bytes)) first_token_ = false;
    return push_bytes(bytes);
}

std::string utf8_stream_decoder::push_bytes(std::string_view bytes) {
    pending_.append(bytes);
    std::string out;
    std::size_t pos = 0;
    while (pos < pending_.size()) {
        const utf8::sequence_scan s = utf8::scan(pending_, pos);
        if (s.complete) {
            out.append(pending_, pos, s.length);
            pos += s.length;
        } else if (s.length > 0 && pos + s.length == pending_.size()) {
            break;  // a valid start of a character whose remaining bytes have not arrived yet
        } else {
            // Bytes that no continuation can make valid: replace them now rather than stall.
            out.append(utf8::replacement_character);
            pos += s.length == 0 ? 1 : s.length;
        }
    }
    pending_.erase(0, pos);
    return out;
}

std::string utf8_stream_decoder::flush() {
    std::string out;
    if (!pending_.empty()) out.append(utf8::replacement_character);
    pending_.clear();
    first_token_ = true;
    return out;
}

void utf8_stream_decoder::reset() {
    pending_.clear();
    first_token_ = true;
}

}  // namespace mneme
