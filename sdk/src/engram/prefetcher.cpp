#include "engram/prefetcher.h"

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <utility>

namespace mneme {

bool block_job::claim(bool even_dropped) {
    std::lock_guard lock(m_);
    if (state_ == state::queued || (even_dropped && state_ == state::dropped)) {
        state_ = state::running;
        return true;
    }
    return false;
}

void block_job::read_into(int64_t block, const block_read_fn& read) {
    std::exception_ptr err;
    try {
        read(block, buf_.data());
    } catch (...) {
        err = std::current_exception();
    }
    {
        std::lock_guard lock(m_);
        error_ = err;
        state_ = state::done;
    }
    cv_.notify_all();
}

void block_job::run(int64_t block, const block_read_fn& read) {
    if (claim(false)) read_into(block, read);
}

const uint8_t* block_job::get(int64_t block, const block_read_fn& read, bool& waited) {
    waited = false;
    if (claim(true)) {
        read_into(block, read);
    } else {
        std::unique_lock lock(m_);
        if (state_ != state::done) {
            waited = true;
            cv_.wait(lock, [&] { return state_ == state::done; });
        }
    }
    std::lock_guard lock(m_);
    if (error_) std::rethrow_exception(error_);
    return buf_.data();
}

void block_job::drop() {
    std::lock_guard lock(m_);
    if (state_ == state::queued) state_ = state::dropped;
}

prefetcher::prefetcher(unsigned io_threads, std::size_t n_slots, std::size_t block_bytes)
    : block_bytes_(block_bytes), pending_(n_slots) {
    if (io_threads > 0) io_ = std::make_unique<boost::asio::thread_pool>(io_threads);
}

prefetcher::~prefetcher() {
    // Queued reads find their job dropped and return at once; running ones finish before join
    // returns, so no read outlives the table that issued it.
    for (auto& p : pending_) {
        if (!p) continue;
        for (auto& [b, j] : p->blocks) j->drop();
    }
    if (io_) io_->join();
}

std::shared_ptr<step_reads> prefetcher::post_reads(const std::vector<int64_t>& blocks, block_read_fn read) {
    auto step = std::make_shared<step_reads>();
    step->read = std::move(read);
    for (int64_t b : blocks) {
        auto [it, fresh] = step->blocks.try_emplace(b, nullptr);
        if (!fresh) continue;
        it->second = std::make_shared<block_job>(block_bytes_);
        if (io_) {
            // The task holds the step (and with it the read function) until it has run.
            boost::asio::post(*io_, [step, b, job = it->second] { job->run(b, step->read); });
        }
    }
    return step;
}

void prefetcher::issue(std::size_t slot, const std::vector<int64_t>& blocks, block_read_fn read) {
    if (!io_ || slot >= pending_.size()) return;
    auto step = post_reads(blocks, std::move(read));
    std::shared_ptr<step_reads> old;
    {
        std::lock_guard lock(m_);
        old = std::exchange(pending_[slot], std::move(step));
    }
    if (old) {
        for (auto& [b, j] : old->blocks) j->drop();
    }
}

std::shared_ptr<step_reads> prefetcher::take(std::size_t slot) {
    std::lock_guard lock(m_);
    return slot < pending_.size() ? std::exchange(pending_[slot], nullptr) : nullptr;
}

void prefetcher::read_all(const std::vector<int64_t>& blocks, const block_read_fn& read,
                          const std::function<void(int64_t, const uint8_t*)>& use) {
    const auto step = post_reads(blocks, read);
    for (int64_t b : blocks) {
        bool waited = false;
        use(b, step->blocks.at(b)->get(b, step->read, waited));
    }
}

}  // namespace mneme
