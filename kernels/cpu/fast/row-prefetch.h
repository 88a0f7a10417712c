// Whether decode-sized products request weight rows ahead of the kernel (software prefetch), and
// the trial that decides it on the machine at hand (see set_row_prefetch in cpu-fast.h).
#pragma once

#include <cstdint>

namespace mneme::kernels::fast {

// What one product does: prefetch `rows` rows ahead in each stream (0: none), and whether its time
// is to be recorded for the trial (row_prefetch_record) under `arm` and size class `size_class`.
struct row_prefetch_plan {
    int64_t rows = 0;
    bool timed = false;
    int arm = 0;
    int size_class = 0;
};

// The plan for a one-row product of `bytes` weight bytes: while the trial runs, the products of
// each size class alternate between prefetching and not, and the larger ones are timed.
row_prefetch_plan row_prefetch_for_one_row(int64_t bytes);
// The plan for any other decode-sized product of `bytes` weight bytes: the trial's outcome for its
// size, prefetching until there is one.
row_prefetch_plan row_prefetch_current(int64_t bytes);
void row_prefetch_record(const row_prefetch_plan& plan, int64_t nanoseconds, int64_t bytes);

}  // namespace mneme::kernels::fast
