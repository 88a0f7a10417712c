// An opened backend device as the runtime uses it: RAII buffers, one in-order queue, and op
// submission with the plugin's error text turned into mneme::error.
#pragma once

#include <mneme/mneme_plugin.h>

#include <cstdint>
#include <atomic>
#include <memory>
#include <string>
#include <vector>

namespace mneme {

class device;

// A buffer owned by a device; freed when the last reference goes away.
class buffer {
public:
    buffer(device& dev, mneme_buffer* raw, uint64_t size, bool counted = false)
        : dev_(&dev), raw_(raw), size_(size), counted_(counted) {}
    ~buffer();
    buffer(const buffer&) = delete;
    buffer& operator=(const buffer&) = delete;

    mneme_buffer* raw() const noexcept { return raw_; }
    uint64_t size() const noexcept { return size_; }

private:
    device* dev_;
    mneme_buffer* raw_;
    uint64_t size_;
    bool counted_;  // allocated by device::alloc (counted in device::allocated_bytes)
};
using buffer_ptr = std::shared_ptr<buffer>;

class device {
public:
    device(const mneme_plugin_v1& plugin, const mneme_host_api& host, uint32_t index, std::string name);
    ~device();
    device(const device&) = delete;
    device& operator=(const device&) = delete;

    const std::string& backend_name() const noexcept { return name_; }
    bool is_host_memory() const noexcept { return plugin_.buffer_wrap_host != nullptr; }

    // `counted` = false leaves the buffer out of allocated_bytes, as wrapped host memory is: a copy
    // of checkpoint weights made in place of their mapping (the plan counts them as mapped ones).
    buffer_ptr alloc(uint64_t bytes, bool counted = true);
    // Bytes of the buffers alloc() handed out that are still alive (wrapped host memory excluded).
    uint64_t allocated_bytes() const noexcept { return allocated_.load(std::memory_order_relaxed); }
    // Device view of host memory the caller keeps alive (zero-copy where the backend allows it,
    // otherwise an upload into a new device buffer).
    buffer_ptr wrap_or_upload(const void* data, uint64_t bytes);
    void upload(mneme_buffer* b, uint64_t offset, const void* src, uint64_t bytes);
    void download(mneme_buffer* b, uint64_t offset, void* dst, uint64_t bytes);  // waits for the queue

    void submit(const std::vector<mneme_op>& ops);
    void sync();
    bool supports(const mneme_op& op);

private:
    friend class buffer;
    [[noreturn]] void fail_call(const char* what, mneme_status st);

    const mneme_plugin_v1& plugin_;
    std::string name_;
    mneme_backend* backend_ = nullptr;
    mneme_queue* queue_ = nullptr;
    std::atomic<uint64_t> allocated_{0};
};

}  // namespace mneme
