// The encode pipeline, in Hugging Face's order: added tokens on the raw text, normalization,
// added tokens on the normalized text, pre-tokenization, BPE per word.
#include "tokenizer/tokenizer.h"

#include <deque>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "tokenizer/tokenizer-data.h"
#include "tokenizer/utf8.h"

namespace mneme {
namespace {

// The real DeepSeek tokenizer.json is 8 MB and the largest known ones are a few tens of MB; this
// refuses absurd files before reading them (the parsed document takes several times the file size).
constexpr std::uintmax_t max_tokenizer_file_bytes = 128ull * 1024 * 1024;

std::string read_file(const std::filesystem::path& path) {
    std::error_code ec;
    const std::uintmax_t size = std::filesystem::file_size(path, ec);
    if (ec) {
        if (!std::filesystem::exists(path)) fail(MNEME_ERROR_FILE_NOT_FOUND, path.string(), ": no such file");
        fail(MNEME_ERROR_IO, path.string(), ": cannot read: ", ec.message());
    }
    if (size > max_tokenizer_file_bytes) {
        fail(MNEME_ERROR_INVALID_MODEL, path.string(), ": ", size, " bytes is over the limit of ",
             max_tokenizer_file_bytes, " for a tokenizer file");
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(MNEME_ERROR_IO, path.string(), ": cannot open");
    std::string text(static_cast<std::size_t>(size), '\0');
    in.read(text.data(), static_cast<std::streamsize>(size));
    if (static_cast<std::uintmax_t>(in.gcount()) != size) fail(MNEME_ERROR_IO, path.string(), ": short read");
    return text;
}

}  // namespace

std::unique_ptr<tokenizer> tokenizer::load(const std::string& tokenizer_json_path) {
    const std::filesystem::path json_path(tokenizer_json_path);
    const std::string json_text = read_file(json_path);
    const std::filesystem::path config_path = json_path.parent_path() / "tokenizer_config.json";
    std::string config_text;
    std::error_code ec;
    if (std::filesystem::is_regular_file(config_path, ec)) {
        config_text = read_file(config_path);
        // An empty file is as malformed as any other non-JSON; keep it from reading as "absent".
        if (config_text.empty()) fail(MNEME_ERROR_INVALID_MODEL, config_path.string(), ": empty file");
    }
    return std::unique_ptr<tokenizer>(
        new tokenizer(read_tokenizer_files(json_text, json_path.string(), config_text, config_path.string())));
}

std::unique_ptr<tokenizer> tokenizer::load_from_strings(std::string_view tokenizer_json, std::string_view config_json,
                                                        const std::string& source_name) {
    return std::unique_ptr<tokenizer>(new tokenizer(
        read_tokenizer_files(tokenizer_json, source_name, config_json, source_name + " (tokenizer_config.json)")));
}

tokenizer::tokenizer(std::unique_ptr<tokenizer_data> data) : data_(std::move(data)) {}

tokenizer::~tokenizer() = default;

std::vector<std::int32_t> tokenizer::encode(std::string_view text, bool parse_special) const {
    std::vector<std::int32_t> out;
    out.reserve(text.size() / 3 + 1);
    if (!data_->model->byte_level_input()) {
        if (utf8::is_valid(text)) {
            encode_valid_text(text, parse_special, out);
        } else {
            encode_valid_text(utf8::replace_invalid(text), parse_special, out);
        }
        return out;
    }
    // Byte-level: valid stretches go through the whole pipeline; each run of invalid bytes is one
    // word of its own, which byte-level BPE can always represent.
    std::size_t pos = 0;
    while (pos < text.size()) {
        const std::size_t valid = utf8::valid_prefix_length(text.substr(pos));
        if (valid > 0) encode_valid_text(text.substr(pos, valid), parse_special, out);
        pos += valid;
        std::size_t invalid_end = pos;
        while (invalid_end < text.size() && !utf8::scan(text, invalid_end).complete) {
            invalid_end += utf8::invalid_sequence_length(text, invalid_end);
        }
        if (invalid_end > pos) data_->model->encode_word(text.substr(pos, invalid_end - pos), out);
        pos = invalid_end;
    }
    return out;
}

void tokenizer::encode_valid_text(std::string_view text, bool parse_special, std::vector<std::int32_t>& out) const {
    std::vector<std::string_view> words;
    std::deque<std::string> storage;
    std::string normalized_storage;
    data_->raw_added_tokens.split(text, parse_special, [&](std::string_view piece, std::int32_t id) {
        if (id >= 0) {
            out.push_back(id);
            return;
        }
        const std::string_view normalized = data_->text_normalizer.apply(piece, normalized_storage);
        data_->normalized_added_tokens.split(normalized, parse_special,
                                             [&](std::string_view part, std::int32_t part_id) {
                                                 if (part_id >= 0) {
                                                     out.push_back(part_id);
                                                     return;
                                                 }
                                                 words.clear();
                                                 storage.clear();
                                                 data_->splitter.split(part, words, storage);
                                                 for (std::string_view word : words)
                                                     data_->model->encode_word(word, out);
                                             });
    });
}

void tokenizer::check_id(std::int32_t id) const {
    if (id < 0 || static_cast<std::size_t>(id) >= data_->token_texts.size()) {
        fail(MNEME_ERROR_INVALID_ARGUMENT, "token id ", id, " is outside [0, ", data_->token_texts.size(), ")");
    }
}

bool tokenizer::append_token_output(std::int32_t id, bool render_special, bool first, std::string& out) const {
    check_id(id);
    const std::uint8_t flags = data_->token_flags[id];
    if (!(flags & token_used)) return false;
    if (!render_special && (flags & token_special)) return false;
    if (data_->decoder == token_decoder::none && !first) out += ' ';
    out.append(data_->token_bytes_pool, data_->token_bytes_offsets[id],
               data_->token_bytes_offsets[id + 1] - data_->token_bytes_offsets[id]);
    return true;
}

std::string tokenizer::decode(std::span<const std::int32_t> ids, bool render_special) const {
    std::string out;
    bool first = true;
    for (const std::int32_t id : ids) {
        if (append_token_output(id, render_special, first, out)) first = false;
    }
    return out;
}

std::string_view tokenizer::token_text(std::int32_t id) const {
    check_id(id);
    return data_->token_texts[id];
}

std::string tokenizer::token_bytes(std::int32_t id) const {
    check_id(id);
    return data_->token_bytes_pool.substr(data_->token_bytes_offsets[id],
                                          data_->token_bytes_offsets[id + 1] - data_->token_bytes_offsets[id]);
}

std::size_t tokenizer::vocab_size() const {
    return data_->token_texts.size();
}
std::int32_t tokenizer::bos_id() const {
    return data_->bos_id;
}
std::int32_t tokenizer::eos_id() const {
    return data_->eos_id;
}
bool tokenizer::add_bos() const {
    return data_->add_bos;
}

const std::string& tokenizer::chat_template() const {
    return data_->chat_template;
}

bool tokenizer::is_special(std::int32_t id) const {
    return id >= 0 && static_cast<std::size_t>(id) < data_->token_flags.size() &&
           (data_->token_flags[id] & token_special);
}

std::optional<std::int32_t> tokenizer::token_id(std::string_view text) const {
    if (const auto it = data_->added_token_ids.find(text); it != data_->added_token_ids.end()) return it->second;
    if (const auto it = data_->model->vocab().find(text); it != data_->model->vocab().end()) return it->second;
    return std::nullopt;
}

}  // namespace mneme
