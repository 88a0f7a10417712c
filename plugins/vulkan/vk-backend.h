// The plugin's handle types: an opened device, a buffer and a queue.
#pragma once

#include <mneme/mneme_plugin.h>

#include <memory>

#include "vk-context.h"
#include "vk-recorder.h"

struct mneme_backend {
    std::unique_ptr<mneme::vk::context> ctx;
};

struct mneme_buffer {
    mneme::vk::gpu_buffer gpu;
};

struct mneme_queue {
    std::unique_ptr<mneme::vk::recorder> rec;
};

namespace mneme::vk {

// Checks an op and records it as one dispatch (throws plugin::failure on bad arguments).
void record_op(context& ctx, recorder& rec, const mneme_op& op);
// Whether record_op implements this op with these dtypes (float32 activations only).
bool supports(const mneme_op& op);

}  // namespace mneme::vk

extern "C" const mneme_plugin_v1* mneme_vulkan_plugin_table(void);
