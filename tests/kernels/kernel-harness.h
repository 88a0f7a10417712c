// Runs single ops on an opened backend: owns buffers, builds mneme_tensor views, reads results.
#pragma once

#include <mneme/mneme_plugin.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

namespace mneme::test {

class backend_fixture {
public:
    explicit backend_fixture(const mneme_plugin_v1* table, unsigned threads = 2);
    ~backend_fixture();

    // A contiguous tensor of the given shape (ne innermost first) holding `bytes`.
    mneme_tensor tensor(mneme_dtype dtype, std::vector<int64_t> ne, const void* bytes = nullptr);
    // The same over host memory the caller keeps alive (buffer_wrap_host), as a model's weights are.
    mneme_tensor wrap(mneme_dtype dtype, std::vector<int64_t> ne, void* bytes);
    // Writes bytes into t's buffer at t's offset plus `at` (buffer_upload).
    void upload(const mneme_tensor& t, uint64_t at, const void* bytes, uint64_t size);
    template <class T>
    mneme_tensor tensor_of(mneme_dtype dtype, std::vector<int64_t> ne, const std::vector<T>& values) {
        return tensor(dtype, std::move(ne), values.data());
    }
    template <class T>
    std::vector<T> read(const mneme_tensor& t, std::size_t count) {
        std::vector<T> out(count);
        std::memcpy(out.data(), table_->buffer_host_ptr(be_, t.buffer), count * sizeof(T));
        return out;
    }
    // Runs one op; returns the status (the plugin's message is in last_error()).
    mneme_status run(mneme_op_type type, mneme_tensor dst, std::vector<mneme_tensor> src, const void* params,
                     uint32_t params_size);
    const char* last_error() const { return table_->last_error(); }

private:
    const mneme_plugin_v1* table_;
    struct host_state;
    std::unique_ptr<host_state> host_;
    mneme_backend* be_ = nullptr;
    mneme_queue* queue_ = nullptr;
    std::vector<mneme_buffer*> buffers_;
};

inline std::vector<double> random_values(std::mt19937_64& rng, std::size_t n, double lo = -1, double hi = 1) {
    std::uniform_real_distribution<double> d(lo, hi);
    std::vector<double> v(n);
    for (auto& x : v) x = d(rng);
    return v;
}

}  // namespace mneme::test
