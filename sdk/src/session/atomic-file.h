// Writing user state (session states, snapshots) so that a kill or a power cut at any moment
// leaves either the previous file or the complete new one, readable by its owner only.
#pragma once

#include <span>
#include <string>
#include <string_view>

namespace mneme {

// Writes `bytes` to a new temporary file next to `path` (mode 0600), flushes it to disk, renames it
// over `path` and flushes the directory entry. The temporary name is unique per call, so concurrent
// writers of the same path (two sessions sharing a snapshot folder) never write into one file.
// Throws MNEME_ERROR_IO naming `path`; on failure the temporary file is removed.
void write_file_atomically(const std::string& path, std::span<const unsigned char> bytes);

// True for the temporary files write_file_atomically leaves behind when it is killed mid-write.
bool is_atomic_temp_name(std::string_view file_name);

}  // namespace mneme
