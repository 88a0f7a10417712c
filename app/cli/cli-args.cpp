#include "cli-args.h"

#include <algorithm>
#include <cstdlib>

namespace mneme_cli {

args::args(int argc, char** argv, int first, const std::vector<std::string>& flags) {
    for (int i = first; i < argc; ++i) {
        std::string a = argv[i];
        if (a.rfind("--", 0) != 0 || a == "--") {
            positional_.push_back(a);
            continue;
        }
        a = a.substr(2);
        const auto eq = a.find('=');
        if (eq != std::string::npos) {
            values_[a.substr(0, eq)] = a.substr(eq + 1);
        } else if (std::find(flags.begin(), flags.end(), a) != flags.end()) {
            values_[a] = "1";
        } else if (i + 1 < argc) {
            values_[a] = argv[++i];
        } else {
            throw usage_error{"option --" + a + " needs a value"};
        }
    }
}

std::optional<std::string> args::get(const std::string& name) const {
    auto it = values_.find(name);
    if (it == values_.end()) return std::nullopt;
    return it->second;
}

std::string args::get_or(const std::string& name, const std::string& fallback) const {
    return get(name).value_or(fallback);
}

std::string args::require(const std::string& name) const {
    auto v = get(name);
    if (!v) throw usage_error{"missing required option --" + name};
    return *v;
}

long long args::get_int(const std::string& name, long long fallback) const {
    auto v = get(name);
    if (!v) return fallback;
    char* end = nullptr;
    const long long x = std::strtoll(v->c_str(), &end, 10);
    if (!end || *end != '\0' || v->empty()) throw usage_error{"--" + name + " expects an integer, got '" + *v + "'"};
    return x;
}

double args::get_double(const std::string& name, double fallback) const {
    auto v = get(name);
    if (!v) return fallback;
    char* end = nullptr;
    const double x = std::strtod(v->c_str(), &end);
    if (!end || *end != '\0' || v->empty()) throw usage_error{"--" + name + " expects a number, got '" + *v + "'"};
    return x;
}

void args::allow_only(const std::vector<std::string>& known) const {
    for (const auto& [k, v] : values_) {
        if (std::find(known.begin(), known.end(), k) == known.end()) throw usage_error{"unknown option --" + k};
    }
}

}  // namespace mneme_cli
