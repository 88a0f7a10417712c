// Reading tokenizer.json and tokenizer_config.json. Every field is type-checked and every
// reference (merge parts, token ids, special-token names) resolved here, so that a malformed or
// hostile file ends in one error naming the file and the field, never in a crash later.
#include <nlohmann/json.hpp>

#include <algorithm>

#include "core/error.h"
#include "tokenizer/byte-level.h"
#include "tokenizer/tokenizer-data.h"
#include "tokenizer/utf8.h"

namespace mneme {
namespace {

using json = nlohmann::json;

// Real tokenizer files nest about five levels deep; the limit only stops pathological input.
constexpr std::size_t max_json_depth = 64;
// The longest DeepSeek token is 128 bytes; no real vocabulary comes near this.
constexpr std::size_t max_token_bytes = 64 * 1024;
constexpr std::size_t max_pattern_bytes = 64 * 1024;
// Ids index tables of this size; larger ids in a file are an error, not a reason to allocate
// gigabytes. Real vocabularies stay below 2^20.
constexpr std::int64_t max_token_id = (std::int64_t{1} << 24) - 1;

// Shows a string from the file in a message: quoted, control bytes escaped, long ones cut.
std::string shown(std::string_view s) {
    constexpr std::size_t max_shown = 80;
    std::string out = "\"";
    std::size_t pos = 0;
    while (pos < s.size() && pos < max_shown) {
        const unsigned char c = static_cast<unsigned char>(s[pos]);
        if (c < 0x20 || c == 0x7F) {
            out += cat("\\x", "0123456789abcdef"[c >> 4], "0123456789abcdef"[c & 15]);
            ++pos;
        } else if (c < 0x80) {
            if (c == '"' || c == '\\') out += '\\';
            out += static_cast<char>(c);
            ++pos;
        } else {
            const utf8::sequence_scan sc = utf8::scan(s, pos);
            const std::size_t n = sc.complete ? sc.length : 1;
            out.append(s.substr(pos, n));
            pos += n;
        }
    }
    if (pos < s.size())
        out += cat("\"... (", s.size(), " bytes)");
    else
        out += '"';
    return out;
}

// Knows which file it reads, so that every error names it.
class reader {
  public:
    explicit reader(const std::string& file) : file_(file) {}

    template <class... Args>
    [[noreturn]] void invalid(std::string_view field, Args&&... args) const {
        fail(MNEME_ERROR_INVALID_MODEL, file_, ": field ", field, ": ", std::forward<Args>(args)...);
    }
    template <class... Args>
    [[noreturn]] void unsupported(std::string_view field, Args&&... args) const {
        fail(MNEME_ERROR_UNSUPPORTED, file_, ": field ", field, ": ", std::forward<Args>(args)...);
    }

    json parse(std::string_view text) const {
        check_depth(text);
        try {
            return json::parse(text.begin(), text.end());
        } catch (const json::exception& e) {
            fail(MNEME_ERROR_INVALID_MODEL, file_, ": not valid JSON: ", e.what());
        }
    }

    void expect_object(const json& v, std::string_view field) const {
        if (!v.is_object()) invalid(field, "expected an object, found ", v.type_name());
    }
    void expect_array(const json& v, std::string_view field) const {
        if (!v.is_array()) invalid(field, "expected an array, found ", v.type_name());
    }

    // nullptr when `key` is absent (the caller decides whether that is allowed).
    static const json* member(const json& object, const char* key) {
        const auto it = object.find(key);
        return it == object.end() ? nullptr : &*it;
    }
    const json& required(const json& object, const char* key, const std::string& field) const {
        const json* v = member(object, key);
        if (!v) invalid(field, "missing");
        return *v;
    }

