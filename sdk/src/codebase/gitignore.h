// .gitignore matching: the pattern rules of git (comments, negation, directory-only patterns,
// patterns anchored by a slash, `*`, `?`, `[...]` and `**`), applied per directory so that a
// nested .gitignore overrides its parents, as git does.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mneme {

class gitignore_rules {
public:
    // Adds the patterns of one .gitignore file found in `base` (a path relative to the root, "" for
    // the root itself; '/'-separated, no trailing slash).
    void add_file(const std::string& base, std::string_view text);
    void add_pattern(const std::string& base, std::string_view line);

    // Whether `path` (relative to the root, '/'-separated) is ignored. Later rules win; a path
    // inside an ignored directory is ignored (callers skip such directories anyway).
    bool ignored(std::string_view path, bool is_dir) const;

private:
    struct rule {
        std::string base;     // directory of the .gitignore
        std::string pattern;  // without leading '!' and trailing '/'
        bool negate = false;
        bool dir_only = false;
        bool anchored = false;  // contains a '/' other than a trailing one: match from base
    };
    std::vector<rule> rules_;
};

// Glob match of git's wildmatch with FNM_PATHNAME: '*' and '?' do not cross '/', "**/" spans
// directories. Exposed for tests.
bool glob_match(std::string_view pattern, std::string_view text);

}  // namespace mneme
