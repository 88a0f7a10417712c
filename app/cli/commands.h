// Subcommands of mneme-cli. Each returns the process exit code.
#pragma once

#include <mneme/mneme.h>

#include <string>
#include <vector>

#include "cli-args.h"

namespace mneme_cli {

// Runtime options shared by every command: --threads, --plugin-path.
mneme_runtime* open_runtime(const args& a);
std::vector<std::string> runtime_option_names();

// Prints "error: <context>: <status>: <detail>" to stderr and returns exit code 1.
int report_failure(const std::string& context, mneme_status status);

int cmd_backends(const args& a);
int cmd_logits(const args& a);
int cmd_generate(const args& a);
int cmd_tokenize(const args& a);
int cmd_info(const args& a);
int cmd_chat(const args& a);
int cmd_plan(const args& a);
int cmd_bench_context(const args& a);
int cmd_engram_import(const args& a);
int cmd_bench_engram(const args& a);
int cmd_engram_profile(const args& a);
int cmd_bench_draft(const args& a);

}  // namespace mneme_cli
