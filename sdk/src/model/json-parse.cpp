#include "model/json-parse.h"

#include <set>
#include <vector>

#include "core/error.h"

namespace mneme {

nlohmann::json parse_json_strictly(std::string_view text, const std::string& filename, const char* what,
                                   int max_depth) {
    using json = nlohmann::json;
    // One key set per open object, innermost last.
    std::vector<std::set<std::string, std::less<>>> open_objects;
    auto check = [&](int depth, json::parse_event_t event, json& parsed) {
        switch (event) {
            case json::parse_event_t::object_start:
            case json::parse_event_t::array_start:
                if (depth >= max_depth)
                    fail(MNEME_ERROR_INVALID_MODEL, filename, ": ", what, " nests deeper than ", max_depth, " levels");
                if (event == json::parse_event_t::object_start) open_objects.emplace_back();
                break;
            case json::parse_event_t::object_end:
                if (!open_objects.empty()) open_objects.pop_back();
                break;
            case json::parse_event_t::key: {
                if (open_objects.empty() || !parsed.is_string()) break;
                const auto& key = parsed.get_ref<const std::string&>();
                if (!open_objects.back().insert(key).second) {
                    fail(MNEME_ERROR_INVALID_MODEL, filename, ": ", what, ": key ", quote_name(key),
                         " appears twice in one object");
                }
                break;
            }
            default:
                break;
        }
        return true;
    };
    try {
        return json::parse(text.begin(), text.end(), check);
    } catch (const json::exception& e) {
        // nlohmann quotes the offending token, which a hostile file can make huge.
        std::string detail = e.what();
        if (detail.size() > 300) detail = detail.substr(0, 300) + "...";
        fail(MNEME_ERROR_INVALID_MODEL, filename, ": ", what, " is not valid JSON (", detail, ")");
    }
}

std::string quote_name(std::string_view name) {
    constexpr std::size_t k_max = 200;
    if (name.size() <= k_max) return cat("'", name, "'");
    return cat("'", name.substr(0, k_max), "...' (", name.size(), " bytes)");
}

const char* json_type_words(const nlohmann::json& value) {
    switch (value.type()) {
        case nlohmann::json::value_t::null:
            return "null";
        case nlohmann::json::value_t::object:
            return "an object";
        case nlohmann::json::value_t::array:
            return "an array";
        case nlohmann::json::value_t::string:
            return "a string";
        case nlohmann::json::value_t::boolean:
            return "a boolean";
        case nlohmann::json::value_t::number_integer:
        case nlohmann::json::value_t::number_unsigned:
            return "an integer";
        case nlohmann::json::value_t::number_float:
            return "a non-integer number";
        default:
            return "an unsupported JSON value";
    }
}

}  // namespace mneme
