// A STREAM-like memory bandwidth probe: copy, triad and a read-only sweep over arrays far larger
// than the last-level cache, split over the runtime's thread pool (the same threads and count the
// model runs with), so decode speed can be compared with what this machine can stream right now.
#pragma once

#include <cstddef>

namespace mneme {
class thread_pool;
}

namespace mneme_cli::bench {

struct bandwidth_result {
    // Best of the repetitions, in GB/s (1e9 bytes). Bytes counted as STREAM does: copy moves 2
    // arrays, triad 3, read 1; write-allocate traffic is not counted.
    double copy_gbs = 0, triad_gbs = 0, read_gbs = 0;
    double triad_median_gbs = 0;
    // The highest of the three: the roofline decode is compared with (decode mostly reads).
    double best_gbs() const;
};

// Twice the last-level cache the OS reports, at least 128 MiB and at most 1 GiB: arrays that
// cannot stay in the cache (virtual machines on large servers report L3s of hundreds of MiB).
std::size_t default_array_bytes();

bandwidth_result measure_bandwidth(mneme::thread_pool& pool, std::size_t bytes_per_array = default_array_bytes(),
                                   int reps = 5);

}  // namespace mneme_cli::bench
