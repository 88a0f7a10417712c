// The runtime's worker pool. All CPU parallelism goes through parallel_for so that the host's
// thread count is honoured and no operation creates threads of its own.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>

namespace mneme {

class thread_pool {
public:
    // n_threads counts the calling thread: n_threads - 1 workers are started. 0 = hardware threads.
    explicit thread_pool(unsigned n_threads);
    ~thread_pool();
    thread_pool(const thread_pool&) = delete;
    thread_pool& operator=(const thread_pool&) = delete;

    unsigned size() const noexcept { return n_threads_; }

    // Splits [0, n) into at most size() contiguous ranges of at least `grain` items and runs
    // fn(begin, end) on them, the caller taking the first range. Returns when all are done.
    // Called from inside a worker it runs inline (no nested fan-out, no deadlock).
    void parallel_for(std::size_t n, std::size_t grain, const std::function<void(std::size_t, std::size_t)>& fn);

    // Runs a task on a worker without waiting (used for prefetch and background I/O).
    void post(std::function<void()> task);

private:
    struct impl;
    std::unique_ptr<impl> impl_;
    unsigned n_threads_;
};

}  // namespace mneme
