// A folder of source code made ready for the prompt: walked with .gitignore honoured, binary,
// generated, oversized and unreadable files set aside with a reason, token counts per file, and a
// deterministic rendering (docs/CODEBASE.md) where recently modified files come last, so that an
// edit invalidates only the tail of a saved prefill.
#pragma once

#include <mneme/mneme.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace mneme {

class tokenizer;

struct codebase_file {
    std::string path;     // relative to the root, '/'-separated, valid UTF-8 (invalid bytes shown as U+FFFD)
    std::string fs_path;  // the path as the file system spells it
    mneme_file_status status = MNEME_FILE_STATUS_UNDEFINED;
    std::string reason;   // why a file is not included
    uint64_t bytes = 0;
    uint64_t tokens = 0;  // tokens of the file's rendered block (0 without a tokenizer)
    uint64_t block_bytes = 0;  // bytes of that block (as last read)
    int64_t mtime_ns = 0;
};

struct codebase_options {
    uint64_t max_file_bytes = 1u << 20;
    bool gitignore = true;
    bool hidden = false;  // include dot-files and dot-folders (other than .git)
};

class codebase {
public:
    using progress_fn = std::function<bool(uint64_t files_done)>;  // false = cancel

    static std::unique_ptr<codebase> scan(const std::string& root, const codebase_options& opts, const tokenizer* tok,
                                          const progress_fn& progress = {});

    const std::vector<codebase_file>& files() const noexcept { return files_; }
    void set_included(std::size_t index, bool included);
    // The prompt text of every included file, in rendering order.
    std::string render() const;
    uint64_t included_tokens() const noexcept;

    // Where file `index` lies in render(): bytes, and tokens counted from the text's first token.
    struct span {
        bool included = false;
        uint64_t byte_offset = 0, byte_length = 0;
        uint64_t token_offset = 0, token_count = 0;
    };
    span file_span(std::size_t index) const;
    const std::string& root() const noexcept { return root_; }

    // One file's block: header line, content, terminating newline.
    static std::string render_file(const std::string& path, const std::string& content);

private:
    std::string read(const codebase_file& f) const;
    static uint64_t block_bytes(const codebase_file& f);

    std::string root_;
    std::vector<codebase_file> files_;  // in rendering order (mtime, then path)
};

}  // namespace mneme
