// Tokenizer tests that need no network: the small byte-level BPE fixture under many
// configurations against Hugging Face's ids, round trips, streaming decode, UTF-8 handling and
// malformed tokenizer files.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "tokenizer/byte-level.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace {

using json = nlohmann::json;
using mneme::tokenizer;

const std::filesystem::path fixture_dir = std::filesystem::path(MNEME_TEST_DATA_DIR) / "golden" / "tokenizer";

std::string read_text(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

const std::string& tiny_json_text() {
    static const std::string text = read_text(fixture_dir / "tiny-bpe" / "tokenizer.json");
    return text;
}

const tokenizer& tiny() {
    static const auto tok = tokenizer::load((fixture_dir / "tiny-bpe" / "tokenizer.json").string());
    return *tok;
}

// RFC 7386 merge patch, except that null values are kept: the fixture variants use them to set a
// field (such as the pre-tokenizer) to null.
json merge_patch(json target, const json& patch) {
    if (!patch.is_object()) return patch;
    if (!target.is_object()) target = json::object();
    for (const auto& [key, value] : patch.items()) {
        target[key] = value.is_null() ? json(nullptr) : merge_patch(target[key], value);
    }
    return target;
}

std::vector<std::int32_t> ids_of(const json& array) {
    return array.get<std::vector<std::int32_t>>();
}

// The status and message of the error `f` throws.
template <class F>
std::pair<mneme_status, std::string> error_of(F&& f) {
    try {
        f();
    } catch (const mneme::error& e) {
        return {e.status(), e.what()};
    }
    FAIL("no mneme::error was thrown");
    return {MNEME_OK, ""};
}

std::string random_bytes(std::mt19937& rng, std::size_t length) {
    std::string s(length, '\0');
    for (char& c : s) c = static_cast<char>(rng() & 0xFF);
    return s;
}

}  // namespace

TEST_CASE("byte-level alphabet is GPT-2's bytes_to_unicode", "[tokenizer]") {
    using namespace mneme::byte_level;
    CHECK(byte_to_char('!') == U'!');
    CHECK(byte_to_char(' ') == U'\u0120');   // Ġ
    CHECK(byte_to_char('\n') == U'\u010A');  // Ċ
    CHECK(byte_to_char(0x00) == U'\u0100');
    CHECK(byte_to_char(0xAD) == U'\u0143');  // the soft hyphen is the last non-printable byte
    CHECK(byte_to_char(0xE9) == U'\u00E9');
    for (int b = 0; b < 256; ++b) CHECK(char_to_byte(byte_to_char(static_cast<std::uint8_t>(b))) == b);
    CHECK(char_to_byte(U'\u0144') == -1);
    std::string out;
    const std::string_view raw("any\x00\xff bytes", 11);
    CHECK(decode(encode(raw), out));
    CHECK(out == raw);
    out = "kept";
    CHECK_FALSE(decode("<｜User｜>", out));
    CHECK(out == "kept");
}

TEST_CASE("UTF-8 helpers replace each maximal ill-formed subpart once", "[tokenizer]") {
    using namespace mneme::utf8;
    const std::string r(replacement_character);
    CHECK(replace_invalid("plain ascii") == "plain ascii");
    CHECK(replace_invalid("a\xC3") == "a" + r);
    CHECK(replace_invalid("\xE2\x82") == r);                      // truncated 3-byte sequence: one
    CHECK(replace_invalid("\xF0\x80\x80") == r + r + r);          // overlong lead: each byte
    CHECK(replace_invalid("\xED\xA0\x80") == r + r + r);          // surrogate
    CHECK(replace_invalid("\xF4\x90\x80\x80") == r + r + r + r);  // above U+10FFFF
    CHECK(replace_invalid("\xC0\xAF") == r + r);
    CHECK(replace_invalid("x\xE6\x97y") == "x" + r + "y");
    CHECK(replace_invalid("\xFF\xFE") == r + r);
    CHECK(is_valid("你好😀"));
    CHECK_FALSE(is_valid("\xED\xBF\xBF"));
    CHECK(valid_prefix_length("ab\x80") == 2);
}

