// Top-k by selection instead of a partial sort. The reference (kernels/cpu/topk.cpp) partial-sorts
// row indices with a comparator that reads two floats and tests NaN for every comparison:
// O(n log k) indirect comparisons per row, a noticeable share of V3.2's prefill at long context
// (one row of n = context scores per query and layer). Here each score becomes an unsigned key
// whose integer order is the comparator's order (larger value first, NaN after every number, -0
// equal to +0), the k-th largest key is found by a histogram of the keys' top bits and a selection
// among the keys in its bucket (linear, and the selection sees a small part of the row), and only
// the k chosen positions are sorted. Ties go to the lower position, as in the reference, so the output
// is the same list in the same order. A causal row's masked tail (all -inf) is left out when k
// positions precede it and none of those chosen is a NaN (which ranks below the tail's -inf).
#include <algorithm>
#include <cstring>
#include <functional>
#include <vector>

#include "fast-kernels.h"

namespace mneme::kernels::fast {
namespace {

constexpr int k_radix_bits = 12;  // 4096 buckets: sign, exponent and 3 mantissa bits; 16 KiB
constexpr int k_radix_shift = 32 - k_radix_bits;

// The k best of keys[0, len) (larger key first, lower position among equals) into out, in order.
void select_row(const uint32_t* keys, int64_t len, int64_t k, std::vector<uint32_t>& histogram,
                std::vector<uint32_t>& work, std::vector<int32_t>& chosen, int32_t* out) {
    // The k-th largest key, by one radix step and a selection among the few keys that share its
    // top bits: a histogram of the keys' top k_radix_bits gives the bucket the k-th key falls in
    // and how many keys lie above that bucket.
    std::fill(histogram.begin(), histogram.end(), 0u);
    for (int64_t i = 0; i < len; ++i) ++histogram[keys[i] >> k_radix_shift];
    std::size_t bucket = histogram.size() - 1;
    int64_t above = 0;
    while (above + static_cast<int64_t>(histogram[bucket]) < k) above += histogram[bucket--];
    work.clear();
    for (int64_t i = 0; i < len; ++i) {
        if ((keys[i] >> k_radix_shift) == bucket) work.push_back(keys[i]);
    }
    const auto need = static_cast<std::ptrdiff_t>(k - above);  // 1 .. bucket's count
    std::nth_element(work.begin(), work.begin() + (need - 1), work.end(), std::greater<uint32_t>());
    const uint32_t kth = work[static_cast<std::size_t>(need - 1)];
    // Everything above the k-th key is chosen, and as many of the keys equal to it as are still
    // needed, lowest positions first.
    for (const uint32_t key : work) above += key > kth;
    int64_t equal_left = k - above;
    chosen.clear();
    for (int64_t i = 0; i < len; ++i) {
        const uint32_t key = keys[i];
        if (key > kth || (key == kth && equal_left-- > 0)) chosen.push_back(static_cast<int32_t>(i));
    }
    std::sort(chosen.begin(), chosen.end(),
              [keys](int32_t a, int32_t b) { return keys[a] != keys[b] ? keys[a] > keys[b] : a < b; });
    std::copy(chosen.begin(), chosen.end(), out);
}

}  // namespace

void topk(const exec_ctx& ex, const float* x, int64_t rows, int64_t n, int64_t stride, int64_t k, int32_t* out) {
    if (k <= 0 || n <= 0) return;
    parallel(ex, static_cast<std::size_t>(rows), 1, [&](std::size_t r0, std::size_t r1) {
        // Kept by each thread from call to call: a decoding step's row at long context is 128 KiB
        // (32K scores), which malloc serves from fresh pages every time, and faulting them in and
        // zeroing them took about two thirds of a call.
        thread_local std::vector<uint32_t> keys, work, histogram;
        thread_local std::vector<int32_t> chosen;
        if (keys.size() < static_cast<std::size_t>(n)) keys.resize(static_cast<std::size_t>(n));
        histogram.resize(std::size_t{1} << k_radix_bits);
        work.reserve(static_cast<std::size_t>(n));
        chosen.reserve(static_cast<std::size_t>(k));
        for (std::size_t r = r0; r < r1; ++r) {
            const float* xr = x + static_cast<int64_t>(r) * stride;
            const int64_t live = active_kernels().order_keys(xr, n, keys.data());
            int32_t* o = out + static_cast<int64_t>(r) * k;
            const int64_t len = live >= k ? live : n;
            select_row(keys.data(), len, k, histogram, work, chosen, o);
            // A NaN chosen from the shortened row ranks below the -inf left out: take the whole row.
            if (len < n && std::any_of(o, o + k, [&](int32_t i) {
                    return keys[static_cast<std::size_t>(i)] == k_nan_order_key;
                })) {
                select_row(keys.data(), n, k, histogram, work, chosen, o);
            }
        }
    });
}

}  // namespace mneme::kernels::fast
