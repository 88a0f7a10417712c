#include "core/thread-pool.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64) || defined(_M_IX86)
#include <immintrin.h>
#endif

namespace mneme {
namespace {

thread_local bool t_inside_pool = false;

using pool_clock = std::chrono::steady_clock;

// How long an idle thread polls before it sleeps. Long enough to bridge the gaps of a decode step
// (tens of microseconds between graph ops; ~0.1 ms between one step's LM head and the next step's
// first op, where the host reads the logits, samples and records the next graph), short enough that
// an idle process burns nothing. A sleeping worker on a virtual machine is a halted vCPU, woken
// through the hypervisor. With 50 us the workers slept through that gap every step: v3-0.5g decode,
// 2 vCPUs (Zen 4, KVM), runs alternated in both orders, 195 tokens/s on average against 221 with
// 300 us (ABBA blocks; the order alone moved a pair by ~6 %).
constexpr auto k_spin_time = std::chrono::microseconds(300);
// For the first few microseconds the poll only pauses; after that it yields the core between polls,
// so that on an oversubscribed machine the spinner hands its core at once to a thread that wants it
// (often the very one it waits for) instead of holding it for a time slice. On 2 busy vCPUs
// pause-only spinning was often slower than not spinning at all; spin-then-yield was not.
constexpr auto k_pause_time = std::chrono::microseconds(5);

void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64) || defined(_M_IX86)
    _mm_pause();
#elif defined(__aarch64__) && (defined(__GNUC__) || defined(__clang__))
    __asm__ __volatile__("yield");
#endif
}

// Polls ready() for at most k_spin_time; false if it never held.
template <class Ready>
bool spin_until(Ready ready) {
    if (ready()) return true;  // the common case, before paying for a clock read
    const auto start = pool_clock::now();
    bool yielding = false;
    for (unsigned i = 1;; ++i) {
        if (ready()) return true;
        if (yielding) {
            std::this_thread::yield();
        } else {
            cpu_relax();
            if (i % 32 != 0) continue;
        }
        const auto spent = pool_clock::now() - start;
        if (spent >= k_spin_time) return false;
        yielding = spent >= k_pause_time;
    }
}

// Where threads sleep once spinning gave up. The waker makes the condition true with a seq_cst
// operation and then reads `sleepers` (seq_cst): either it sees the sleeper and notifies under the
// mutex, or the sleeper, registered before it re-checks the condition, sees the change. So the
// common case (nobody asleep) costs the waker one load and no system call.
struct parking {
    std::mutex m;
    std::condition_variable cv;
    std::atomic<int> sleepers{0};

    template <class Ready>
    void wait(Ready ready) {
        sleepers.fetch_add(1);
        {
            std::unique_lock lock(m);
            cv.wait(lock, ready);
        }
        sleepers.fetch_sub(1);
    }
    void wake_all() {
        if (sleepers.load() == 0) return;
        { std::lock_guard lock(m); }  // a sleeper between its check and its wait holds m
        cv.notify_all();
    }
};

// The claim word of the call in flight: generation (32 bits) | ranges (16) | next unclaimed range
// (16). A range is claimed by a CAS on the whole word, so a thread holding a stale view can only
// fail, never take a range of a later call; and a successful claim proves the call is still in
// flight (its range is not done), so its fn/n/step may be read.
constexpr uint64_t pack(uint64_t gen, uint64_t parts, uint64_t next) {
    return gen << 32 | parts << 16 | next;
}
constexpr std::size_t k_max_parts = 0xffff;

}  // namespace

struct thread_pool::impl {
    // The call in flight, on one cache line with its claim word. Written only by its caller (who
    // holds `dispatching`) before it publishes `state`, read by claimers after a successful claim.
    alignas(64) const range_fn* fn = nullptr;
    std::size_t n = 0, step = 0;
    uint32_t gen = 0;
    std::atomic<uint32_t> epoch{0};  // bumped on every call, post and stop: what idle workers watch
    std::atomic<uint64_t> state{0};
    std::atomic<bool> dispatching{false};
    std::atomic<bool> stop{false};
    alignas(64) std::atomic<std::size_t> remaining{0};  // ranges of the call not finished yet
    std::mutex error_m;
    std::exception_ptr error;

    parking idle, caller;

    std::mutex tasks_m;
    std::deque<std::function<void()>> tasks;
    std::atomic<std::size_t> n_tasks{0};

