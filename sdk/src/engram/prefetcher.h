// Reads for a coming step, issued on the store's own I/O threads as soon as the step's token ids
// are known: one task per row-file block, so a step's misses are read in parallel (the latency of
// one direct read, not the sum) while the layers before the Engram layer run. The I/O threads are
// not the compute pool's: a read that waits on the disk never holds up a parallel_for.
//
// Each block read is claimed by whoever reaches it first, an I/O thread or the gather that needs it.
// A gather therefore never waits on a read still queued behind others; it waits only for one under
// way, or does it itself.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "engram/row-file.h"

namespace boost::asio {
class thread_pool;
}

namespace mneme {

// Reads block `block` of one table into `buf` (block_bytes, page-aligned); throws on failure.
using block_read_fn = std::function<void(int64_t block, uint8_t* buf)>;

// One block read of a step.
class block_job {
public:
    explicit block_job(std::size_t block_bytes) : buf_(block_bytes) {}

    // Does the read unless someone else has taken it (an I/O thread's entry point).
    void run(int64_t block, const block_read_fn& read);
    // Does the read here if no one has started it (or it was dropped), else waits for it; then
    // returns the block's bytes or rethrows the read's error. `waited`: it waited for another thread.
    const uint8_t* get(int64_t block, const block_read_fn& read, bool& waited);
    // Makes a queued read return without reading (its step was superseded).
    void drop();

private:
    enum class state { queued, dropped, running, done };
    bool claim(bool even_dropped);
    void read_into(int64_t block, const block_read_fn& read);

    std::mutex m_;
    std::condition_variable cv_;
    state state_ = state::queued;
    std::exception_ptr error_;
    aligned_buffer buf_;
};

// The reads issued for one table for one step.
struct step_reads {
    std::chrono::steady_clock::time_point issued = std::chrono::steady_clock::now();
    std::unordered_map<int64_t, std::shared_ptr<block_job>> blocks;  // by block index
    block_read_fn read;
};

class prefetcher {
public:
    // `io_threads` 0: nothing is prefetched and gathers read on demand.
    prefetcher(unsigned io_threads, std::size_t n_slots, std::size_t block_bytes);
    ~prefetcher();
    prefetcher(const prefetcher&) = delete;
    prefetcher& operator=(const prefetcher&) = delete;

    bool enabled() const noexcept { return io_ != nullptr; }

    // Queues reads of `blocks` for `slot`, replacing the slot's earlier step nobody took.
    void issue(std::size_t slot, const std::vector<int64_t>& blocks, block_read_fn read);
    // Detaches the slot's step (null when none was issued).
    std::shared_ptr<step_reads> take(std::size_t slot);

    // Reads `blocks` in parallel on the I/O threads (or here, without them) and hands each to `use`
    // on the calling thread, in order. For warming the cache on open.
    void read_all(const std::vector<int64_t>& blocks, const block_read_fn& read,
                  const std::function<void(int64_t block, const uint8_t* bytes)>& use);

private:
    std::shared_ptr<step_reads> post_reads(const std::vector<int64_t>& blocks, block_read_fn read);

    std::size_t block_bytes_;
    std::unique_ptr<boost::asio::thread_pool> io_;
    std::mutex m_;
    std::vector<std::shared_ptr<step_reads>> pending_;
};

}  // namespace mneme
