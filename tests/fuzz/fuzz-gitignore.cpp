// libFuzzer target: .gitignore parsing and glob matching (files from any repository a user opens).
#include <cstddef>
#include <cstdint>
#include <string>

#include "codebase/gitignore.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    mneme::gitignore_rules rules;
    rules.add_file("", text);
    rules.add_file("sub", text);
    for (const char* path : {"a.txt", "sub/dir/file.cpp", "build", "x/y/z/w.log", ""}) {
        (void)rules.ignored(path, false);
        (void)rules.ignored(path, true);
    }
    // The text as a pattern against itself: exercises '**', classes and escapes.
    (void)mneme::glob_match(text.substr(0, 64), text.substr(size / 2));
    return 0;
}