TEST_CASE("tiny BPE fixture matches Hugging Face under every configuration", "[tokenizer]") {
    const json vectors = json::parse(read_text(fixture_dir / "tiny-bpe-vectors.json"));
    const json base = json::parse(tiny_json_text());
    REQUIRE(vectors["variants"].size() >= 20);
    for (const json& variant : vectors["variants"]) {
        const std::string name = variant["name"];
        const json patched = merge_patch(base, variant["patch"]);
        const auto tok = tokenizer::load_from_strings(patched.dump(), "", "tiny-bpe/" + name);
        for (const json& c : variant["cases"]) {
            const std::string text = c["text"];
            INFO("variant " << name << ", text " << json(text).dump());
            const std::vector<std::int32_t> expected = ids_of(c["ids"]);
            const std::vector<std::int32_t> ids = tok->encode(text, true);
            CHECK(ids == expected);
            // Hugging Face decodes to valid UTF-8 (from_utf8_lossy); ours gives the bytes.
            CHECK(mneme::utf8::replace_invalid(tok->decode(expected, true)) == c["decoded"].get<std::string>());
            CHECK(mneme::utf8::replace_invalid(tok->decode(expected, false)) ==
                  c["decoded_skip_special"].get<std::string>());
        }
    }
}

TEST_CASE("tiny BPE fixture: vocabulary, BOS/EOS and special tokens", "[tokenizer]") {
    const tokenizer& tok = tiny();
    CHECK(tok.vocab_size() == 343);
    const auto bos = tok.token_id("<|bos|>");
    const auto eos = tok.token_id("<|eos|>");
    REQUIRE(bos);
    REQUIRE(eos);
    // From tokenizer_config.json beside tokenizer.json.
    CHECK(tok.bos_id() == *bos);
    CHECK(tok.eos_id() == *eos);
    CHECK(tok.add_bos());
    CHECK(tok.is_special(*bos));
    CHECK_FALSE(tok.is_special(*tok.token_id("[NOTE]")));
    CHECK_FALSE(tok.is_special(0));
    CHECK(tok.token_text(*tok.token_id("Ġthe")) == "Ġthe");
    CHECK(tok.token_bytes(*tok.token_id("Ġthe")) == " the");
    CHECK(tok.token_bytes(*bos) == "<|bos|>");
    CHECK_FALSE(tok.token_id("no such token"));
    CHECK(error_of([&] { (void)tok.token_text(-1); }).first == MNEME_ERROR_INVALID_ARGUMENT);
    CHECK(error_of([&] { (void)tok.token_text(343); }).first == MNEME_ERROR_INVALID_ARGUMENT);
    const std::vector<std::int32_t> bad{0, 100000};
    CHECK(error_of([&] { (void)tok.decode(bad, true); }).first == MNEME_ERROR_INVALID_ARGUMENT);

    // Without the config, the post-processor's template gives BOS; "<|eos|>" is not one of the
    // names recognised as EOS, so there is none.
    const auto bare = tokenizer::load_from_strings(tiny_json_text(), "", "tiny");
    CHECK(bare->bos_id() == *bos);
    CHECK(bare->add_bos());
    CHECK(bare->eos_id() == -1);
}

TEST_CASE("parse_special=false keeps special tokens as text but non-special added tokens atomic", "[tokenizer]") {
    const tokenizer& tok = tiny();
    const std::string text = "<|user|>hi [NOTE] <|eos|>";
    const auto parsed = tok.encode(text, true);
    CHECK(std::count(parsed.begin(), parsed.end(), *tok.token_id("<|user|>")) == 1);
    const auto plain = tok.encode(text, false);
    for (std::int32_t id : plain) CHECK_FALSE(tok.is_special(id));
    CHECK(std::count(plain.begin(), plain.end(), *tok.token_id("[NOTE]")) == 1);
    CHECK(tok.decode(plain, true) == text);
}

TEST_CASE("decode(encode(x)) == x for any bytes", "[tokenizer]") {
    const tokenizer& tok = tiny();
    std::mt19937 rng(1234);
    for (int i = 0; i < 300; ++i) {
        const std::string text = random_bytes(rng, rng() % 200);
        const auto ids = tok.encode(text, false);
        REQUIRE(tok.decode(ids, true) == text);
    }
    for (const char* text : {"emoji 😀👨‍👩‍👧‍👦🇺🇸 end", "中文和日本語のテキスト、한국어",
                             "\tint x = 0;\n    return x;\n", "e\u0301\u0308 \u200b\u00a0\u3000", "", " ", "\n\n"}) {
        CHECK(tok.decode(tok.encode(text, true), true) == text);
    }
    // Invalid bytes between valid text are encoded byte by byte, as words of their own.
    const std::string mixed =
        "abc\xFF\xFE"
        "def\xE4\xBD"
        "g";
    CHECK(tok.decode(tok.encode(mixed, true), true) == mixed);
}

