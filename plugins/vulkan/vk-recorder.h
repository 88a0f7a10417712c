// A plugin queue: dispatches recorded into one command buffer with a barrier only where a
// dispatch depends on an earlier one (read-after-write, write-after-read, write-after-write on
// overlapping bytes), submitted and waited for (with a timeout) on flush.
#pragma once

#include <array>
#include <span>
#include <vector>

#include "vk-context.h"

namespace mneme::vk {

// One storage-buffer binding of a dispatch. The descriptor covers [offset, offset + range);
// the shader addresses bytes relative to `offset`; [lo, hi) are the bytes the op really touches.
struct binding {
    VkBuffer buffer = VK_NULL_HANDLE;
    uint64_t offset = 0, range = 0;
    uint64_t lo = 0, hi = 0;
    bool write = false;
};

constexpr uint32_t k_slots = 7;          // dst, src0..src5
constexpr uint32_t k_param_words = 128;  // header 72 words + op words
constexpr uint32_t k_op_word0 = 72;

class recorder {
  public:
    explicit recorder(context& ctx);
    ~recorder();
    recorder(const recorder&) = delete;
    recorder& operator=(const recorder&) = delete;

    // `params` is the whole parameter block (k_param_words); word 0 must hold `items`.
    void dispatch(shader s, const std::array<binding, k_slots>& slots, std::span<const uint32_t> params,
                  uint64_t items);
    // Submits what was recorded and waits for it.
    void flush();

  private:
    void release() noexcept;
    void begin();
    void barrier_if_dependent(const std::array<binding, k_slots>& slots);

    struct span_use {
        VkBuffer buffer;
        uint64_t lo, hi;
    };

    context& ctx_;
    VkCommandPool pool_ = VK_NULL_HANDLE;
    VkCommandBuffer cmd_ = VK_NULL_HANDLE;
    VkFence fence_ = VK_NULL_HANDLE;
    VkDescriptorPool descriptors_ = VK_NULL_HANDLE;
    gpu_buffer params_;
    uint32_t param_stride_ = 0;
    uint32_t used_ = 0;  // dispatches in the open command buffer
    bool recording_ = false;
    std::vector<span_use> reads_, writes_;  // since the last barrier
};

}  // namespace mneme::vk
