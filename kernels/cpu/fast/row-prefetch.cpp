// The software prefetch of decode-sized products, decided by timing the products themselves.
//
// Requesting each stream's rows two ahead kept 24 cold 512 KiB FP8 products at 22-26 GB/s against
// 13-14 without on one host (Zen 5) and made a whole decode step 1.2-1.5x slower on another (Zen 4
// under KVM: v3-0.5g 128-151 tokens/s with, 152-271 without, alternated runs), where the hardware
// prefetchers alone keep up better. Which host one runs on is not known from CPUID, so the first
// one-row products of a process try both, alternately, and the faster per byte is kept. Results
// are the same bits either way: only when rows are read changes.
#include "row-prefetch.h"

#include <atomic>

#include "mneme_kernels/cpu-fast.h"

namespace mneme::kernels::fast {
namespace {

constexpr int64_t k_distance_rows = 2;  // rows ahead in each stream, when prefetching
// Products timed per arm before the choice is made (a V3 decode step has ~130 one-row products of
// 64 KiB or more, so a few steps), and the least weight bytes of a timed product: smaller ones are
// short enough for the clock's own cost and jitter to matter.
constexpr uint32_t k_trial_products = 384;
constexpr int64_t k_timed_min_bytes = 64 * 1024;
// A process whose products are all smaller (a tiny model) ends the trial after this many products
// and keeps prefetching.
constexpr uint32_t k_trial_max_products = 16 * k_trial_products;
// Prefetching is kept unless leaving it out is faster by more than this share (it was the only
// behaviour before the trial, and measured ahead or equal on the hosts before this one).
constexpr double k_margin = 0.03;

enum : int { k_undecided = -1, k_arm_off = 0, k_arm_on = 1 };

std::atomic<uint32_t> g_mode{static_cast<uint32_t>(row_prefetch::probe)};
std::atomic<int> g_decided{k_undecided};
std::atomic<uint32_t> g_turn{0};
std::atomic<uint32_t> g_timed[2]{};
std::atomic<int64_t> g_ns[2]{}, g_bytes[2]{};

int decide() {
    if (g_bytes[k_arm_off].load() <= 0 || g_bytes[k_arm_on].load() <= 0) {
        int expected = k_undecided;
        g_decided.compare_exchange_strong(expected, k_arm_on);
        return g_decided.load();
    }
    const double off = static_cast<double>(g_ns[k_arm_off].load()) / static_cast<double>(g_bytes[k_arm_off].load());
    const double on = static_cast<double>(g_ns[k_arm_on].load()) / static_cast<double>(g_bytes[k_arm_on].load());
    int expected = k_undecided;
    g_decided.compare_exchange_strong(expected, off < on * (1.0 - k_margin) ? k_arm_off : k_arm_on);
    return g_decided.load();
}

row_prefetch_plan plan_of(int arm, bool timed = false) {
    return {arm == k_arm_on ? k_distance_rows : 0, timed, arm};
}

// The arm set by set_row_prefetch, or the trial's outcome; undecided while the trial runs.
int settled_arm() {
    switch (static_cast<row_prefetch>(g_mode.load(std::memory_order_relaxed))) {
        case row_prefetch::on:
            return k_arm_on;
        case row_prefetch::off:
            return k_arm_off;
        case row_prefetch::probe:
            break;
    }
    return g_decided.load(std::memory_order_relaxed);
}

}  // namespace

void set_row_prefetch(row_prefetch mode) {
    g_mode.store(static_cast<uint32_t>(mode), std::memory_order_relaxed);
    if (mode == row_prefetch::probe) {  // a new trial
        for (int arm : {k_arm_off, k_arm_on}) {
            g_timed[arm].store(0);
            g_ns[arm].store(0);
            g_bytes[arm].store(0);
        }
        g_turn.store(0);
        g_decided.store(k_undecided);
    }
}

bool row_prefetch_used() {
    const int arm = settled_arm();
    return arm != k_arm_off;
}

row_prefetch_plan row_prefetch_for_one_row(int64_t bytes) {
    const int arm = settled_arm();
    if (arm != k_undecided) return plan_of(arm);
    const uint32_t turn = g_turn.fetch_add(1, std::memory_order_relaxed);
    if ((g_timed[k_arm_off].load() >= k_trial_products && g_timed[k_arm_on].load() >= k_trial_products) ||
        turn >= k_trial_max_products) {
        return plan_of(decide());
    }
    return plan_of(static_cast<int>(turn & 1u), bytes >= k_timed_min_bytes);
}

row_prefetch_plan row_prefetch_current() {
    const int arm = settled_arm();
    return plan_of(arm == k_undecided ? k_arm_on : arm);
}

void row_prefetch_record(const row_prefetch_plan& plan, int64_t nanoseconds, int64_t bytes) {
    if (!plan.timed || bytes <= 0) return;
    g_ns[plan.arm].fetch_add(nanoseconds);
    g_bytes[plan.arm].fetch_add(bytes);
    g_timed[plan.arm].fetch_add(1);
}

}  // namespace mneme::kernels::fast
