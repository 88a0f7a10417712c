// Everything a tokenizer is made of, as read from tokenizer.json and tokenizer_config.json.
// Filled by tokenizer-json.cpp, used by tokenizer.cpp.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/added-tokens.h"
#include "tokenizer/bpe.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/pre-tokenizer.h"

namespace mneme {

enum class token_decoder { none, byte_level };

struct tokenizer_data {
    // Indexed by id, size = max id + 1.
    std::vector<std::string> token_texts;
    std::vector<std::uint8_t> token_flags;  // token_flag bits
    // What each token decodes to on its own, concatenated; token i is
    // token_bytes_pool[token_bytes_offsets[i], token_bytes_offsets[i + 1]).
    std::string token_bytes_pool;
    std::vector<std::uint32_t> token_bytes_offsets;

    std::vector<added_token> added_tokens;
    string_to_id_map added_token_ids;  // content -> id
    // Matched on the raw text (normalized == false) and on normalized text (normalized == true).
    added_token_matcher raw_added_tokens;
    added_token_matcher normalized_added_tokens;

    std::unique_ptr<bpe_model> model;
    normalizer text_normalizer;
    pre_tokenizer splitter;
    token_decoder decoder = token_decoder::none;

    std::int32_t bos_id = -1;
    std::int32_t eos_id = -1;
    bool add_bos = false;
    // tokenizer_config.json's chat_template (the default one when it lists several); empty if none.
    std::string chat_template;
};

enum token_flag : std::uint8_t {
    token_used = 1,     // the id names a token
    token_added = 2,    // declared in added_tokens
    token_special = 4,  // an added token with special: true
};

// Parses tokenizer.json (and tokenizer_config.json when `config_json` is not empty). `json_name`
// and `config_name` are the file names used in error messages.
std::unique_ptr<tokenizer_data> read_tokenizer_files(std::string_view tokenizer_json, const std::string& json_name,
                                                     std::string_view config_json, const std::string& config_name);

}  // namespace mneme