    std::vector<std::thread> workers;

    std::optional<std::size_t> claim() {
        uint64_t s = state.load(std::memory_order_acquire);
        for (;;) {
            const uint64_t parts = s >> 16 & 0xffff, next = s & 0xffff;
            if (next >= parts) return std::nullopt;
            if (state.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel, std::memory_order_acquire)) {
                return static_cast<std::size_t>(next);
            }
        }
    }

    void run_range(std::size_t i) {
        const std::size_t b = i * step, e = std::min(n, b + step);
        try {
            (*fn)(b, e);
        } catch (...) {
            std::lock_guard lock(error_m);
            if (!error) error = std::current_exception();
        }
        if (remaining.fetch_sub(1) == 1) caller.wake_all();
    }

    void help() {
        while (const auto i = claim()) run_range(*i);
    }

    bool run_task() {
        if (n_tasks.load(std::memory_order_relaxed) == 0) return false;
        std::function<void()> task;
        {
            std::lock_guard lock(tasks_m);
            if (tasks.empty()) return false;
            task = std::move(tasks.front());
            tasks.pop_front();
            n_tasks.fetch_sub(1, std::memory_order_relaxed);
        }
        try {
            task();
        } catch (...) {
            // Nobody waits for a posted task, so there is no one to hand the error to.
        }
        return true;
    }

    void wake_workers() {
        epoch.fetch_add(1);
        idle.wake_all();
    }

    void worker_main() {
        t_inside_pool = true;
        for (;;) {
            const uint32_t seen = epoch.load();
            help();
            // A task only between calls' ranges: a posted read must not delay a range this worker
            // already holds, and callers never run tasks themselves.
            if (run_task()) continue;
            if (stop.load()) return;
            const auto moved = [&] { return epoch.load() != seen; };
            if (!spin_until(moved)) idle.wait(moved);
        }
    }
};

thread_pool::thread_pool(unsigned n_threads) {
    if (n_threads == 0) n_threads = std::max(1u, std::thread::hardware_concurrency());
    n_threads_ = n_threads;
    impl_ = std::make_unique<impl>();
    const unsigned n_workers = n_threads > 1 ? n_threads - 1 : 1;
    impl_->workers.reserve(n_workers);
    for (unsigned i = 0; i < n_workers; ++i) impl_->workers.emplace_back([p = impl_.get()] { p->worker_main(); });
}

thread_pool::~thread_pool() {
    impl_->stop.store(true);
    impl_->wake_workers();
    for (auto& w : impl_->workers) w.join();
}

void thread_pool::parallel_for(std::size_t n, std::size_t grain, range_fn fn) {
    if (n == 0) return;
    grain = std::max<std::size_t>(grain, 1);
    // A pool of one thread has a worker only for post(): its calls run on the caller alone, as
    // many threads as were asked for.
    std::size_t parts =
        n_threads_ == 1 ? 1
                        : std::min<std::size_t>({n_threads_ * parts_per_thread, (n + grain - 1) / grain, k_max_parts});
    impl& s = *impl_;
    if (parts <= 1 || t_inside_pool || s.dispatching.exchange(true, std::memory_order_acquire)) {
        fn(0, n);
        return;
    }
    const std::size_t step = (n + parts - 1) / parts;
    parts = (n + step - 1) / step;
    s.fn = &fn;
    s.n = n;
    s.step = step;
    s.remaining.store(parts, std::memory_order_relaxed);
    s.state.store(pack(++s.gen, parts, 1), std::memory_order_release);  // range 0 is the caller's
    s.wake_workers();

    const bool was_inside = std::exchange(t_inside_pool, true);
    s.run_range(0);
    s.help();
    t_inside_pool = was_inside;
    // What is left is under way on workers; it is as long as one range at most.
    const auto finished = [&] { return s.remaining.load() == 0; };
    if (!spin_until(finished)) s.caller.wait(finished);

    std::exception_ptr error = std::exchange(s.error, nullptr);
    s.dispatching.store(false, std::memory_order_release);
    if (error) std::rethrow_exception(error);
}

void thread_pool::post(std::function<void()> task) {
    {
        std::lock_guard lock(impl_->tasks_m);
        impl_->tasks.push_back(std::move(task));
        impl_->n_tasks.fetch_add(1, std::memory_order_relaxed);
    }
    impl_->wake_workers();
}

}  // namespace mneme