TEST_CASE("encoding is deterministic and thread-safe", "[tokenizer]") {
    const tokenizer& tok = tiny();
    std::string text;
    for (int i = 0; i < 200; ++i) text += "the cat sat on the mat " + std::to_string(i) + " 你好 😀\n";
    const auto expected = tok.encode(text, true);
    std::vector<std::thread> threads;
    std::atomic<int> mismatches{0};
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int k = 0; k < 20; ++k)
                if (tok.encode(text, true) != expected) ++mismatches;
        });
    }
    for (auto& t : threads) t.join();
    CHECK(mismatches == 0);
}

TEST_CASE("streaming decoder emits only whole characters", "[tokenizer]") {
    const tokenizer& tok = tiny();
    std::mt19937 rng(99);
    const std::vector<std::string> texts = {"你好世界，你好朋友。",
                                            "emoji 😀👍 ❤️ and 👨‍👩‍👧‍👦",
                                            "mixed é ü ñ 中 😀 text", std::string("bad \xFF bytes \xE4\xBD and end")};
    for (const std::string& text : texts) {
        const auto ids = tok.encode(text, true);
        mneme::utf8_stream_decoder stream(tok);
        std::string all;
        for (std::int32_t id : ids) {
            const std::string piece = stream.push(id);
            CHECK(mneme::utf8::is_valid(piece));
            all += piece;
        }
        all += stream.flush();
        CHECK(all == mneme::utf8::replace_invalid(text));
    }
    // Bytes arriving one at a time.
    mneme::utf8_stream_decoder stream(tok);
    const std::string euro = "\xE2\x82\xAC";
    CHECK(stream.push_bytes(euro.substr(0, 1)).empty());
    CHECK(stream.push_bytes(euro.substr(1, 1)).empty());
    CHECK(stream.pending_bytes() == 2);
    CHECK(stream.push_bytes(euro.substr(2, 1)) == euro);
    // A byte that cannot continue the pending character releases U+FFFD at once.
    CHECK(stream.push_bytes("\xE2\x82"
                            "A") == std::string(mneme::utf8::replacement_character) + "A");
    CHECK(stream.push_bytes("\xF0\x9F\x98").empty());
    CHECK(stream.flush() == mneme::utf8::replacement_character);
    CHECK(stream.flush().empty());
    // Special tokens are skipped when not rendered.
    mneme::utf8_stream_decoder quiet(tok, false);
    CHECK(quiet.push(*tok.token_id("<|eos|>")).empty());
    CHECK(quiet.push(*tok.token_id("<|bos|>")).empty());
}

TEST_CASE("a tokenizer without decoder joins tokens with spaces, like Hugging Face", "[tokenizer]") {
    json j = json::parse(tiny_json_text());
    j["decoder"] = nullptr;
    const auto tok = tokenizer::load_from_strings(j.dump(), "", "no-decoder");
    const auto ids = tok->encode("hello world", true);
    REQUIRE(ids.size() >= 2);
    std::string expected;
    for (std::size_t i = 0; i < ids.size(); ++i) {
        if (i) expected += ' ';
        expected += tok->token_text(ids[i]);
    }
    CHECK(tok->decode(ids, true) == expected);
    mneme::utf8_stream_decoder stream(*tok);
    std::string streamed;
    for (std::int32_t id : ids) streamed += stream.push(id);
    CHECK(streamed + stream.flush() == expected);
}

