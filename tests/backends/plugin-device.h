// One device of a backend plugin, opened directly from its module (no runtime in between), so op
// tests can drive any backend and the CPU reference through the same mneme_op structs.
#pragma once

#include <mneme/mneme_plugin.h>

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace mneme::backend_test {

class plugin_device {
  public:
    // Loads libmneme-backend-<name>.so from the build's plugin folder and opens its device 0 when
    // the probe finds one; usable() says whether it did, probe_message() why not.
    explicit plugin_device(const std::string& name);
    ~plugin_device();
    plugin_device(const plugin_device&) = delete;
    plugin_device& operator=(const plugin_device&) = delete;

    bool usable() const { return backend_ != nullptr; }
    const std::string& probe_message() const { return probe_message_; }
    const std::string& name() const { return name_; }

    mneme_buffer* alloc(uint64_t bytes);
    void free_buffer(mneme_buffer* b);
    void upload(mneme_buffer* b, uint64_t offset, const void* src, uint64_t bytes);
    void download(mneme_buffer* b, uint64_t offset, void* dst, uint64_t bytes);
    // Submits the ops and waits; returns the status (the plugin's message in last_error()).
    mneme_status run(const std::vector<mneme_op>& ops);
    bool supports(const mneme_op& op) const;
    std::string last_error() const;

    // Warnings and errors the plugin logged through the host (e.g. validation messages).
    std::vector<std::string> take_log();

  private:
    static void log_cb(void* host, mneme_log_level level, const char* message);

    std::string name_;
    void* module_ = nullptr;
    const mneme_plugin_v1* table_ = nullptr;
    mneme_host_api host_{};
    mneme_backend* backend_ = nullptr;
    mneme_queue* queue_ = nullptr;
    std::string probe_message_;
    std::mutex log_mutex_;
    std::vector<std::string> log_;
};

// The backend under test: the --backend argument, else MNEME_TEST_BACKEND.
const std::string& backend_under_test();
void set_backend_under_test(const std::string& name);

}  // namespace mneme::backend_test
