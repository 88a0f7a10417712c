// Strict JSON parsing for model files. Internal: includes nlohmann-json, which is a private
// dependency of the runtime, so only .cpp files of the runtime may include this header.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

namespace mneme {

// Parses `text` as JSON, stricter than the JSON spec requires: a key repeated inside one object is
// an error (readers disagree on which copy wins), and nesting deeper than `max_depth` is refused.
// Errors are mneme::error(MNEME_ERROR_INVALID_MODEL) naming `filename` and `what` ("header").
nlohmann::json parse_json_strictly(std::string_view text, const std::string& filename, const char* what,
                                   int max_depth = 32);

// A name quoted for an error message, shortened if a hostile file made it enormous.
std::string quote_name(std::string_view name);

// The JSON type of `value` in words, for "must be an integer, got a string".
const char* json_type_words(const nlohmann::json& value);

}  // namespace mneme