    std::string string(const json& v, std::string_view field, std::size_t max_bytes = max_token_bytes) const {
        if (!v.is_string()) invalid(field, "expected a string, found ", v.type_name());
        const auto& s = v.get_ref<const std::string&>();
        if (s.size() > max_bytes) invalid(field, "a string of ", s.size(), " bytes is over the limit of ", max_bytes);
        return s;
    }
    // Absent or null gives `fallback`.
    bool boolean(const json* v, std::string_view field, bool fallback) const {
        if (!v || v->is_null()) return fallback;
        if (!v->is_boolean()) invalid(field, "expected true or false, found ", v->type_name());
        return v->get<bool>();
    }
    // Absent or null gives an empty optional.
    std::optional<std::string> optional_string(const json* v, std::string_view field) const {
        if (!v || v->is_null()) return std::nullopt;
        return string(*v, field);
    }
    std::int32_t id(const json& v, std::string_view field) const {
        if (!v.is_number_integer()) invalid(field, "expected an integer id, found ", v.type_name());
        if (v.is_number_unsigned() ? v.get<std::uint64_t>() > std::uint64_t(max_token_id)
                                   : (v.get<std::int64_t>() < 0 || v.get<std::int64_t>() > max_token_id)) {
            invalid(field, "id ", v.dump(), " is outside [0, ", max_token_id, "]");
        }
        return static_cast<std::int32_t>(v.get<std::int64_t>());
    }

    const std::string& file() const { return file_; }

  private:
    // nlohmann's parser is iterative but what it builds is destroyed recursively, so deep nesting
    // is refused before parsing.
    void check_depth(std::string_view text) const {
        std::size_t depth = 0;
        bool in_string = false;
        for (std::size_t i = 0; i < text.size(); ++i) {
            const char c = text[i];
            if (in_string) {
                if (c == '\\')
                    ++i;
                else if (c == '"')
                    in_string = false;
            } else if (c == '"') {
                in_string = true;
            } else if (c == '[' || c == '{') {
                if (++depth > max_json_depth) {
                    fail(MNEME_ERROR_INVALID_MODEL, file_, ": JSON nested deeper than ", max_json_depth,
                         " levels (at byte ", i, ")");
                }
            } else if ((c == ']' || c == '}') && depth > 0) {
                --depth;
            }
        }
    }

