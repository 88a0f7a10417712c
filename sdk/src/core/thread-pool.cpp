#include "core/thread-pool.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <exception>
#include <latch>
#include <mutex>
#include <thread>
#include <vector>

namespace mneme {
namespace {
thread_local bool t_inside_pool = false;
}

struct thread_pool::impl {
    explicit impl(unsigned workers) : pool(workers == 0 ? 1 : workers) {}
    boost::asio::thread_pool pool;
};

thread_pool::thread_pool(unsigned n_threads) {
    if (n_threads == 0) n_threads = std::max(1u, std::thread::hardware_concurrency());
    n_threads_ = n_threads;
    impl_ = std::make_unique<impl>(n_threads > 1 ? n_threads - 1 : 1);
}

thread_pool::~thread_pool() {
    impl_->pool.join();
}

void thread_pool::parallel_for(std::size_t n, std::size_t grain,
                               const std::function<void(std::size_t, std::size_t)>& fn) {
    if (n == 0) return;
    grain = std::max<std::size_t>(grain, 1);
    std::size_t parts = std::min<std::size_t>(n_threads_, (n + grain - 1) / grain);
    if (parts <= 1 || t_inside_pool) {
        fn(0, n);
        return;
    }
    const std::size_t step = (n + parts - 1) / parts;
    parts = (n + step - 1) / step;
    std::latch done(static_cast<std::ptrdiff_t>(parts - 1));
    std::exception_ptr first_error;
    std::mutex error_mutex;
    for (std::size_t p = 1; p < parts; ++p) {
        const std::size_t b = p * step, e = std::min(n, b + step);
        boost::asio::post(impl_->pool, [&, b, e] {
            t_inside_pool = true;
            try {
                fn(b, e);
            } catch (...) {
                std::lock_guard lock(error_mutex);
                if (!first_error) first_error = std::current_exception();
            }
            t_inside_pool = false;
            done.count_down();
        });
    }
    const bool was_inside = t_inside_pool;
    t_inside_pool = true;
    try {
        fn(0, std::min(n, step));
    } catch (...) {
        std::lock_guard lock(error_mutex);
        if (!first_error) first_error = std::current_exception();
    }
    t_inside_pool = was_inside;
    done.wait();
    if (first_error) std::rethrow_exception(first_error);
}

void thread_pool::post(std::function<void()> task) {
    boost::asio::post(impl_->pool, [t = std::move(task)] {
        t_inside_pool = true;
        t();
        t_inside_pool = false;
    });
}

}  // namespace mneme
