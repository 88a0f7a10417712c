// A small argument parser for mneme-cli: `--name value`, `--name=value` and bare flags.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mneme_cli {

class args {
public:
    // Parses argv[first..argc). `flags` lists the options that take no value.
    args(int argc, char** argv, int first, const std::vector<std::string>& flags);

    bool has(const std::string& name) const { return values_.count(name) != 0; }
    std::optional<std::string> get(const std::string& name) const;
    std::string get_or(const std::string& name, const std::string& fallback) const;
    std::string require(const std::string& name) const;  // throws usage_error when absent
    long long get_int(const std::string& name, long long fallback) const;
    double get_double(const std::string& name, double fallback) const;
    const std::vector<std::string>& positional() const { return positional_; }
    // Throws usage_error if an option outside `known` was given.
    void allow_only(const std::vector<std::string>& known) const;

private:
    std::map<std::string, std::string> values_;
    std::vector<std::string> positional_;
};

struct usage_error {
    std::string message;
};

}  // namespace mneme_cli
