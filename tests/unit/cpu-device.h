// A CPU backend device for unit tests of graph code: the CPU plugin's table used directly (no
// plugin loading), a small worker pool, and a graph_builder in the requested activation type.
#pragma once

#include <mneme/mneme_plugin.h>

#include <cstdlib>
#include <memory>
#include <vector>

#include "core/thread-pool.h"
#include "cpu-backend.h"
#include "graph/device.h"
#include "graph/graph-builder.h"

namespace mneme::test {

class cpu_device {
public:
    explicit cpu_device(mneme_dtype act = MNEME_DTYPE_F64, unsigned threads = 2) : pool_(threads) {
        api_.struct_size = sizeof(api_);
        api_.abi_major = MNEME_PLUGIN_ABI_MAJOR;
        api_.abi_minor = MNEME_PLUGIN_ABI_MINOR;
        api_.host = &pool_;
        api_.log = [](void*, mneme_log_level, const char*) {};
        api_.alloc = [](void*, size_t size, size_t align) {
            return std::aligned_alloc(align, (size + align - 1) / align * align);
        };
        api_.free = [](void*, void* p) { std::free(p); };
        api_.parallel_for = [](void* host, size_t n, size_t grain, mneme_range_fn fn, void* ctx) {
            static_cast<thread_pool*>(host)->parallel_for(n, grain,
                                                          [&](std::size_t b, std::size_t e) { fn(ctx, b, e); });
        };
        api_.n_threads = threads;
        dev_ = std::make_unique<device>(*mneme_cpu_plugin_table(), api_, 0, "cpu");
        g_ = std::make_unique<graph_builder>(*dev_, act);
    }

    graph_builder& g() { return *g_; }
    device& dev() { return *dev_; }

    // A persistent tensor (outside the scratch arena) holding `values`.
    mneme_tensor constant(std::initializer_list<int64_t> ne, const std::vector<double>& values) {
        mneme_tensor shape = make_tensor(nullptr, 0, g_->act(), ne);
        buffer_ptr b = dev_->alloc(tensor_bytes(shape));
        mneme_tensor t = make_tensor(b->raw(), 0, g_->act(), ne);
        owned_.push_back(std::move(b));
        g_->upload(t, values);
        return t;
    }

private:
    thread_pool pool_;
    mneme_host_api api_{};
    std::unique_ptr<device> dev_;
    std::unique_ptr<graph_builder> g_;
    std::vector<buffer_ptr> owned_;
};

}  // namespace mneme::test
