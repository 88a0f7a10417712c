// Top-k by selection instead of a partial sort. The reference (kernels/cpu/topk.cpp) partial-sorts
// row indices with a comparator that reads two floats and tests NaN for every comparison:
// O(n log k) indirect comparisons per row, a noticeable share of V3.2's prefill at long context
// (one row of n = context scores per query and layer). Here each score becomes an unsigned key
// whose integer order is the comparator's order (larger value first, NaN after every number, -0
// equal to +0), the k-th largest key is found by a histogram of the keys' top bits and a selection
// among the keys in its bucket (linear, and the selection sees a small part of the row), and only
// the k chosen positions are sorted. Ties go to the lower position, as in the reference, so the output
// is the same list in the same order.
#include <algorithm>
#include <cstring>
#include <functional>
#include <vector>

#include "mneme_kernels/cpu-fast.h"

namespace mneme::kernels::fast {
namespace {

constexpr int k_radix_bits = 12;  // 4096 buckets: sign, exponent and 3 mantissa bits; 16 KiB
constexpr int k_radix_shift = 32 - k_radix_bits;

// Order-preserving map of a float to uint32: larger float, larger key; every NaN below -inf; -0 and
// +0 equal, as the reference compares them. Positive: the sign bit set (above every negative).
// Negative: all bits flipped (larger magnitude, smaller key); -inf becomes 0x007fffff, so 0 is free
// for NaN. Branch-free so that the loop over a row vectorises.
inline uint32_t order_key(float v) {
    uint32_t b;
    std::memcpy(&b, &v, 4);
    const uint32_t mag = b & 0x7fffffffu;
    b = mag == 0 ? 0u : b;
    const uint32_t key = (b & 0x80000000u) ? ~b : (b | 0x80000000u);
    return mag > 0x7f800000u ? 0u : key;
}

}  // namespace

void topk(const exec_ctx& ex, const float* x, int64_t rows, int64_t n, int64_t stride, int64_t k, int32_t* out) {
    parallel(ex, static_cast<std::size_t>(rows), 1, [&](std::size_t r0, std::size_t r1) {
        std::vector<uint32_t> keys(static_cast<std::size_t>(n)), work, histogram(std::size_t{1} << k_radix_bits);
        work.reserve(static_cast<std::size_t>(n));
        std::vector<int32_t> chosen;
        chosen.reserve(static_cast<std::size_t>(k));
        for (std::size_t r = r0; r < r1; ++r) {
            const float* xr = x + static_cast<int64_t>(r) * stride;
            for (int64_t i = 0; i < n; ++i) keys[static_cast<std::size_t>(i)] = order_key(xr[i]);
            // The k-th largest key, by one radix step and a selection among the few keys that
            // share its top bits: a histogram of the keys' top k_radix_bits gives the bucket the
            // k-th key falls in and how many keys lie above that bucket.
            std::fill(histogram.begin(), histogram.end(), 0u);
            for (const uint32_t key : keys) ++histogram[key >> k_radix_shift];
            std::size_t bucket = histogram.size() - 1;
            int64_t above = 0;
            while (above + static_cast<int64_t>(histogram[bucket]) < k) above += histogram[bucket--];
            work.clear();
            for (const uint32_t key : keys) {
                if ((key >> k_radix_shift) == bucket) work.push_back(key);
            }
            const auto need = static_cast<std::ptrdiff_t>(k - above);  // 1 .. bucket's count
            std::nth_element(work.begin(), work.begin() + (need - 1), work.end(), std::greater<uint32_t>());
            const uint32_t kth = work[static_cast<std::size_t>(need - 1)];
            // Everything above the k-th key is chosen, and as many of the keys equal to it as are
            // still needed, lowest positions first.
            for (const uint32_t key : work) above += key > kth;
            int64_t equal_left = k - above;
            chosen.clear();
            for (int64_t i = 0; i < n; ++i) {
                const uint32_t key = keys[static_cast<std::size_t>(i)];
                if (key > kth || (key == kth && equal_left-- > 0)) chosen.push_back(static_cast<int32_t>(i));
            }
            std::sort(chosen.begin(), chosen.end(), [&](int32_t a, int32_t b) {
                const uint32_t ka = keys[static_cast<std::size_t>(a)], kb = keys[static_cast<std::size_t>(b)];
                return ka != kb ? ka > kb : a < b;
            });
            std::copy(chosen.begin(), chosen.end(), out + static_cast<int64_t>(r) * k);
        }
    });
}

}  // namespace mneme::kernels::fast
