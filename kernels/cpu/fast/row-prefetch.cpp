// The software prefetch of decode-sized products, decided by timing the products themselves.
//
// Requesting each stream's rows two ahead kept 24 cold 512 KiB FP8 products at 22-26 GB/s against
// 13-14 without on one host (Zen 5) and made a whole decode step 1.2-1.5x slower on another (Zen 4
// under KVM: v3-0.5g 128-151 tokens/s with, 152-271 without, alternated runs), where the hardware
// prefetchers alone keep up better. Which host one runs on is not known from CPUID, so the first
// one-row products of a process try both and the faster per byte (the median product's) is kept.
// Results are the same bits either way: only when rows are read changes.
//
// The answer differs with a product's size (on the Zen 4 host the 32 MiB bf16 LM head ran at 17.6
// GB/s with the prefetch and 27.2 without, 512 KiB FP8 experts at 35.8 and 39.9), so products are
// sorted into size classes, each alternating on its own and decided on its own where it has been
// timed enough. A single alternation over all products was biased: a decode step has a fixed,
// even number of timed products, so each product of the step (the LM head among them) always fell
// on the same arm, and the arms compared different mixes of products.
#include "row-prefetch.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include "mneme_kernels/cpu-fast.h"

namespace mneme::kernels::fast {
namespace {

constexpr int64_t k_distance_rows = 2;  // rows ahead in each stream, when prefetching
// Products timed per arm, over all classes, before the choice is made (a V3 decode step has ~130
// one-row products of 64 KiB or more, so a few steps), and the least weight bytes of a timed
// product: smaller ones are short enough for the clock's own cost and jitter to matter.
constexpr uint32_t k_trial_products = 384;
constexpr int64_t k_timed_min_bytes = 64 * 1024;
// Size classes by factors of 4 from k_timed_min_bytes (class 0: the untimed products below it,
// which follow the overall choice); the last is open-ended.
constexpr int k_classes = 6;
// Timed products a class needs on each arm for a choice of its own; the trial waits for classes
// that have started to reach it (the LM head comes once a decode step), up to a limit. A class's
// rate per arm is the median of its first k_kept_rates products' (ns per byte): a sum was thrown by
// one slow product among four (a 32K-token V3.2 run kept prefetching its LM head, at 17.5 GB/s).
constexpr uint32_t k_class_products = 8;
constexpr uint32_t k_kept_rates = 64;
// A process whose products are all smaller (a tiny model), or whose rare sizes never reach
// k_class_products, ends the trial after this many products.
constexpr uint32_t k_trial_max_products = 16 * k_trial_products;
// Prefetching is kept unless leaving it out is faster by more than this share (it was the only
// behaviour before the trial, and measured ahead or equal on the hosts before this one).
constexpr double k_margin = 0.03;

enum : int { k_undecided = -1, k_arm_off = 0, k_arm_on = 1 };

std::atomic<uint32_t> g_mode{static_cast<uint32_t>(row_prefetch::probe)};
std::atomic<bool> g_settled{false};
std::atomic<int> g_choice[k_classes];  // per size class, valid once g_settled
std::atomic<uint32_t> g_turns{0};
std::atomic<uint32_t> g_class_turn[k_classes];
std::atomic<uint32_t> g_timed[2][k_classes];
std::atomic<int64_t> g_bytes[2][k_classes];
std::atomic<float> g_rates[2][k_classes][k_kept_rates];  // ns per byte, the first g_timed of them
std::mutex g_deciding;

int size_class(int64_t bytes) {
    int c = 0;
    for (int64_t limit = k_timed_min_bytes; c + 1 < k_classes && bytes >= limit; limit *= 4) ++c;
    return c;
}

double per_byte(int arm, int c) {
    const uint32_t n = std::min(g_timed[arm][c].load(), k_kept_rates);
    std::vector<float> r(n);
    for (uint32_t i = 0; i < n; ++i) r[i] = g_rates[arm][c][i].load(std::memory_order_relaxed);
    std::nth_element(r.begin(), r.begin() + n / 2, r.end());
    return r[n / 2];
}

int faster(double off, double on) {
    return off < on * (1.0 - k_margin) ? k_arm_off : k_arm_on;
}

bool trial_complete() {
    uint32_t timed[2] = {0, 0};
    for (int c = 1; c < k_classes; ++c) {
        const uint32_t off = g_timed[k_arm_off][c].load(), on = g_timed[k_arm_on][c].load();
        if (off + on > 0 && (off < k_class_products || on < k_class_products)) return false;
        timed[k_arm_off] += off;
        timed[k_arm_on] += on;
    }
    return timed[k_arm_off] >= k_trial_products && timed[k_arm_on] >= k_trial_products;
}

// Each class with k_class_products on both arms takes its own faster arm; the rest, and the
// untimed class 0, take the faster overall, each class's rates weighted by its bytes (so that the
// arms are compared on the same mix of products).
void settle() {
    const std::lock_guard<std::mutex> lock(g_deciding);
    if (g_settled.load()) return;
    double total[2] = {0.0, 0.0};
    for (int c = 1; c < k_classes; ++c) {
        if (g_timed[k_arm_off][c].load() == 0 || g_timed[k_arm_on][c].load() == 0) continue;
        const double bytes = static_cast<double>(g_bytes[k_arm_off][c].load() + g_bytes[k_arm_on][c].load());
        for (int arm : {k_arm_off, k_arm_on}) total[arm] += bytes * per_byte(arm, c);
    }
    const int overall = total[k_arm_on] > 0.0 ? faster(total[k_arm_off], total[k_arm_on]) : k_arm_on;
    for (int c = 0; c < k_classes; ++c) {
        const bool own = c > 0 && g_timed[k_arm_off][c].load() >= k_class_products &&
                         g_timed[k_arm_on][c].load() >= k_class_products;
        g_choice[c].store(own ? faster(per_byte(k_arm_off, c), per_byte(k_arm_on, c)) : overall);
    }
    g_settled.store(true);
}

row_prefetch_plan plan_of(int arm, int c, bool timed = false) {
    return {arm == k_arm_on ? k_distance_rows : 0, timed, arm, c};
}

// The arm set by set_row_prefetch, or the trial's outcome for class c; undecided while it runs.
int settled_arm(int c) {
    switch (static_cast<row_prefetch>(g_mode.load(std::memory_order_relaxed))) {
        case row_prefetch::on:
            return k_arm_on;
        case row_prefetch::off:
            return k_arm_off;
        case row_prefetch::probe:
            break;
    }
    return g_settled.load(std::memory_order_acquire) ? g_choice[c].load(std::memory_order_relaxed) : k_undecided;
}

}  // namespace

void set_row_prefetch(row_prefetch mode) {
    g_mode.store(static_cast<uint32_t>(mode), std::memory_order_relaxed);
    if (mode == row_prefetch::probe) {  // a new trial
        const std::lock_guard<std::mutex> lock(g_deciding);
        g_settled.store(false);
        g_turns.store(0);
        for (int c = 0; c < k_classes; ++c) {
            g_class_turn[c].store(0);
            for (int arm : {k_arm_off, k_arm_on}) {
                g_timed[arm][c].store(0);
                g_bytes[arm][c].store(0);
            }
        }
    }
}

bool row_prefetch_used(int64_t weight_bytes) {
    return settled_arm(size_class(weight_bytes)) != k_arm_off;
}

std::string row_prefetch_summary() {
    switch (static_cast<row_prefetch>(g_mode.load())) {
        case row_prefetch::on:
            return "yes (set)";
        case row_prefetch::off:
            return "no (set)";
        case row_prefetch::probe:
            break;
    }
    if (!g_settled.load()) return "yes (trial not finished)";
    std::string s;
    for (int c = 0; c < k_classes; ++c) {
        if (!s.empty()) s += ", ";
        s += c == 0 ? "<64K " : "";
        if (c > 0) {
            const int64_t from_kib = (k_timed_min_bytes >> 10) << (2 * (c - 1));
            s += from_kib >= 1024 ? ">=" + std::to_string(from_kib >> 10) + "M "
                                  : ">=" + std::to_string(from_kib) + "K ";
        }
        s += g_choice[c].load() == k_arm_on ? "yes" : "no";
    }
    return s;
}

row_prefetch_plan row_prefetch_for_one_row(int64_t bytes) {
    const int c = size_class(bytes);
    const int arm = settled_arm(c);
    if (arm != k_undecided) return plan_of(arm, c);
    const uint32_t turn = g_turns.fetch_add(1, std::memory_order_relaxed);
    if (turn >= k_trial_max_products || (turn % 64 == 0 && trial_complete())) {
        settle();
        return plan_of(settled_arm(c), c);
    }
    // The arm is the top bit of the class's turn times the golden ratio (Fibonacci hashing): about
    // as many of each, and a product that recurs every P turns of its class meets both arms, where
    // plain alternation would give it the same arm whenever P is even.
    const uint32_t class_turn = g_class_turn[c].fetch_add(1, std::memory_order_relaxed);
    return plan_of(static_cast<int>((class_turn * 0x9E3779B9u) >> 31), c, c > 0);
}

row_prefetch_plan row_prefetch_current(int64_t bytes) {
    const int c = size_class(bytes);
    const int arm = settled_arm(c);
    return plan_of(arm == k_undecided ? k_arm_on : arm, c);
}

void row_prefetch_record(const row_prefetch_plan& plan, int64_t nanoseconds, int64_t bytes) {
    if (!plan.timed || bytes <= 0) return;
    const int arm = plan.arm, c = plan.size_class;
    g_bytes[arm][c].fetch_add(bytes);
    const uint32_t slot = g_timed[arm][c].fetch_add(1);
    if (slot < k_kept_rates) {
        g_rates[arm][c][slot].store(static_cast<float>(static_cast<double>(nanoseconds) / static_cast<double>(bytes)),
                                    std::memory_order_relaxed);
    }
}

}  // namespace mneme::kernels::fast
