// Prints the static_asserts of tests/abi/struct-layout.cpp for the current public headers.
// Regenerate the baseline only for a deliberate, documented ABI change (docs/API.md):
//   g++ -std=c++20 -Isdk/include tools/abi/print-layout.cpp -o /tmp/print-layout && /tmp/print-layout
#include <mneme/mneme.h>
#include <mneme/mneme_plugin.h>
#include <cstdio>
#include <cstddef>
#define S(T) std::printf("    static_assert(sizeof(" #T ") == %zu);\n", sizeof(T));
#define O(T, f) std::printf("    static_assert(offsetof(" #T ", " #f ") == %zu);\n", offsetof(T, f));
int main(){
S(mneme_runtime_desc) O(mneme_runtime_desc, plugin_paths) O(mneme_runtime_desc, log_fn) O(mneme_runtime_desc, allocator) O(mneme_runtime_desc, memory_budget_bytes)
S(mneme_allocator)
S(mneme_plugin_info) O(mneme_plugin_info, name) O(mneme_plugin_info, device_count)
S(mneme_device_info) O(mneme_device_info, memory_total_bytes)
S(mneme_progress) O(mneme_progress, done) O(mneme_progress, eta_seconds)
S(mneme_model_desc) O(mneme_model_desc, backend) O(mneme_model_desc, memory_budget_bytes) O(mneme_model_desc, engram_cache_bytes)
S(mneme_model_info) O(mneme_model_info, vocab_size) O(mneme_model_info, n_params) O(mneme_model_info, precision)
S(mneme_memory_plan) O(mneme_memory_plan, total_bytes) O(mneme_memory_plan, fits)
S(mneme_chat_message)
S(mneme_sampling_params) O(mneme_sampling_params, repetition_penalty) O(mneme_sampling_params, seed)
S(mneme_session_desc) O(mneme_session_desc, sampling) O(mneme_session_desc, snapshot_budget_bytes)
S(mneme_feed_desc) O(mneme_feed_desc, flags) O(mneme_feed_desc, progress_fn)
S(mneme_feed_stats) O(mneme_feed_stats, seconds) O(mneme_feed_stats, snapshot_saved)
S(mneme_codebase_desc) O(mneme_codebase_desc, progress_fn)
S(mneme_codebase_file) O(mneme_codebase_file, path) O(mneme_codebase_file, mtime_seconds)
S(mneme_token_event) O(mneme_token_event, text) O(mneme_token_event, drafted)
S(mneme_generate_desc) O(mneme_generate_desc, stop_strings) O(mneme_generate_desc, token_fn) O(mneme_generate_desc, draft) O(mneme_generate_desc, draft_max)
S(mneme_generate_result) O(mneme_generate_result, n_tokens) O(mneme_generate_result, finish) O(mneme_generate_result, n_draft_accepted)
S(mneme_engram_stats) O(mneme_engram_stats, table_bytes) O(mneme_engram_stats, stall_seconds)
S(mneme_host_api) O(mneme_host_api, parallel_for) O(mneme_host_api, n_threads)
S(mneme_tensor) O(mneme_tensor, ne) O(mneme_tensor, nb)
S(mneme_op) O(mneme_op, dst) O(mneme_op, src) O(mneme_op, n_src) O(mneme_op, params)
S(mneme_op_matmul) S(mneme_op_rope)
S(mneme_plugin_probe_info) S(mneme_plugin_device_info)
S(mneme_plugin_v1) O(mneme_plugin_v1, probe) O(mneme_plugin_v1, queue_submit) O(mneme_plugin_v1, last_error)
}
