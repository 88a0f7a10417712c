// Typed access to the fields of one JSON object of config.json, with errors that name the file and
// the field ("config.json: field 'rope_scaling.factor' must be a number, got a string"). Internal:
// includes nlohmann-json, so only .cpp files of the runtime may include it.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace mneme {

class config_reader {
public:
    // `requirement` completes "field 'x' is missing (...)", e.g. "required for deepseek_v3".
    config_reader(const nlohmann::json& object, const std::string& filename, std::string requirement,
                  std::string prefix = "");

    // A sub-object such as rope_scaling; its fields are reported as 'rope_scaling.factor'.
    config_reader nested(std::string_view name, const nlohmann::json& object) const;

    // The key exists, whatever its value (null included).
    bool contains_key(std::string_view name) const;
    // Present and not null. Every optional field treats null as absent, as the Python loaders do.
    bool has(std::string_view name) const;
    // The value, or nullptr when absent or null.
    const nlohmann::json* find(std::string_view name) const;
    // An object field, or nullptr when absent or null; any other type is an error.
    const nlohmann::json* find_object(std::string_view name) const;

    int64_t int_field(std::string_view name, int64_t min, int64_t max) const;
    int64_t int_field_or(std::string_view name, int64_t fallback, int64_t min, int64_t max) const;
    // JSON numbers, integer or not; NaN and infinities cannot occur in JSON.
    double number_field(std::string_view name) const;
    double number_field_or(std::string_view name, double fallback) const;
    bool bool_field_or(std::string_view name, bool fallback) const;
    std::string string_field(std::string_view name) const;
    std::string string_field_or(std::string_view name, const std::string& fallback) const;
    std::vector<int64_t> int_list_field(std::string_view name, std::size_t max_len, int64_t min, int64_t max) const;

    // Value checks, used by the readers above and by cross-field checks.
    int64_t checked_int(std::string_view name, const nlohmann::json& value, int64_t min, int64_t max) const;
    void require_positive(std::string_view name, double value) const;

    // "'rope_scaling.factor'"
    std::string field_name(std::string_view name) const;

    // "<file>: field '<prefix.name>' <details>"
    template <class... Args>
    [[noreturn]] void fail_field(std::string_view name, Args&&... details) const {
        fail(MNEME_ERROR_INVALID_MODEL, filename_, ": field ", field_name(name), " ", std::forward<Args>(details)...);
    }
    template <class... Args>
    [[noreturn]] void fail_unsupported(std::string_view name, Args&&... details) const {
        fail(MNEME_ERROR_UNSUPPORTED, filename_, ": field ", field_name(name), " ", std::forward<Args>(details)...);
    }

    const std::string& filename() const noexcept { return filename_; }

private:
    const nlohmann::json& required(std::string_view name) const;

    const nlohmann::json& object_;
    const std::string& filename_;
    std::string requirement_;
    std::string prefix_;
};

}  // namespace mneme
