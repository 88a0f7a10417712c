// DeepSeek chat formats, implemented natively (no template engine). Each family reproduces its
// official reference exactly for conversations of system, user and assistant messages:
//
//  v3   DeepSeek-V3 / V3-0324: the Jinja chat_template of their tokenizer_config.json.
//  v31  DeepSeek-V3.1 (and V3.1-Terminus): the Jinja chat_template of V3.1's
//       tokenizer_config.json, which adds the "thinking" switch and <think> / </think> after the
//       assistant marker.
//  v32  DeepSeek-V3.2: encode_messages() of encoding/encoding_dsv32.py in the model repository
//       (V3.2 ships Python instead of a Jinja template). Every user turn carries the assistant
//       marker and the thinking token.
//  v4   DeepSeek-V4: encode_messages() of encoding/encoding_dsv4.py. V4 does NOT reuse V3.2's
//       encoder: it folds consecutive user messages into one user turn (joined by a blank line),
//       adds the assistant marker only when the assistant speaks next, merges tool results into
//       user turns as <tool_result> blocks, names its tool-call block "tool_calls" instead of
//       "function_calls", and adds reasoning-effort prompts, a latest_reminder role and task
//       tokens. For plain conversations that alternate user and assistant turns its output
//       equals V3.2's.
//
// Tool definitions, tool calls and tool results, V3.1's assistant "prefix" continuation, and V4's
// reasoning-effort, task and latest_reminder features are not supported; roles other than
// system, user and assistant are rejected.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace mneme {

enum class chat_family { v3, v31, v32, v4 };

struct chat_message {
    std::string role;  // "system", "user" or "assistant"
    std::string content;
    // The assistant's reasoning. Rendered (followed by </think>) only where the official encoders
    // keep it: by v32 and v4 in thinking mode, for assistant messages after the last user message.
    std::string reasoning;
};

struct chat_options {
    // End with the assistant marker (and, for v31/v32/v4, the thinking token) so that the model
    // answers next. The v32 and v4 references have no such switch and always end a final user turn
    // this way; false drops that ending.
    bool add_generation_prompt = true;
    // Thinking mode: the final marker is followed by <think> instead of </think> (v31, v32, v4).
    // v3 has no thinking mode and ignores it.
    bool thinking = false;
    // Start with <｜begin▁of▁sentence｜>, as every reference does. Encode the result with
    // parse_special and without adding another BOS.
    bool add_bos = true;
};

// Renders `messages` in the format of `family`. Throws mneme::error(MNEME_ERROR_INVALID_ARGUMENT)
// for an unsupported role.
std::string render_chat(std::span<const chat_message> messages, chat_family family, const chat_options& options);

// Shorthand with default options.
std::string render_chat(std::span<const chat_message> messages, bool add_generation_prompt, chat_family family);

// V3 and V3.1 share an architecture (config.json says deepseek_v3 for both) but not a chat format;
// their tokenizer_config.json chat_template tells them apart: V3.1's handles </think>. Returns
// nullopt for a template that is neither (V3.2 and V4 ship Python encoders instead).
std::optional<chat_family> chat_family_from_template(std::string_view chat_template);

// "v3", "v31", "v32", "v4".
std::string_view chat_family_name(chat_family family);
std::optional<chat_family> chat_family_from_name(std::string_view name);

}  // namespace mneme