    const std::string& file_;
};

std::string element(std::string_view field, std::size_t index) {
    return cat(field, "[", index, "]");
}

std::string member_name(std::string_view field, std::string_view key) {
    return cat(field, ".", key);
}

// A {"String": "..."} or {"Regex": "..."} pattern, compiled.
std::unique_ptr<regex> read_pattern(const reader& r, const json& v, const std::string& field) {
    r.expect_object(v, field);
    const json* literal = reader::member(v, "String");
    const json* pattern = reader::member(v, "Regex");
    if ((literal != nullptr) == (pattern != nullptr) || v.size() != 1) {
        r.invalid(field, "expected exactly one of \"String\" or \"Regex\"");
    }
    std::string source;
    if (literal) {
        source = escape_literal(r.string(*literal, member_name(field, "String"), max_pattern_bytes));
    } else {
        const std::string text = r.string(*pattern, member_name(field, "Regex"), max_pattern_bytes);
        try {
            source = translate_oniguruma_pattern(text);
        } catch (const regex_error& e) {
            r.unsupported(member_name(field, "Regex"), "pattern ", shown(text), ": ", e.what());
        }
    }
    try {
        return std::make_unique<regex>(source);
    } catch (const regex_error& e) {
        r.invalid(field, e.what());
    }
}

std::string type_of(const reader& r, const json& v, const std::string& field) {
    r.expect_object(v, field);
    return r.string(r.required(v, "type", member_name(field, "type")), member_name(field, "type"), 256);
}

void read_normalizer(const reader& r, const json& v, const std::string& field, std::vector<normalizer_step>& steps) {
    if (v.is_null()) return;
    const std::string type = type_of(r, v, field);
    if (type == "Sequence") {
        const std::string list_field = member_name(field, "normalizers");
        const json& list = r.required(v, "normalizers", list_field);
        r.expect_array(list, list_field);
        for (std::size_t i = 0; i < list.size(); ++i) read_normalizer(r, list[i], element(list_field, i), steps);
    } else if (type == "Replace") {
        normalizer_step step;
        step.type = normalizer_step::kind::replace;
        step.pattern =
            read_pattern(r, r.required(v, "pattern", member_name(field, "pattern")), member_name(field, "pattern"));
        step.content = r.string(r.required(v, "content", member_name(field, "content")), member_name(field, "content"));
        steps.push_back(std::move(step));
    } else if (type == "Prepend") {
        normalizer_step step;
        step.type = normalizer_step::kind::prepend;
        step.content = r.string(r.required(v, "prepend", member_name(field, "prepend")), member_name(field, "prepend"));
        steps.push_back(std::move(step));
    } else if (type == "NFC" || type == "NFD" || type == "NFKC" || type == "NFKD") {
        r.unsupported(member_name(field, "type"), "Unicode normalization (", type,
                      ") is not supported: it needs Unicode composition tables this library does not carry");
    } else {
        r.unsupported(member_name(field, "type"), "normalizer ", shown(type), " is not supported");
    }
}

split_behavior read_behavior(const reader& r, const json& v, const std::string& field) {
    const std::string b = r.string(v, field, 256);
    if (b == "Removed") return split_behavior::removed;
    if (b == "Isolated") return split_behavior::isolated;
    if (b == "MergedWithPrevious") return split_behavior::merged_with_previous;
    if (b == "MergedWithNext") return split_behavior::merged_with_next;
    if (b == "Contiguous") return split_behavior::contiguous;
    r.invalid(field, "unknown behavior ", shown(b),
              " (expected Removed, Isolated, MergedWithPrevious, MergedWithNext or Contiguous)");
}

pre_tokenizer_step regex_split(const std::string& onig_pattern, split_behavior behavior, bool invert) {
    pre_tokenizer_step step;
    step.type = pre_tokenizer_step::kind::split;
    step.pattern = std::make_unique<regex>(translate_oniguruma_pattern(onig_pattern));
    step.behavior = behavior;
    step.invert = invert;
    return step;
}

void read_pre_tokenizer(const reader& r, const json& v, const std::string& field,
                        std::vector<pre_tokenizer_step>& steps, bool& byte_level) {
    if (v.is_null()) return;
    const std::string type = type_of(r, v, field);
    if (byte_level) {
        // After ByteLevel the text is in the byte alphabet; splitting it again is legal in Hugging
        // Face but no tokenizer we know does it, and words are kept as raw bytes here.
        r.unsupported(member_name(field, "type"), "a ", shown(type), " step after ByteLevel is not supported");
    }
    if (type == "Sequence") {
        const std::string list_field = member_name(field, "pretokenizers");
        const json& list = r.required(v, "pretokenizers", list_field);
        r.expect_array(list, list_field);
        for (std::size_t i = 0; i < list.size(); ++i) {
            read_pre_tokenizer(r, list[i], element(list_field, i), steps, byte_level);
        }
    } else if (type == "Split") {
        pre_tokenizer_step step;
        step.type = pre_tokenizer_step::kind::split;
        step.pattern =
            read_pattern(r, r.required(v, "pattern", member_name(field, "pattern")), member_name(field, "pattern"));
        step.behavior =
            read_behavior(r, r.required(v, "behavior", member_name(field, "behavior")), member_name(field, "behavior"));
        step.invert = r.boolean(reader::member(v, "invert"), member_name(field, "invert"), false);
        steps.push_back(std::move(step));
    } else if (type == "ByteLevel") {
        // Hugging Face's defaults: add_prefix_space and use_regex both true. trim_offsets only
        // affects offsets, which this tokenizer does not report.
        const bool add_prefix_space =
            r.boolean(reader::member(v, "add_prefix_space"), member_name(field, "add_prefix_space"), true);
        const bool use_regex = r.boolean(reader::member(v, "use_regex"), member_name(field, "use_regex"), true);
        r.boolean(reader::member(v, "trim_offsets"), member_name(field, "trim_offsets"), true);
        if (add_prefix_space) {
            pre_tokenizer_step step;
            step.type = pre_tokenizer_step::kind::prefix_space;
            steps.push_back(std::move(step));
        }
        if (use_regex) steps.push_back(regex_split(gpt2_split_pattern, split_behavior::isolated, false));
        byte_level = true;
    } else if (type == "Digits") {
        const bool individual =
            r.boolean(reader::member(v, "individual_digits"), member_name(field, "individual_digits"), false);
        steps.push_back(regex_split(individual ? "\\p{N}" : "\\p{N}+", split_behavior::isolated, false));
    } else if (type == "Whitespace") {
        steps.push_back(regex_split("\\w+|[^\\w\\s]+", split_behavior::removed, true));
    } else if (type == "WhitespaceSplit") {
        steps.push_back(regex_split("\\s+", split_behavior::removed, false));
    } else {
        r.unsupported(member_name(field, "type"), "pre-tokenizer ", shown(type), " is not supported");
    }
}

token_decoder read_decoder(const reader& r, const json& v, const std::string& field) {
    if (v.is_null()) return token_decoder::none;
    const std::string type = type_of(r, v, field);
    if (type == "ByteLevel") return token_decoder::byte_level;
    if (type == "Sequence") {
        const std::string list_field = member_name(field, "decoders");
        const json& list = r.required(v, "decoders", list_field);
        r.expect_array(list, list_field);
        token_decoder result = token_decoder::none;
        for (std::size_t i = 0; i < list.size(); ++i) {
            if (read_decoder(r, list[i], element(list_field, i)) == token_decoder::byte_level) {
                result = token_decoder::byte_level;
            }
        }
        return result;
    }
    r.unsupported(member_name(field, "type"), "decoder ", shown(type), " is not supported (only ByteLevel)");
}

struct template_tokens {
    std::optional<std::string> bos;  // the special token before the sequence in the single template
    std::optional<std::string> eos;  // the special token after it
    std::optional<std::int32_t> bos_id, eos_id;
};

// TemplateProcessing tells which special tokens Hugging Face adds around a single sequence; other
// post-processors only matter for offsets or pairs and are ignored.
void read_post_processor(const reader& r, const json& v, const std::string& field, template_tokens& out) {
    if (v.is_null()) return;
    const std::string type = type_of(r, v, field);
    if (type == "Sequence") {
        const std::string list_field = member_name(field, "processors");
        const json& list = r.required(v, "processors", list_field);
        r.expect_array(list, list_field);
        for (std::size_t i = 0; i < list.size(); ++i) read_post_processor(r, list[i], element(list_field, i), out);
        return;
    }
    if (type != "TemplateProcessing") return;
    const std::string single_field = member_name(field, "single");
    const json& single = r.required(v, "single", single_field);
    r.expect_array(single, single_field);
    const json* specials = reader::member(v, "special_tokens");
    bool seen_sequence = false;
    for (std::size_t i = 0; i < single.size(); ++i) {
        const std::string item_field = element(single_field, i);
        r.expect_object(single[i], item_field);
        if (reader::member(single[i], "Sequence")) {
            seen_sequence = true;
            continue;
        }
        const json* special = reader::member(single[i], "SpecialToken");
        if (!special) r.invalid(item_field, "expected a \"Sequence\" or \"SpecialToken\" item");
        const std::string special_field = member_name(item_field, "SpecialToken");
        r.expect_object(*special, special_field);
        const std::string name =
            r.string(r.required(*special, "id", member_name(special_field, "id")), member_name(special_field, "id"));
        std::optional<std::int32_t> id;
        if (specials && specials->is_object()) {
            if (const json* entry = reader::member(*specials, name.c_str()); entry && entry->is_object()) {
                const std::string ids_field = cat(field, ".special_tokens[", shown(name), "].ids");
                if (const json* ids = reader::member(*entry, "ids")) {
                    r.expect_array(*ids, ids_field);
                    if (!ids->empty()) id = r.id((*ids)[0], element(ids_field, 0));
                }
            }
        }
        if (!seen_sequence && !out.bos) {
            out.bos = name;
            out.bos_id = id;
        } else if (seen_sequence && !out.eos) {
            out.eos = name;
            out.eos_id = id;
        }
    }
}

struct config_tokens {
    std::optional<std::string> bos, eos;
    std::optional<bool> add_bos;
    std::string chat_template;
};

// Jinja chat templates run to a few KB; this only bounds hostile input.
constexpr std::size_t max_chat_template_bytes = 1024 * 1024;

// "bos_token": "<s>" or {"content": "<s>", ...} or null.
std::optional<std::string> read_config_token(const reader& r, const json& root, const char* key) {
    const json* v = reader::member(root, key);
    if (!v || v->is_null()) return std::nullopt;
    if (v->is_string()) return r.string(*v, key);
    if (v->is_object()) {
        const std::string field = member_name(key, "content");
        return r.string(r.required(*v, "content", field), field);
    }
    r.invalid(key, "expected a string or an object with \"content\", found ", v->type_name());
}

config_tokens read_config(const reader& r, std::string_view text) {
    const json root = r.parse(text);
    r.expect_object(root, "(top level)");
    config_tokens out;
    out.bos = read_config_token(r, root, "bos_token");
    out.eos = read_config_token(r, root, "eos_token");
    if (const json* v = reader::member(root, "add_bos_token"); v && !v->is_null()) {
        out.add_bos = r.boolean(v, "add_bos_token", false);
    }
    // A string, or a list of {"name", "template"} of which "default" is the chat template.
    if (const json* v = reader::member(root, "chat_template"); v && !v->is_null()) {
        if (v->is_string()) {
            out.chat_template = r.string(*v, "chat_template", max_chat_template_bytes);
        } else if (v->is_array()) {
            for (std::size_t i = 0; i < v->size(); ++i) {
                const std::string field = element("chat_template", i);
                r.expect_object((*v)[i], field);
                const std::string name =
                    r.string(r.required((*v)[i], "name", member_name(field, "name")), member_name(field, "name"), 256);
                if (name == "default") {
                    out.chat_template = r.string(r.required((*v)[i], "template", member_name(field, "template")),
                                                 member_name(field, "template"), max_chat_template_bytes);
                }
            }
        } else {
            r.invalid("chat_template", "expected a string or a list of named templates, found ", v->type_name());
        }
    }
    return out;
}

// Sets token_texts[id] = text, refusing a second, different token for the same id. `id_limit`
// keeps a file with few tokens but huge ids from making the id-indexed tables enormous.
void claim_id(const reader& r, tokenizer_data& data, std::int32_t id, const std::string& text, std::string_view field,
              std::int64_t id_limit) {
    if (id > id_limit) {
        r.invalid(field, "id ", id, " is far beyond the number of tokens in the file (ids up to ", id_limit,
                  " are accepted)");
    }
    if (static_cast<std::size_t>(id) >= data.token_texts.size()) {
        data.token_texts.resize(id + 1);
        data.token_flags.resize(id + 1, 0);
    }
    if (data.token_flags[id] & token_used) {
        r.invalid(field, "id ", id, " is given to both ", shown(data.token_texts[id]), " and ", shown(text));
    }
    data.token_texts[id] = text;
    data.token_flags[id] |= token_used;
}

}  // namespace

std::unique_ptr<tokenizer_data> read_tokenizer_files(std::string_view tokenizer_json, const std::string& json_name,
                                                     std::string_view config_json, const std::string& config_name) {
    const reader r(json_name);
    auto data = std::make_unique<tokenizer_data>();
    json root = r.parse(tokenizer_json);
    r.expect_object(root, "(top level)");

    // --- model -------------------------------------------------------------------------------
    const json& model = r.required(root, "model", "model");
    r.expect_object(model, "model");
    if (const json* type = reader::member(model, "type")) {
        const std::string t = r.string(*type, "model.type", 256);
        if (t != "BPE") r.unsupported("model.type", "only BPE models are supported, not ", shown(t));
    } else if (!reader::member(model, "merges")) {
        r.invalid("model.type", "missing");
    }
    const json& vocab_json = r.required(model, "vocab", "model.vocab");
    r.expect_object(vocab_json, "model.vocab");
    // Ids may leave gaps, but not many: real vocabularies number their tokens densely.
    const json* added_json = reader::member(root, "added_tokens");
    const std::size_t declared_tokens =
        vocab_json.size() + (added_json && added_json->is_array() ? added_json->size() : 0);
    const std::int64_t id_limit = std::min<std::int64_t>(max_token_id, 2 * std::int64_t(declared_tokens) + 65536);
    string_to_id_map vocab;
    vocab.reserve(vocab_json.size());
    for (const auto& [text, value] : vocab_json.items()) {
        if (text.size() > max_token_bytes) {
            r.invalid("model.vocab", "a token of ", text.size(), " bytes is over the limit of ", max_token_bytes);
        }
        const std::int32_t id = value.is_number_integer() && value.get<std::int64_t>() >= 0 &&
                                        value.get<std::int64_t>() <= max_token_id && !value.is_number_float()
                                    ? static_cast<std::int32_t>(value.get<std::int64_t>())
                                    : r.id(value, cat("model.vocab[", shown(text), "]"));
        claim_id(r, *data, id, text, cat("model.vocab[", shown(text), "]"), id_limit);
        vocab.emplace(text, id);
    }

    std::vector<bpe_merge> merges;
    if (const json* merges_json = reader::member(model, "merges"); merges_json && !merges_json->is_null()) {
        r.expect_array(*merges_json, "model.merges");
        merges.reserve(merges_json->size());
        std::string left, right;
        for (std::size_t i = 0; i < merges_json->size(); ++i) {
            const json& m = (*merges_json)[i];
            if (m.is_string()) {
                const auto& s = m.get_ref<const std::string&>();
                const std::size_t space = s.find(' ');
                if (space == std::string::npos) {
                    r.invalid(element("model.merges", i), "expected two tokens separated by a space, found ", shown(s));
                }
                left.assign(s, 0, space);
                right.assign(s, space + 1);
            } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
                left = m[0].get<std::string>();
                right = m[1].get<std::string>();
            } else {
                r.invalid(element("model.merges", i), "expected \"left right\" or [\"left\", \"right\"], found ",
                          m.is_array() ? cat("an array of ", m.size()) : std::string(m.type_name()));
            }
            const auto l = vocab.find(left);
            if (l == vocab.end()) r.invalid(element("model.merges", i), shown(left), " is not in model.vocab");
            const auto rt = vocab.find(right);
            if (rt == vocab.end()) r.invalid(element("model.merges", i), shown(right), " is not in model.vocab");
            const auto merged = vocab.find(left + right);
            if (merged == vocab.end()) {
                r.invalid(element("model.merges", i), "the merged token ", shown(left + right),
                          " is not in model.vocab");
            }
            merges.push_back({l->second, rt->second, merged->second});
        }
    }

