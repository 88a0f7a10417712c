#include "codebase/gitignore.h"

#include <cstdint>
#include <unordered_set>

namespace mneme {
namespace {

bool class_match(std::string_view pat, std::size_t& i, char c) {
    // pat[i] == '['; on return i points past the closing ']'.
    std::size_t j = i + 1;
    bool negate = false;
    if (j < pat.size() && (pat[j] == '!' || pat[j] == '^')) {
        negate = true;
        ++j;
    }
    bool matched = false;
    bool first = true;
    while (j < pat.size() && (first || pat[j] != ']')) {
        first = false;
        char lo = pat[j];
        if (lo == '\\' && j + 1 < pat.size()) lo = pat[++j];
        char hi = lo;
        if (j + 2 < pat.size() && pat[j + 1] == '-' && pat[j + 2] != ']') {
            hi = pat[j + 2];
            j += 2;
        }
        if (c >= lo && c <= hi) matched = true;
        ++j;
    }
    i = j < pat.size() ? j + 1 : j;
    return matched != negate;
}

// Positions (pattern, text) already known not to match: without them, patterns like "*a*a*a*b"
// backtrack exponentially (found by fuzzing); with them each position is tried once.
using failed_set = std::unordered_set<uint64_t>;

bool match_from(std::string_view p, std::size_t pi, std::string_view t, std::size_t ti, failed_set& failed);

bool match_at(std::string_view p, std::size_t pi, std::string_view t, std::size_t ti, failed_set& failed) {
    const uint64_t key = (static_cast<uint64_t>(pi) << 32) | static_cast<uint64_t>(ti);
    if (failed.count(key)) return false;
    if (match_from(p, pi, t, ti, failed)) return true;
    failed.insert(key);
    return false;
}

bool match_from(std::string_view p, std::size_t pi, std::string_view t, std::size_t ti, failed_set& failed) {
    while (pi < p.size()) {
        const char pc = p[pi];
        if (pc == '*') {
            const bool double_star = pi + 1 < p.size() && p[pi + 1] == '*';
            if (double_star) {
                std::size_t next = pi + 2;
                const bool slash_after = next < p.size() && p[next] == '/';
                const bool at_segment_start = pi == 0 || p[pi - 1] == '/';
                if (at_segment_start && (slash_after || next == p.size())) {
                    if (next == p.size()) return true;  // trailing "**" matches everything below
                    ++next;                              // "**/": zero or more directories
                    for (std::size_t k = ti; k <= t.size(); ++k) {
                        if ((k == ti || t[k - 1] == '/') && match_at(p, next, t, k, failed)) return true;
                    }
                    return false;
                }
            }
            // '*' matches within one path segment.
            std::size_t next = pi + 1;
            while (next < p.size() && p[next] == '*') ++next;
            for (std::size_t k = ti; k <= t.size(); ++k) {
                if (match_at(p, next, t, k, failed)) return true;
                if (k < t.size() && t[k] == '/') break;
            }
            return false;
        }
        if (ti >= t.size()) return false;
        if (pc == '?') {
            if (t[ti] == '/') return false;
            ++pi;
            ++ti;
            continue;
        }
        if (pc == '[') {
            if (t[ti] == '/') return false;
            if (!class_match(p, pi, t[ti])) return false;
            ++ti;
            continue;
        }
        char lit = pc;
        if (pc == '\\' && pi + 1 < p.size()) lit = p[++pi];
        if (lit != t[ti]) return false;
        ++pi;
        ++ti;
    }
    return ti == t.size();
}

std::string_view trim_trailing_spaces(std::string_view s) {
    while (!s.empty() && (s.back() == ' ' || s.back() == '\r' || s.back() == '\t')) {
        if (s.size() >= 2 && s[s.size() - 2] == '\\') break;  // escaped space is kept
        s.remove_suffix(1);
    }
    return s;
}

}  // namespace

bool glob_match(std::string_view pattern, std::string_view text) {
    failed_set failed;
    return match_from(pattern, 0, text, 0, failed);
}

void gitignore_rules::add_file(const std::string& base, std::string_view text) {
    std::size_t start = 0;
    while (start <= text.size()) {
        std::size_t end = text.find('\n', start);
        if (end == std::string_view::npos) end = text.size();
        add_pattern(base, text.substr(start, end - start));
        start = end + 1;
    }
}

void gitignore_rules::add_pattern(const std::string& base, std::string_view line) {
    line = trim_trailing_spaces(line);
    if (line.empty() || line[0] == '#') return;
    rule r;
    r.base = base;
    if (line[0] == '!') {
        r.negate = true;
        line.remove_prefix(1);
    } else if (line[0] == '\\' && line.size() > 1 && (line[1] == '#' || line[1] == '!')) {
        line.remove_prefix(1);
    }
    if (!line.empty() && line.back() == '/') {
        r.dir_only = true;
        line.remove_suffix(1);
    }
    if (line.empty()) return;
    r.anchored = line.find('/') != std::string_view::npos;
    if (line[0] == '/') line.remove_prefix(1);
    r.pattern = std::string(line);
    rules_.push_back(std::move(r));
}

bool gitignore_rules::ignored(std::string_view path, bool is_dir) const {
    bool result = false;
    for (const auto& r : rules_) {
        if (r.dir_only && !is_dir) continue;
        std::string_view rel = path;
        if (!r.base.empty()) {
            if (rel.size() <= r.base.size() || rel.compare(0, r.base.size(), r.base) != 0 || rel[r.base.size()] != '/') {
                continue;
            }
            rel.remove_prefix(r.base.size() + 1);
        }
        bool m;
        if (r.anchored) {
            m = glob_match(r.pattern, rel);
        } else {
            const auto slash = rel.rfind('/');
            m = glob_match(r.pattern, slash == std::string_view::npos ? rel : rel.substr(slash + 1));
        }
        if (m) result = !r.negate;
    }
    return result;
}

}  // namespace mneme
