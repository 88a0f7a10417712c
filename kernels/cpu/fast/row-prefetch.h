// Whether decode-sized products request weight rows ahead of the kernel (software prefetch), and
// the trial that decides it on the machine at hand (see set_row_prefetch in cpu-fast.h).
#pragma once

#include <cstdint>

namespace mneme::kernels::fast {

// What one product does: prefetch `rows` rows ahead in each stream (0: none), and whether its time
// is to be recorded for the trial (row_prefetch_record) under `arm`.
struct row_prefetch_plan {
    int64_t rows = 0;
    bool timed = false;
    int arm = 0;
};

// The plan for a one-row product of `bytes` weight bytes: while the trial runs, calls alternate
// between prefetching and not, and the larger ones are timed.
row_prefetch_plan row_prefetch_for_one_row(int64_t bytes);
// The plan for any other decode-sized product: the trial's outcome, prefetching until it has one.
row_prefetch_plan row_prefetch_current();
void row_prefetch_record(const row_prefetch_plan& plan, int64_t nanoseconds, int64_t bytes);

}  // namespace mneme::kernels::fast