TEST_CASE("load reads files and names them in errors", "[tokenizer]") {
    const auto dir = std::filesystem::temp_directory_path() / ("mneme-tok-" + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(dir);
    const auto write = [&](const std::string& name, const std::string& text) {
        std::ofstream(dir / name, std::ios::binary) << text;
    };
    auto [status, message] = error_of([&] { tokenizer::load((dir / "missing.json").string()); });
    CHECK(status == MNEME_ERROR_FILE_NOT_FOUND);
    CHECK_THAT(message, Catch::Contains("missing.json"));

    write("tokenizer.json", tiny_json_text());
    write("tokenizer_config.json", R"({"bos_token": "<|nope|>"})");
    std::tie(status, message) = error_of([&] { tokenizer::load((dir / "tokenizer.json").string()); });
    CHECK(status == MNEME_ERROR_INVALID_MODEL);
    CHECK_THAT(message,
               Catch::Contains("tokenizer_config.json") && Catch::Contains("bos_token") && Catch::Contains("<|nope|>"));

    write("tokenizer_config.json", "{not json");
    std::tie(status, message) = error_of([&] { tokenizer::load((dir / "tokenizer.json").string()); });
    CHECK(status == MNEME_ERROR_INVALID_MODEL);
    CHECK_THAT(message, Catch::Contains("tokenizer_config.json") && Catch::Contains("not valid JSON"));

    write("tokenizer_config.json",
          R"({"bos_token": null, "eos_token": {"content": "<|bos|>"}, "add_bos_token": false})");
    const auto tok = tokenizer::load((dir / "tokenizer.json").string());
    CHECK(tok->eos_id() == *tok->token_id("<|bos|>"));
    CHECK_FALSE(tok->add_bos());

    write("tokenizer.json", tiny_json_text().substr(0, tiny_json_text().size() / 2));
    std::tie(status, message) = error_of([&] { tokenizer::load((dir / "tokenizer.json").string()); });
    CHECK(status == MNEME_ERROR_INVALID_MODEL);
    CHECK_THAT(message, Catch::Contains((dir / "tokenizer.json").string()));
    std::filesystem::remove_all(dir);
}

TEST_CASE("malformed tokenizer.json gives an error naming the field", "[tokenizer]") {
    const json base = json::parse(tiny_json_text());
    struct bad_case {
        const char* what;
        std::function<void(json&)> edit;
        mneme_status status;
        std::vector<std::string> message_parts;
    };
    const std::vector<bad_case> cases = {
        {"top level not an object",
         [](json& j) {
             j = json::array({1, 2});
         },
         MNEME_ERROR_INVALID_MODEL,
         {"(top level)"}},
        {"no model", [](json& j) { j.erase("model"); }, MNEME_ERROR_INVALID_MODEL, {"field model", "missing"}},
        {"model of the wrong type",
         [](json& j) { j["model"] = "BPE"; },
         MNEME_ERROR_INVALID_MODEL,
         {"field model", "expected an object"}},
        {"unsupported model type",
         [](json& j) { j["model"]["type"] = "WordPiece"; },
         MNEME_ERROR_UNSUPPORTED,
         {"model.type", "WordPiece"}},
        {"no vocab", [](json& j) { j["model"].erase("vocab"); }, MNEME_ERROR_INVALID_MODEL, {"model.vocab", "missing"}},
        {"vocab as array",
         [](json& j) { j["model"]["vocab"] = json::array(); },
         MNEME_ERROR_INVALID_MODEL,
         {"model.vocab", "expected an object"}},
        {"vocab id as string",
         [](json& j) { j["model"]["vocab"]["the"] = "7"; },
         MNEME_ERROR_INVALID_MODEL,
         {"model.vocab[\"the\"]", "expected an integer"}},
        {"negative id",
         [](json& j) { j["model"]["vocab"]["zz"] = -3; },
         MNEME_ERROR_INVALID_MODEL,
         {"model.vocab[\"zz\"]", "outside"}},
        {"huge id",
         [](json& j) { j["model"]["vocab"]["zz"] = 4000000000000LL; },
         MNEME_ERROR_INVALID_MODEL,
         {"model.vocab[\"zz\"]", "outside"}},
        {"sparse id",
         [](json& j) { j["model"]["vocab"]["zz"] = 5000000; },
         MNEME_ERROR_INVALID_MODEL,
         {"model.vocab[\"zz\"]", "far beyond"}},
        {"fractional id",
         [](json& j) { j["model"]["vocab"]["zz"] = 1.5; },
         MNEME_ERROR_INVALID_MODEL,
         {"model.vocab[\"zz\"]", "expected an integer"}},
        {"duplicate id",
         [](json& j) { j["model"]["vocab"]["zz"] = 5; },
         MNEME_ERROR_INVALID_MODEL,
         {"model.vocab", "id 5 is given to both"}},
        {"merges not an array",
         [](json& j) { j["model"]["merges"] = "a b"; },
         MNEME_ERROR_INVALID_MODEL,
         {"model.merges", "expected an array"}},
        {"merge of an unknown token",
         [](json& j) {
             j["model"]["merges"][3] = json::array({"Ġ", "nope"});
         },
         MNEME_ERROR_INVALID_MODEL,
         {"model.merges[3]", "\"nope\" is not in model.vocab"}},
        {"merge without a space",
         [](json& j) { j["model"]["merges"] = json::array({"ab"}); },
         MNEME_ERROR_INVALID_MODEL,
         {"model.merges[0]", "separated by a space"}},
        {"merge whose result is missing",
         [](json& j) { j["model"]["merges"] = json::array({"x q"}); },
         MNEME_ERROR_INVALID_MODEL,
         {"model.merges[0]", "merged token \"xq\""}},
        {"merge of the wrong shape",
         [](json& j) {
             j["model"]["merges"][0] = json::array({"a", "b", "c"});
         },
         MNEME_ERROR_INVALID_MODEL,
         {"model.merges[0]", "an array of 3"}},
        {"merge as a number",
         [](json& j) { j["model"]["merges"][2] = 17; },
         MNEME_ERROR_INVALID_MODEL,
         {"model.merges[2]"}},
        {"unknown unk_token",
         [](json& j) { j["model"]["unk_token"] = "<nope>"; },
         MNEME_ERROR_INVALID_MODEL,
         {"model.unk_token"}},
        {"byte fallback",
         [](json& j) { j["model"]["byte_fallback"] = true; },
         MNEME_ERROR_UNSUPPORTED,
         {"model.byte_fallback"}},
        {"dropout", [](json& j) { j["model"]["dropout"] = 0.1; }, MNEME_ERROR_UNSUPPORTED, {"model.dropout"}},
        {"fuse_unk of the wrong type",
         [](json& j) { j["model"]["fuse_unk"] = "yes"; },
         MNEME_ERROR_INVALID_MODEL,
         {"model.fuse_unk", "expected true or false"}},
        {"added_tokens not an array",
         [](json& j) { j["added_tokens"] = json::object(); },
         MNEME_ERROR_INVALID_MODEL,
         {"added_tokens", "expected an array"}},
        {"added token without id",
         [](json& j) { j["added_tokens"][1].erase("id"); },
         MNEME_ERROR_INVALID_MODEL,
         {"added_tokens[1].id", "missing"}},
        {"added token id out of range",
         [](json& j) { j["added_tokens"][0]["id"] = 99999999; },
         MNEME_ERROR_INVALID_MODEL,
         {"added_tokens[0].id", "outside"}},
        {"added token content not a string",
         [](json& j) { j["added_tokens"][2]["content"] = 3; },
         MNEME_ERROR_INVALID_MODEL,
         {"added_tokens[2].content", "expected a string"}},
        {"empty added token",
         [](json& j) { j["added_tokens"][2]["content"] = ""; },
         MNEME_ERROR_INVALID_MODEL,
         {"added_tokens[2].content", "empty"}},
        {"added token on a model id",
         [](json& j) { j["added_tokens"][0]["id"] = 7; },
         MNEME_ERROR_INVALID_MODEL,
         {"added_tokens[0].id", "id 7 is given to both"}},
        {"added token with two ids",
         [](json& j) {
             json t = j["added_tokens"][0];
             t["id"] = 400;
             j["added_tokens"].push_back(t);
         },
         MNEME_ERROR_INVALID_MODEL,
         {"added_tokens[5].id", "already added with id"}},
        {"enormous token",
         [](json& j) { j["model"]["vocab"][std::string(100000, 'x')] = 1000; },
         MNEME_ERROR_INVALID_MODEL,
         {"model.vocab", "100000 bytes"}},
        {"enormous added token",
         [](json& j) { j["added_tokens"][0]["content"] = std::string(70000, 'y'); },
         MNEME_ERROR_INVALID_MODEL,
         {"added_tokens[0].content", "70000 bytes"}},
        {"unknown pre-tokenizer",
         [](json& j) {
             j["pre_tokenizer"] = {{"type", "Metaspace"}};
         },
         MNEME_ERROR_UNSUPPORTED,
         {"pre_tokenizer.type", "Metaspace"}},
        {"pre-tokenizer without type",
         [](json& j) { j["pre_tokenizer"] = json::object(); },
         MNEME_ERROR_INVALID_MODEL,
         {"pre_tokenizer.type", "missing"}},
        {"bad regex",
         [](json& j) { j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "(unclosed"; },
         MNEME_ERROR_INVALID_MODEL,
         {"pre_tokenizer.pretokenizers[0].pattern", "PCRE2"}},
        {"class intersection",
         [](json& j) { j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "[a-z&&[^b]]"; },
         MNEME_ERROR_UNSUPPORTED,
         {"pre_tokenizer.pretokenizers[0].pattern.Regex"}},
        {"pattern with both kinds",
         [](json& j) {
             j["pre_tokenizer"]["pretokenizers"][0]["pattern"] = {{"String", "a"}, {"Regex", "b"}};
         },
         MNEME_ERROR_INVALID_MODEL,
         {"pre_tokenizer.pretokenizers[0].pattern", "exactly one"}},
        {"unknown behavior",
         [](json& j) { j["pre_tokenizer"]["pretokenizers"][1]["behavior"] = "Sideways"; },
         MNEME_ERROR_INVALID_MODEL,
         {"pre_tokenizer.pretokenizers[1].behavior", "Sideways"}},
        {"split after ByteLevel",
         [](json& j) { j["pre_tokenizer"]["pretokenizers"].push_back(j["pre_tokenizer"]["pretokenizers"][0]); },
         MNEME_ERROR_UNSUPPORTED,
         {"pre_tokenizer.pretokenizers[4]", "after ByteLevel"}},
        {"NFC normalizer",
         [](json& j) {
             j["normalizer"] = {{"type", "NFC"}};
         },
         MNEME_ERROR_UNSUPPORTED,
         {"normalizer.type", "NFC"}},
        {"nested unsupported normalizer",
         [](json& j) {
             j["normalizer"]["normalizers"] = json::array({{{"type", "Lowercase"}}});
         },
         MNEME_ERROR_UNSUPPORTED,
         {"normalizer.normalizers[0].type", "Lowercase"}},
        {"unknown decoder",
         [](json& j) {
             j["decoder"] = {{"type", "WordPiece"}};
         },
         MNEME_ERROR_UNSUPPORTED,
         {"decoder.type"}},
        {"template naming an unknown token",
         [](json& j) {
             j["post_processor"]["single"][0]["SpecialToken"]["id"] = "<none>";
             j["post_processor"].erase("special_tokens");
         },
         MNEME_ERROR_INVALID_MODEL,
         {"post_processor", "<none>"}},
    };
    for (const bad_case& c : cases) {
        INFO(c.what);
        json j = base;
        c.edit(j);
        const auto [status, message] =
            error_of([&] { tokenizer::load_from_strings(j.dump(), "", "some/tokenizer.json"); });
        CHECK(status == c.status);
        CHECK_THAT(message, Catch::StartsWith("some/tokenizer.json: "));
        for (const std::string& part : c.message_parts) CHECK_THAT(message, Catch::Contains(part));
    }
}

TEST_CASE("hostile tokenizer files never crash", "[tokenizer]") {
    const auto load = [](const std::string& text) { tokenizer::load_from_strings(text, "", "hostile.json"); };
    // Deep nesting is refused before parsing.
    const std::string deep = std::string(100000, '[') + std::string(100000, ']');
    auto [status, message] = error_of([&] { load(deep); });
    CHECK(status == MNEME_ERROR_INVALID_MODEL);
    CHECK_THAT(message, Catch::Contains("nested deeper"));
    CHECK(error_of([&] { load(""); }).first == MNEME_ERROR_INVALID_MODEL);
    CHECK(error_of([&] { load("{\"model\": \"\xFF\"}"); }).first == MNEME_ERROR_INVALID_MODEL);
    CHECK(error_of([&] { tokenizer::load_from_strings(tiny_json_text(), "[1,", "hostile.json"); }).first ==
          MNEME_ERROR_INVALID_MODEL);

    // Random damage: every outcome is a tokenizer or a mneme::error.
    std::mt19937 rng(7);
    const std::string& good = tiny_json_text();
    int loaded = 0;
    for (int i = 0; i < 400; ++i) {
        std::string text = good;
        switch (i % 4) {
            case 0:
                for (int k = 0; k < 3; ++k) text[rng() % text.size()] = static_cast<char>(rng() & 0xFF);
                break;
            case 1:
                text.resize(rng() % text.size());
                break;
            case 2:
                text.erase(rng() % text.size(), 1 + rng() % 50);
                break;
            case 3: {
                const std::size_t at = rng() % text.size();
                text.insert(at, text.substr(rng() % text.size(), 1 + rng() % 40));
                break;
            }
        }
        try {
            const auto tok = tokenizer::load_from_strings(text, "", "damaged.json");
            ++loaded;
            const auto ids = tok->encode("some text <|user|> 123 你好", true);
            (void)tok->decode(ids, true);
        } catch (const mneme::error&) {
        }
    }
    SUCCEED(loaded << " of 400 damaged files still loaded");
}
