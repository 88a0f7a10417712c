// The kinds of state the crash tests kill writers of. Each has a writer (run in the child
// process, printing a report line after every commit) and a check (the parent: the kill loop and
// the verification of what every kill left on disk).
#pragma once

#include <cstdint>
#include <string>

namespace mneme::crash {

int write_store_import(const std::string& dir, uint64_t seed);
int check_store_import();

int write_hot_rows(const std::string& dir, uint64_t seed);
int check_hot_rows();

int write_session_state(const std::string& dir, uint64_t seed);
int check_session_state();

int write_snapshots(const std::string& dir, uint64_t seed);
int check_snapshots();

}  // namespace mneme::crash
