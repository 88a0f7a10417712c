// How kernels reach the worker pool: a plain function pointer pair (the plugin host API's
// parallel_for), so kernels stay independent of the runtime and testable on their own.
#pragma once

#include <cstddef>

namespace mneme::kernels {

struct exec_ctx {
    void (*parallel_for)(void* host, std::size_t n, std::size_t grain, void (*fn)(void*, std::size_t, std::size_t),
                         void* ctx) = nullptr;
    void* host = nullptr;
};

// Runs f(begin, end) over [0, n) on the pool (serially when no pool is attached).
template <class F>
void parallel(const exec_ctx& ex, std::size_t n, std::size_t grain, F&& f) {
    if (!ex.parallel_for || n <= grain) {
        if (n) f(std::size_t{0}, n);
        return;
    }
    auto trampoline = [](void* c, std::size_t b, std::size_t e) { (*static_cast<F*>(c))(b, e); };
    ex.parallel_for(ex.host, n, grain, trampoline, static_cast<void*>(&f));
}

}  // namespace mneme::kernels
