// mneme_codebase_get_file_span against the rendered text and the tokenizer itself, and the
// per-file selection counts of an answer over a codebase prompt (the demo model, which has a
// tokenizer and V4 sparse attention).
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <memory>
#include <numeric>
#include <random>

#include "model-harness.h"

using namespace mneme::test;
namespace fs = std::filesystem;

namespace {

std::string demo_model() {
    return std::string(MNEME_GOLDEN_DIR) + "/../../assets/models/mneme-demo-v4e";
}

std::vector<int32_t> tokenize(mneme_model* m, const std::string& text, uint32_t flags = 0) {
    size_t n = 0;
    REQUIRE(mneme_tokenize(m, text.data(), text.size(), flags, nullptr, 0, &n) >= 0);
    std::vector<int32_t> ids(n);
    REQUIRE(mneme_tokenize(m, text.data(), text.size(), flags, ids.data(), ids.size(), &n) == MNEME_OK);
    return ids;
}

std::string render(const mneme_codebase* cb) {
    size_t len = 0;
    REQUIRE(mneme_codebase_render(cb, nullptr, 0, &len) >= 0);
    std::string text(len, '\0');
    REQUIRE(mneme_codebase_render(cb, text.data(), text.size(), &len) == MNEME_OK);
    return text;
}

// A small folder whose files end in the ways that matter at a block boundary: with and without a
// final newline, trailing spaces, punctuation, and an empty file.
struct sample_tree {
    fs::path root = fs::temp_directory_path() / ("mneme-spans-" + std::to_string(std::random_device{}()));
    sample_tree() {
        fs::create_directories(root / "src");
        write("README.md", "# Sample\n\nA tiny project.\n");
        write("src/main.cpp", "int main() {\n    return helper();\n}\n");
        write("src/helper.h", "int helper();  ");
        write("src/empty.txt", "");
        write("src/util.py", "def f(x):\n    return x * 2 ;\n\n\n");
        write("notes.txt", "unicode: caf\xc3\xa9 \xe2\x86\x92 done.");
    }
    ~sample_tree() {
        std::error_code ec;
        fs::remove_all(root, ec);
    }
    void write(const std::string& rel, const std::string& body) const {
        std::ofstream(root / rel, std::ios::binary) << body;
    }
};

struct codebase_ptr {
    std::unique_ptr<mneme_codebase, void (*)(mneme_codebase*)> p{nullptr, mneme_codebase_destroy};
};

codebase_ptr scan(mneme_model* m, const fs::path& root) {
    mneme_codebase* cb = nullptr;
    REQUIRE(mneme_codebase_scan(m, root.string().c_str(), nullptr, &cb) == MNEME_OK);
    codebase_ptr out;
    out.p.reset(cb);
    return out;
}

mneme_codebase_span span_of(const mneme_codebase* cb, size_t i) {
    mneme_codebase_span sp{};
    sp.struct_size = sizeof(sp);
    REQUIRE(mneme_codebase_get_file_span(cb, i, &sp) == MNEME_OK);
    return sp;
}

// Checks that the included files' spans tile the rendered text in bytes and in tokens.
void check_tiling(mneme_model* m, const mneme_codebase* cb) {
    const std::string text = render(cb);
    const std::vector<int32_t> all = tokenize(m, text);
    size_t count = 0;
    REQUIRE(mneme_codebase_file_count(cb, &count) == MNEME_OK);
    uint64_t byte_at = 0, token_at = 0;
    for (size_t i = 0; i < count; ++i) {
        mneme_codebase_file f{};
        f.struct_size = sizeof(f);
        REQUIRE(mneme_codebase_get_file(cb, i, &f) == MNEME_OK);
        const mneme_codebase_span sp = span_of(cb, i);
        INFO(f.path);
        CHECK((sp.included != MNEME_FALSE) == (f.status == MNEME_FILE_STATUS_INCLUDED));
        if (!sp.included) {
            CHECK(sp.token_count == 0);
            CHECK(sp.byte_length == 0);
            continue;
        }
        CHECK(sp.byte_offset == byte_at);
        CHECK(sp.token_offset == token_at);
        CHECK(sp.token_count == f.tokens);
        REQUIRE(sp.byte_offset + sp.byte_length <= text.size());
        const std::string block = text.substr(sp.byte_offset, sp.byte_length);
        CHECK(block.rfind(std::string("// file: ") + f.path + "\n", 0) == 0);
        // The block tokenized on its own is exactly the slice of the whole text's tokens.
        const std::vector<int32_t> alone = tokenize(m, block);
        REQUIRE(sp.token_offset + sp.token_count <= all.size());
        CHECK(alone ==
              std::vector<int32_t>(all.begin() + static_cast<std::ptrdiff_t>(sp.token_offset),
                                   all.begin() + static_cast<std::ptrdiff_t>(sp.token_offset + sp.token_count)));
        byte_at += sp.byte_length;
        token_at += sp.token_count;
    }
    CHECK(byte_at == text.size());
    CHECK(token_at == all.size());
}

}  // namespace

