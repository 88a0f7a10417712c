// Chat formats against renderings by DeepSeek's official references: the V3 and V3.1 Jinja
// templates (rendered by @huggingface/jinja) and the V3.2 and V4 Python encoders.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "core/error.h"
#include "tokenizer/chat-format.h"

namespace {

using json = nlohmann::json;
using mneme::chat_family;
using mneme::chat_message;

json read_json(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in);
    std::ostringstream s;
    s << in.rdbuf();
    return json::parse(s.str());
}

std::map<std::string, std::vector<chat_message>> conversations() {
    const json file =
        read_json(std::filesystem::path(MNEME_SOURCE_DIR) / "tools" / "tokenizer" / "chat-conversations.json");
    std::map<std::string, std::vector<chat_message>> out;
    for (const json& c : file["conversations"]) {
        std::vector<chat_message> messages;
        for (const json& m : c["messages"]) {
            messages.push_back({m["role"], m["content"], m.value("reasoning", std::string())});
        }
        out[c["name"]] = std::move(messages);
    }
    return out;
}

void check_vectors(const std::string& file_name) {
    const auto all = conversations();
    const json vectors = read_json(std::filesystem::path(MNEME_TEST_DATA_DIR) / "golden" / "tokenizer" / file_name);
    REQUIRE(vectors["cases"].size() > 40);
    for (const json& c : vectors["cases"]) {
        const auto family = mneme::chat_family_from_name(c["family"].get<std::string>());
        REQUIRE(family);
        const std::string name = c["conversation"];
        REQUIRE(all.count(name) == 1);
        mneme::chat_options options;
        options.add_generation_prompt = c["add_generation_prompt"];
        options.thinking = c["thinking"];
        INFO(c["family"].get<std::string>() << " / " << name << " / generation prompt " << options.add_generation_prompt
                                            << " / thinking " << options.thinking);
        CHECK(mneme::render_chat(all.at(name), *family, options) == c["text"].get<std::string>());
    }
}

}  // namespace

TEST_CASE("V3 and V3.1 chat formats equal the official Jinja templates", "[tokenizer][chat]") {
    check_vectors("chat-vectors-jinja.json");
}

TEST_CASE("V3.2 and V4 chat formats equal the official Python encoders", "[tokenizer][chat]") {
    check_vectors("chat-vectors-encoders.json");
}

TEST_CASE("chat formats: published examples and edge cases", "[tokenizer][chat]") {
    // llama.cpp's example for DeepSeek-V3.1 in thinking mode (rendered there without BOS).
    const std::vector<chat_message> example = {{"system", "You are a helpful assistant", ""},
                                               {"user", "Hello", ""},
                                               {"assistant", "Hi there", ""},
                                               {"user", "How are you?", ""}};
    mneme::chat_options options;
    options.thinking = true;
    options.add_bos = false;
    CHECK(mneme::render_chat(example, chat_family::v31, options) ==
          "You are a helpful assistant<｜User｜>Hello<｜Assistant｜></think>Hi there<｜end▁of▁sentence｜>"
          "<｜User｜>How are you?<｜Assistant｜><think>");

    // The V3.2 and V4 encoders always end a final user turn with the assistant marker; without a
    // generation prompt that ending is left out.
    const std::vector<chat_message> question = {{"user", "Hi", ""}};
    for (chat_family f : {chat_family::v32, chat_family::v4}) {
        CHECK(mneme::render_chat(question, false, f) == "<｜begin▁of▁sentence｜><｜User｜>Hi");
        CHECK(mneme::render_chat(question, true, f) == "<｜begin▁of▁sentence｜><｜User｜>Hi<｜Assistant｜></think>");
    }
    CHECK(mneme::render_chat(question, true, chat_family::v3) == "<｜begin▁of▁sentence｜><｜User｜>Hi<｜Assistant｜>");

    const std::vector<chat_message> tool = {{"tool", "42", ""}};
    try {
        (void)mneme::render_chat(tool, true, chat_family::v3);
        FAIL("unsupported role accepted");
    } catch (const mneme::error& e) {
        CHECK(e.status() == MNEME_ERROR_INVALID_ARGUMENT);
        CHECK_THAT(e.what(), Catch::Contains("tool"));
    }

    for (chat_family f : {chat_family::v3, chat_family::v31, chat_family::v32, chat_family::v4}) {
        CHECK(mneme::chat_family_from_name(mneme::chat_family_name(f)) == f);
    }
    CHECK_FALSE(mneme::chat_family_from_name("v5"));
    CHECK(mneme::chat_family_from_template("{{'<｜Assistant｜>' + message['content']}}") == chat_family::v3);
    CHECK(mneme::chat_family_from_template("{{'<｜Assistant｜></think>'}}") == chat_family::v31);
    CHECK_FALSE(mneme::chat_family_from_template("{{ '<|im_start|>' }}"));
    CHECK_FALSE(mneme::chat_family_from_template(""));
}
