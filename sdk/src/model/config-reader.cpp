#include "model/config-reader.h"

#include <cmath>
#include <limits>

#include "model/json-parse.h"

namespace mneme {

using json = nlohmann::json;

config_reader::config_reader(const json& object, const std::string& filename, std::string requirement,
                             std::string prefix)
    : object_(object), filename_(filename), requirement_(std::move(requirement)), prefix_(std::move(prefix)) {}

config_reader config_reader::nested(std::string_view name, const json& object) const {
    return config_reader(object, filename_, requirement_, prefix_ + std::string(name) + ".");
}

std::string config_reader::field_name(std::string_view name) const {
    return cat("'", prefix_, name, "'");
}

const json* config_reader::find(std::string_view name) const {
    auto it = object_.find(std::string(name));
    if (it == object_.end() || it->is_null()) return nullptr;
    return &*it;
}

bool config_reader::contains_key(std::string_view name) const {
    return object_.contains(std::string(name));
}

bool config_reader::has(std::string_view name) const {
    return find(name) != nullptr;
}

const json* config_reader::find_object(std::string_view name) const {
    const json* v = find(name);
    if (v != nullptr && !v->is_object()) fail_field(name, "must be an object, got ", json_type_words(*v));
    return v;
}

const json& config_reader::required(std::string_view name) const {
    auto it = object_.find(std::string(name));
    if (it == object_.end()) fail_field(name, "is missing (", requirement_, ")");
    if (it->is_null()) fail_field(name, "is null (", requirement_, ")");
    return *it;
}

int64_t config_reader::checked_int(std::string_view name, const json& value, int64_t min, int64_t max) const {
    if (!value.is_number_integer()) fail_field(name, "must be an integer, got ", json_type_words(value));
    if (value.is_number_unsigned() &&
        value.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        fail_field(name, "is ", value.get<uint64_t>(), ", must be between ", min, " and ", max);
    }
    const auto v = value.get<int64_t>();
    if (v < min || v > max) fail_field(name, "is ", v, ", must be between ", min, " and ", max);
    return v;
}

void config_reader::require_positive(std::string_view name, double value) const {
    if (!(value > 0) || !std::isfinite(value)) fail_field(name, "is ", value, ", must be positive");
}

int64_t config_reader::int_field(std::string_view name, int64_t min, int64_t max) const {
    return checked_int(name, required(name), min, max);
}

int64_t config_reader::int_field_or(std::string_view name, int64_t fallback, int64_t min, int64_t max) const {
    const json* v = find(name);
    return v == nullptr ? fallback : checked_int(name, *v, min, max);
}

double config_reader::number_field(std::string_view name) const {
    const json& v = required(name);
    if (!v.is_number()) fail_field(name, "must be a number, got ", json_type_words(v));
    const auto d = v.get<double>();
    if (!std::isfinite(d)) fail_field(name, "must be a finite number");
    return d;
}

double config_reader::number_field_or(std::string_view name, double fallback) const {
    return has(name) ? number_field(name) : fallback;
}

bool config_reader::bool_field_or(std::string_view name, bool fallback) const {
    const json* v = find(name);
    if (v == nullptr) return fallback;
    if (!v->is_boolean()) fail_field(name, "must be true or false, got ", json_type_words(*v));
    return v->get<bool>();
}

std::string config_reader::string_field(std::string_view name) const {
    const json& v = required(name);
    if (!v.is_string()) fail_field(name, "must be a string, got ", json_type_words(v));
    return v.get<std::string>();
}

std::string config_reader::string_field_or(std::string_view name, const std::string& fallback) const {
    return has(name) ? string_field(name) : fallback;
}

std::vector<int64_t> config_reader::int_list_field(std::string_view name, std::size_t max_len, int64_t min,
                                                   int64_t max) const {
    const json& v = required(name);
    if (!v.is_array()) fail_field(name, "must be a list of integers, got ", json_type_words(v));
    if (v.size() > max_len) fail_field(name, "has ", v.size(), " entries, more than the limit of ", max_len);
    std::vector<int64_t> out;
    out.reserve(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) out.push_back(checked_int(cat(name, "[", i, "]"), v[i], min, max));
    return out;
}

}  // namespace mneme
