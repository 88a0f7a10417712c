// Pins the layout of every public struct on LP64 platforms (x86-64, aarch64 Linux). A change here
// is an ABI break: append fields instead, or bump MNEME_ABI_VERSION (see docs/API.md).
#include <mneme/mneme.h>
#include <mneme/mneme_plugin.h>

#include <cstddef>
#include <cstdio>

#if defined(__LP64__)
namespace {
[[maybe_unused]] void layout_checks() {
    static_assert(sizeof(mneme_runtime_desc) == 72);
    static_assert(offsetof(mneme_runtime_desc, plugin_paths) == 16);
    static_assert(offsetof(mneme_runtime_desc, log_fn) == 32);
    static_assert(offsetof(mneme_runtime_desc, allocator) == 56);
    static_assert(offsetof(mneme_runtime_desc, memory_budget_bytes) == 64);
    static_assert(sizeof(mneme_allocator) == 24);
    static_assert(sizeof(mneme_plugin_info) == 48);
    static_assert(offsetof(mneme_plugin_info, name) == 8);
    static_assert(offsetof(mneme_plugin_info, device_count) == 40);
    static_assert(sizeof(mneme_device_info) == 48);
    static_assert(offsetof(mneme_device_info, memory_total_bytes) == 32);
    static_assert(sizeof(mneme_progress) == 48);
    static_assert(offsetof(mneme_progress, done) == 8);
    static_assert(offsetof(mneme_progress, eta_seconds) == 40);
    static_assert(sizeof(mneme_model_desc) == 72);
    static_assert(offsetof(mneme_model_desc, backend) == 8);
    static_assert(offsetof(mneme_model_desc, memory_budget_bytes) == 24);
    static_assert(offsetof(mneme_model_desc, engram_cache_bytes) == 56);
    static_assert(sizeof(mneme_model_info) == 80);
    static_assert(offsetof(mneme_model_info, vocab_size) == 24);
    static_assert(offsetof(mneme_model_info, n_params) == 48);
    static_assert(offsetof(mneme_model_info, precision) == 76);
    static_assert(sizeof(mneme_memory_plan) == 120);
    static_assert(offsetof(mneme_memory_plan, total_bytes) == 48);
    static_assert(offsetof(mneme_memory_plan, fits) == 72);
    static_assert(sizeof(mneme_chat_message) == 16);
    static_assert(sizeof(mneme_sampling_params) == 40);
    static_assert(offsetof(mneme_sampling_params, repetition_penalty) == 20);
    static_assert(offsetof(mneme_sampling_params, seed) == 32);
    static_assert(sizeof(mneme_session_desc) == 32);
    static_assert(offsetof(mneme_session_desc, sampling) == 8);
    static_assert(offsetof(mneme_session_desc, snapshot_budget_bytes) == 24);
    static_assert(sizeof(mneme_feed_desc) == 32);
    static_assert(offsetof(mneme_feed_desc, flags) == 12);
    static_assert(offsetof(mneme_feed_desc, progress_fn) == 16);
    static_assert(sizeof(mneme_feed_stats) == 40);
    static_assert(offsetof(mneme_feed_stats, seconds) == 24);
    static_assert(offsetof(mneme_feed_stats, snapshot_saved) == 32);
    static_assert(sizeof(mneme_codebase_desc) == 32);
    static_assert(offsetof(mneme_codebase_desc, progress_fn) == 16);
    static_assert(sizeof(mneme_codebase_file) == 48);
    static_assert(offsetof(mneme_codebase_file, path) == 8);
    static_assert(offsetof(mneme_codebase_file, mtime_seconds) == 40);
    static_assert(sizeof(mneme_token_event) == 40);
    static_assert(offsetof(mneme_token_event, text) == 8);
    static_assert(offsetof(mneme_token_event, drafted) == 32);
    static_assert(sizeof(mneme_generate_desc) == 64);
    static_assert(offsetof(mneme_generate_desc, stop_strings) == 8);
    static_assert(offsetof(mneme_generate_desc, token_fn) == 32);
    static_assert(offsetof(mneme_generate_desc, draft) == 48);
    static_assert(offsetof(mneme_generate_desc, draft_max) == 56);
    static_assert(sizeof(mneme_generate_result) == 72);
    static_assert(offsetof(mneme_generate_result, n_tokens) == 8);
    static_assert(offsetof(mneme_generate_result, finish) == 40);
    static_assert(offsetof(mneme_generate_result, n_draft_accepted) == 56);
    static_assert(sizeof(mneme_engram_stats) == 88);
    static_assert(offsetof(mneme_engram_stats, table_bytes) == 8);
    static_assert(offsetof(mneme_engram_stats, stall_seconds) == 80);
    static_assert(sizeof(mneme_host_api) == 56);
    static_assert(offsetof(mneme_host_api, parallel_for) == 40);
    static_assert(offsetof(mneme_host_api, n_threads) == 48);
    static_assert(sizeof(mneme_tensor) == 88);
    static_assert(offsetof(mneme_tensor, ne) == 24);
    static_assert(offsetof(mneme_tensor, nb) == 56);
    static_assert(sizeof(mneme_op) == 640);
    static_assert(offsetof(mneme_op, dst) == 8);
    static_assert(offsetof(mneme_op, src) == 96);
    static_assert(offsetof(mneme_op, n_src) == 624);
    static_assert(offsetof(mneme_op, params) == 632);
    static_assert(sizeof(mneme_op_matmul) == 16);
    static_assert(sizeof(mneme_op_rope) == 16);
    static_assert(sizeof(mneme_plugin_probe_info) == 272);
    static_assert(sizeof(mneme_plugin_device_info) == 152);
    static_assert(sizeof(mneme_plugin_v1) == 152);
    static_assert(offsetof(mneme_plugin_v1, probe) == 24);
    static_assert(offsetof(mneme_plugin_v1, queue_submit) == 120);
    static_assert(offsetof(mneme_plugin_v1, last_error) == 144);
    static_assert(sizeof(mneme_status) == 4 && sizeof(mneme_plugin_state) == 4 && sizeof(mneme_dtype) == 4);
    static_assert(MNEME_ERROR_INVALID_MODEL == -5 && MNEME_PLUGIN_STATE_NO_DEVICE == 7 && MNEME_OP_TOPK == 6);
}
}  // namespace
#endif

int main() {
    std::puts("public struct layouts match the pinned baseline");
    return 0;
}
