// Hugging Face tokenizer.json support for DeepSeek V3 / V3.1 / V3.2 / V4 and for byte-level BPE
// tokenizers of the same format: loading (with tokenizer_config.json beside it), encoding,
// decoding and streaming decoding. Encoding matches Hugging Face's `tokenizers` (Rust) for valid
// UTF-8 text; see encode() for what happens to bytes that are not.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/stream-decoder.h"

namespace mneme {

struct tokenizer_data;

class tokenizer {
  public:
    // Loads `tokenizer_json_path` and, when it exists in the same folder, tokenizer_config.json
    // (bos_token, eos_token, add_bos_token). Throws mneme::error: MNEME_ERROR_FILE_NOT_FOUND,
    // MNEME_ERROR_IO, MNEME_ERROR_INVALID_MODEL (the message names the file and the JSON field)
    // or MNEME_ERROR_UNSUPPORTED (a valid tokenizer.json feature this implementation lacks).
    static std::unique_ptr<tokenizer> load(const std::string& tokenizer_json_path);

    // The same from file contents; `config_json` may be empty (no tokenizer_config.json).
    // `source_name` is the name used in error messages.
    static std::unique_ptr<tokenizer> load_from_strings(std::string_view tokenizer_json, std::string_view config_json,
                                                        const std::string& source_name);

    ~tokenizer();
    tokenizer(const tokenizer&) = delete;
    tokenizer& operator=(const tokenizer&) = delete;

    // Text to ids, without BOS (add bos_id() yourself when add_bos() says so). With parse_special,
    // special-token text such as "<｜User｜>" becomes that token; without it, special tokens are
    // ordinary text, while added tokens not marked special stay atomic (Hugging Face's
    // encode_special_tokens rule).
    // Bytes that are not valid UTF-8 never reach the regexes: in a byte-level tokenizer each
    // maximal run of them is encoded as a word of its own, byte by byte, so decode(encode(x)) == x
    // for any bytes; in other tokenizers each ill-formed sequence becomes U+FFFD first.
    // Thread-safe.
    std::vector<std::int32_t> encode(std::string_view text, bool parse_special) const;

    // Ids to the exact bytes they stand for (not necessarily valid UTF-8 when the ids cut a
    // character; utf8_stream_decoder handles that). Special tokens are rendered as their text or
    // skipped. Throws MNEME_ERROR_INVALID_ARGUMENT for an id outside [0, vocab_size()).
    std::string decode(std::span<const std::int32_t> ids, bool render_special) const;

    // The vocabulary string of a token (byte-level alphabet for BPE tokens, e.g. "Ġthe"); empty for
    // an unused id. Throws MNEME_ERROR_INVALID_ARGUMENT for an id out of range.
    std::string_view token_text(std::int32_t id) const;
    // The bytes a token decodes to on its own.
    std::string token_bytes(std::int32_t id) const;
    // Maximum id + 1, added tokens included.
    std::size_t vocab_size() const;

    std::int32_t bos_id() const;  // -1 when none
    std::int32_t eos_id() const;  // -1 when none
    // Whether Hugging Face would put BOS in front when encoding with special tokens
    // (tokenizer_config.json's add_bos_token, else the post-processor's template).
    bool add_bos() const;
    bool is_special(std::int32_t id) const;
    // tokenizer_config.json's Jinja chat_template, empty when absent (see chat_family_from_template).
    const std::string& chat_template() const;
    // Added tokens first, then the model vocabulary. `text` is the vocabulary string.
    std::optional<std::int32_t> token_id(std::string_view text) const;

    // Appends what one token contributes to decoded output (used by utf8_stream_decoder) and
    // returns whether it contributes at all (not for a skipped special token or an unused id).
    // Without a decoder in tokenizer.json, Hugging Face joins tokens with spaces: then a space
    // goes before every contributing token but the first.
    bool append_token_output(std::int32_t id, bool render_special, bool first, std::string& out) const;

  private:
    explicit tokenizer(std::unique_ptr<tokenizer_data> data);
    void encode_valid_text(std::string_view text, bool parse_special, std::vector<std::int32_t>& out) const;
    void check_id(std::int32_t id) const;

    std::unique_ptr<tokenizer_data> data_;
};

}  // namespace mneme
