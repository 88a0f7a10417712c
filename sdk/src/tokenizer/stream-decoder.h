// Incremental detokenization for streaming output: ids go in one at a time, and only whole UTF-8
// characters come out, so a caller can show text as it is generated without ever printing half
// of a multi-byte character (byte-level BPE tokens often end in the middle of one).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace mneme {

class tokenizer;

class utf8_stream_decoder {
  public:
    explicit utf8_stream_decoder(const tokenizer& tok, bool render_special = true);

    // Adds one token; returns the characters it completes (possibly none).
    std::string push(std::int32_t id);
    // Adds raw bytes; returns the characters they complete.
    std::string push_bytes(std::string_view bytes);
    // Ends the stream: bytes still held back (an unfinished character) come out as U+FFFD.
    std::string flush();
    // Forgets held-back bytes and starts a new stream.
    void reset();

    // Bytes held back waiting for the rest of a character.
    std::size_t pending_bytes() const { return pending_.size(); }

  private:
    const tokenizer* tokenizer_;
    bool render_special_;
    bool first_token_ = true;
    std::string pending_;
};

}  // namespace mneme
