#include "engram/prefetcher.h"

#include <utility>

namespace mneme {

struct prefetcher::job {
    std::mutex m;
    std::condition_variable cv;
    bool claimed = false, done = false;
    clock::time_point issued = clock::now();

    bool claim() {
        std::lock_guard lock(m);
        if (claimed) return false;
        claimed = true;
        return true;
    }
    void finish() {
        {
            std::lock_guard lock(m);
            done = true;
        }
        cv.notify_all();
    }
    void wait() {
        std::unique_lock lock(m);
        cv.wait(lock, [&] { return done; });
    }
};

prefetcher::prefetcher(thread_pool* pool, std::size_t n_slots) : pool_(pool), pending_(n_slots) {}

prefetcher::~prefetcher() {
    // Tasks still queued find their job claimed and return at once; running ones are waited for,
    // so no read outlives the table that issued it.
    for (std::size_t i = 0; i < pending_.size(); ++i) (void)take(i);
}

void prefetcher::issue(std::size_t slot, std::vector<int64_t> rows, load_fn load) {
    if (!pool_ || slot >= pending_.size()) return;
    auto j = std::make_shared<job>();
    std::shared_ptr<job> old;
    {
        std::lock_guard lock(m_);
        old = std::exchange(pending_[slot], j);
    }
    if (old && old->claim()) old->finish();  // superseded before any worker took it
    pool_->post([j, rows = std::move(rows), load = std::move(load)] {
        if (!j->claim()) return;
        try {
            load(rows);
        } catch (...) {
            // The gather reads these rows again and reports the error where it can be handled.
        }
        j->finish();
    });
}

prefetcher::taken prefetcher::take(std::size_t slot) {
    taken t;
    std::shared_ptr<job> j;
    {
        std::lock_guard lock(m_);
        if (slot < pending_.size()) j = std::exchange(pending_[slot], nullptr);
    }
    if (!j) return t;
    const auto now = clock::now();
    t.issued = true;
    t.lead_seconds = std::chrono::duration<double>(now - j->issued).count();
    if (j->claim()) {
        j->finish();
        return t;
    }
    j->wait();
    t.loaded = true;
    t.wait_seconds = std::chrono::duration<double>(clock::now() - now).count();
    return t;
}

}  // namespace mneme
