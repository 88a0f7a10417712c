// Reads for a coming step, posted to the runtime's thread pool as soon as the step's token ids are
// known. Each job is claimed by whoever reaches it first: the pool worker, or the gather that needs
// the rows. A gather therefore never waits on a task still queued behind others (no deadlock when
// gathers themselves run on pool workers); it waits only for a read already under way.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "core/thread-pool.h"

namespace mneme {

class prefetcher {
public:
    using clock = std::chrono::steady_clock;
    using load_fn = std::function<void(const std::vector<int64_t>& rows)>;

    // `pool` may be null: then nothing is prefetched and gathers read on demand.
    prefetcher(thread_pool* pool, std::size_t n_slots);
    ~prefetcher();
    prefetcher(const prefetcher&) = delete;
    prefetcher& operator=(const prefetcher&) = delete;

    // Posts load(rows) for `slot`, replacing a job of that slot nobody has taken.
    void issue(std::size_t slot, std::vector<int64_t> rows, load_fn load);

    struct taken {
        bool issued = false;     // a prefetch was issued for this slot
        bool loaded = false;     // and the worker did (or finished) the reads
        double lead_seconds = 0; // from issue to take
        double wait_seconds = 0; // waiting for a read under way
    };
    // Detaches the slot's job: claims it when no worker has (the caller then reads on demand), else
    // waits for the worker to finish.
    taken take(std::size_t slot);

private:
    struct job;
    thread_pool* pool_;
    std::mutex m_;
    std::vector<std::shared_ptr<job>> pending_;
};

}  // namespace mneme