    bpe_options options;
    if (const json* dropout = reader::member(model, "dropout"); dropout && !dropout->is_null()) {
        if (!dropout->is_number())
            r.invalid("model.dropout", "expected a number or null, found ", dropout->type_name());
        // Dropout makes encoding random; it is for training only.
        if (dropout->get<double>() > 0.0) r.unsupported("model.dropout", "BPE dropout is not supported");
    }
    if (auto unk = r.optional_string(reader::member(model, "unk_token"), "model.unk_token")) {
        const auto it = vocab.find(*unk);
        if (it == vocab.end()) r.invalid("model.unk_token", shown(*unk), " is not in model.vocab");
        options.unk_id = it->second;
    }
    for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
        const std::string field = member_name("model", key);
        if (auto affix = r.optional_string(reader::member(model, key), field); affix && !affix->empty()) {
            r.unsupported(field, "BPE with a ", key, " is not supported");
        }
    }
    options.fuse_unk = r.boolean(reader::member(model, "fuse_unk"), "model.fuse_unk", false);
    options.ignore_merges = r.boolean(reader::member(model, "ignore_merges"), "model.ignore_merges", false);
    if (r.boolean(reader::member(model, "byte_fallback"), "model.byte_fallback", false)) {
        r.unsupported("model.byte_fallback", "byte_fallback is not supported");
    }

    // --- added tokens --------------------------------------------------------------------------
    if (const json* added = added_json; added && !added->is_null()) {
        r.expect_array(*added, "added_tokens");
        for (std::size_t i = 0; i < added->size(); ++i) {
            const std::string field = element("added_tokens", i);
            const json& a = (*added)[i];
            r.expect_object(a, field);
            added_token t;
            t.id = r.id(r.required(a, "id", member_name(field, "id")), member_name(field, "id"));
            t.content =
                r.string(r.required(a, "content", member_name(field, "content")), member_name(field, "content"));
            if (t.content.empty()) r.invalid(member_name(field, "content"), "an added token cannot be empty");
            t.special = r.boolean(reader::member(a, "special"), member_name(field, "special"), false);
            t.single_word = r.boolean(reader::member(a, "single_word"), member_name(field, "single_word"), false);
            t.lstrip = r.boolean(reader::member(a, "lstrip"), member_name(field, "lstrip"), false);
            t.rstrip = r.boolean(reader::member(a, "rstrip"), member_name(field, "rstrip"), false);
            // Hugging Face's AddedToken default: special tokens are matched on the raw text.
            t.normalized = r.boolean(reader::member(a, "normalized"), member_name(field, "normalized"), !t.special);

            if (const auto known = data->added_token_ids.find(t.content); known != data->added_token_ids.end()) {
                if (known->second != t.id) {
                    r.invalid(member_name(field, "id"), shown(t.content), " was already added with id ", known->second);
                }
                continue;  // the same token listed twice
            }
            if (const auto in_vocab = vocab.find(t.content); in_vocab != vocab.end() && in_vocab->second != t.id) {
                r.invalid(member_name(field, "id"), shown(t.content), " is model.vocab id ", in_vocab->second, ", not ",
                          t.id);
            }
            const bool already_model_token = static_cast<std::size_t>(t.id) < data->token_texts.size() &&
                                             (data->token_flags[t.id] & token_used) &&
                                             data->token_texts[t.id] == t.content;
            if (!already_model_token) claim_id(r, *data, t.id, t.content, member_name(field, "id"), id_limit);
            data->token_flags[t.id] |= token_added | (t.special ? token_special : 0);
            data->added_token_ids.emplace(t.content, t.id);
            data->added_tokens.push_back(std::move(t));
        }
    }

    // --- pipeline ------------------------------------------------------------------------------
    std::vector<normalizer_step> normalizer_steps;
    if (const json* n = reader::member(root, "normalizer")) read_normalizer(r, *n, "normalizer", normalizer_steps);
    data->text_normalizer = normalizer(std::move(normalizer_steps));

    std::vector<pre_tokenizer_step> pre_steps;
    bool byte_level = false;
    if (const json* p = reader::member(root, "pre_tokenizer"))
        read_pre_tokenizer(r, *p, "pre_tokenizer", pre_steps, byte_level);
    data->splitter = pre_tokenizer(std::move(pre_steps), byte_level);
    options.byte_level_input = byte_level;

    if (const json* d = reader::member(root, "decoder")) data->decoder = read_decoder(r, *d, "decoder");

    template_tokens from_template;
    if (const json* p = reader::member(root, "post_processor")) {
        read_post_processor(r, *p, "post_processor", from_template);
    }

    data->model = std::make_unique<bpe_model>(std::move(vocab), merges, options);
    root = json();  // release the parsed document before building the rest

    // --- ids of named tokens -----------------------------------------------------------------
    const auto find_token = [&](std::string_view text) -> std::optional<std::int32_t> {
        if (const auto it = data->added_token_ids.find(text); it != data->added_token_ids.end()) return it->second;
        if (const auto it = data->model->vocab().find(text); it != data->model->vocab().end()) return it->second;
        return std::nullopt;
    };
    const auto template_id = [&](const std::optional<std::string>& name, const std::optional<std::int32_t>& id,
                                 const char* which) -> std::int32_t {
        if (!name) return -1;
        std::optional<std::int32_t> resolved = id ? id : find_token(*name);
        if (!resolved || static_cast<std::size_t>(*resolved) >= data->token_texts.size() ||
            !(data->token_flags[*resolved] & token_used)) {
            r.invalid(cat("post_processor (", which, ")"), "special token ", shown(*name), " is not in the vocabulary");
        }
        return *resolved;
    };
    data->bos_id = template_id(from_template.bos, from_template.bos_id, "single template, before the sequence");
    data->eos_id = template_id(from_template.eos, from_template.eos_id, "single template, after the sequence");
    data->add_bos = data->bos_id >= 0;

    // Without a template or a config, recognise the usual names among the added tokens.
    const auto by_name = [&](std::initializer_list<std::string_view> names) -> std::int32_t {
        for (std::string_view name : names) {
            if (const auto it = data->added_token_ids.find(name); it != data->added_token_ids.end()) return it->second;
        }
        return -1;
    };
    if (data->bos_id < 0) data->bos_id = by_name({"<｜begin▁of▁sentence｜>", "<|begin_of_text|>", "<s>", "<bos>"});
    if (data->eos_id < 0) {
        data->eos_id = by_name({"<｜end▁of▁sentence｜>", "<|end_of_text|>", "<|endoftext|>", "</s>", "<eos>"});
    }

    if (!config_json.empty()) {
        const reader cr(config_name);
        const config_tokens config = read_config(cr, config_json);
        const auto config_id = [&](const std::optional<std::string>& name, const char* field) -> std::int32_t {
            const auto id = find_token(*name);
            if (!id) cr.invalid(field, shown(*name), " is not a token of ", json_name);
            return *id;
        };
        if (config.bos) data->bos_id = config_id(config.bos, "bos_token");
        if (config.eos) data->eos_id = config_id(config.eos, "eos_token");
        if (config.add_bos) data->add_bos = *config.add_bos;
        data->chat_template = config.chat_template;
        if (data->add_bos && data->bos_id < 0) cr.invalid("add_bos_token", "true, but there is no BOS token");
    }

    // --- derived tables ----------------------------------------------------------------------
    const std::size_t n = data->token_texts.size();
    data->token_bytes_offsets.resize(n + 1);
    for (std::size_t id = 0; id < n; ++id) {
        data->token_bytes_offsets[id] = static_cast<std::uint32_t>(data->token_bytes_pool.size());
        const std::string& text = data->token_texts[id];
        if (data->decoder != token_decoder::byte_level || !byte_level::decode(text, data->token_bytes_pool)) {
            data->token_bytes_pool += text;
        }
    }
    data->token_bytes_offsets[n] = static_cast<std::uint32_t>(data->token_bytes_pool.size());

    std::vector<added_token_matcher::entry> raw_entries, normalized_entries;
    for (const added_token& t : data->added_tokens) {
        if (t.normalized) {
            std::string storage;
            normalized_entries.push_back({&t, std::string(data->text_normalizer.apply(t.content, storage))});
        } else {
            raw_entries.push_back({&t, t.content});
        }
    }
    data->raw_added_tokens = added_token_matcher(std::move(raw_entries));
    data->normalized_added_tokens = added_token_matcher(std::move(normalized_entries));
    return data;
}

}  // namespace mneme