TEST_CASE("codebase file spans tile the rendered text and its tokens") {
    REQUIRE(fs::exists(demo_model() + "/tokenizer.json"));  // the demo model is part of the source tree
    loaded_model m(demo_model(), {MNEME_PRECISION_F32, MNEME_ACT_QUANT_DEFAULT});
    sample_tree tree;
    codebase_ptr cb = scan(m.get(), tree.root);
    check_tiling(m.get(), cb.p.get());
    // Excluding a file moves the later spans up.
    size_t count = 0;
    REQUIRE(mneme_codebase_file_count(cb.p.get(), &count) == MNEME_OK);
    REQUIRE(count >= 3);
    REQUIRE(mneme_codebase_set_included(cb.p.get(), 1, MNEME_FALSE) == MNEME_OK);
    check_tiling(m.get(), cb.p.get());
    mneme_codebase_span out_of_range{};
    out_of_range.struct_size = sizeof(out_of_range);
    CHECK(mneme_codebase_get_file_span(cb.p.get(), count, &out_of_range) == MNEME_ERROR_INVALID_ARGUMENT);
}

TEST_CASE("an answer's sparse-attention selections add up per codebase file") {
    REQUIRE(fs::exists(demo_model() + "/tokenizer.json"));  // the demo model is part of the source tree
    loaded_model m(demo_model(), {MNEME_PRECISION_F32, MNEME_ACT_QUANT_DEFAULT});
    sample_tree tree;
    codebase_ptr cb = scan(m.get(), tree.root);
    // The prompt: the codebase as the system turn of a chat, then a question.
    const std::string code = render(cb.p.get());
    const mneme_chat_message msgs[2] = {{"system", code.c_str()}, {"user", "What does main return?"}};
    size_t len = 0;
    REQUIRE(mneme_chat_render(m.get(), msgs, 2, MNEME_TRUE, nullptr, 0, &len) >= 0);
    std::string chat(len, '\0');
    REQUIRE(mneme_chat_render(m.get(), msgs, 2, MNEME_TRUE, chat.data(), chat.size(), &len) == MNEME_OK);
    const size_t code_at = chat.find(code);
    REQUIRE(code_at != std::string::npos);
    const std::vector<int32_t> ids = tokenize(m.get(), chat, MNEME_TOKENIZE_PARSE_SPECIAL);
    // Where the codebase starts in tokens: the template's prefix ends with a special token.
    const uint64_t base = tokenize(m.get(), chat.substr(0, code_at), MNEME_TOKENIZE_PARSE_SPECIAL).size();

    mneme_session_desc sd = MNEME_SESSION_DESC_INIT;
    sd.n_ctx = static_cast<uint32_t>(ids.size() + 16);
    mneme_session* s = nullptr;
    REQUIRE(mneme_session_create(m.get(), &sd, &s) == MNEME_OK);
    std::unique_ptr<mneme_session, void (*)(mneme_session*)> guard(s, mneme_session_destroy);
    REQUIRE(mneme_session_feed_tokens(s, ids.data(), ids.size(), nullptr) == MNEME_OK);
    mneme_generate_desc gd = MNEME_GENERATE_DESC_INIT;
    gd.max_tokens = 8;
    gd.stop_at_eos = MNEME_FALSE;
    gd.flags = MNEME_GENERATE_COLLECT_SELECTIONS;
    REQUIRE(mneme_session_generate(s, &gd, nullptr) == MNEME_OK);

    size_t count = 0;
    REQUIRE(mneme_codebase_file_count(cb.p.get(), &count) == MNEME_OK);
    std::vector<mneme_token_span> spans;
    uint64_t code_tokens = 0;
    for (size_t i = 0; i < count; ++i) {
        const mneme_codebase_span sp = span_of(cb.p.get(), i);
        spans.push_back({base + sp.token_offset, sp.token_count});
        code_tokens += sp.token_count;
    }
    std::vector<uint64_t> per_file(spans.size());
    REQUIRE(mneme_session_last_selection_by_span(s, spans.data(), spans.size(), per_file.data()) == MNEME_OK);
    const mneme_token_span whole{base, code_tokens};
    uint64_t all_code = 0;
    REQUIRE(mneme_session_last_selection_by_span(s, &whole, 1, &all_code) == MNEME_OK);
    CHECK(std::accumulate(per_file.begin(), per_file.end(), uint64_t{0}) == all_code);
    CHECK(all_code > 0);
}
