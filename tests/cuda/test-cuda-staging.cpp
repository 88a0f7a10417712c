// The CUDA plugin's pinned upload staging (plugins/cuda/cuda-staging.h) against a simulated
// device: copies and event records queue up in stream order and run only when the test lets the
// "device" progress, reading the staging memory at that moment — so a block reused before its copy
// ran would deliver wrong bytes. Runs without a GPU; the real CUDA calls are covered by the GPU
// tests in test-cuda-plugin.cpp.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <deque>
#include <map>
#include <random>
#include <vector>

#include "cuda-staging.h"

namespace {

class fake_device {
  public:
    using stream_type = int;
    using event_type = int;

    explicit fake_device(std::size_t memory, std::size_t pinned_grants) : memory_(memory), grants_(pinned_grants) {}
    ~fake_device() { CHECK(pinned_.empty()); }

    void* alloc_pinned(std::size_t bytes) {
        if (grants_ == 0) return nullptr;
        --grants_;
        pinned_.push_back(std::vector<uint8_t>(bytes, 0xEE));
        return pinned_.back().data();
    }
    void free_pinned(void* p) noexcept {
        for (auto it = pinned_.begin(); it != pinned_.end(); ++it) {
            if (it->data() == p) {
                pinned_.erase(it);
                return;
            }
        }
        FAIL_CHECK("freeing memory that was not pinned");
    }
    int create_event() { return next_event_++; }
    void destroy_event(int) noexcept {}
    bool completed(int e) const noexcept { return executed_ >= recorded_at_.at(e); }
    void wait(int e) { run_until(recorded_at_.at(e)); }
    void record(int e, int) {
        ops_.push_back({nullptr, nullptr, 0});
        recorded_at_[e] = ++enqueued_;
    }
    void copy_async(void* dst, const void* src, std::size_t bytes, int) {
        auto* d = static_cast<uint8_t*>(dst);
        REQUIRE(d >= memory_.data());
        REQUIRE(d + bytes <= memory_.data() + memory_.size());
        bool staged = false;
        for (const auto& p : pinned_) {
            staged = staged || (static_cast<const uint8_t*>(src) >= p.data() &&
                                static_cast<const uint8_t*>(src) + bytes <= p.data() + p.size());
        }
        REQUIRE(staged);  // the DMA reads pinned memory, never the caller's
        ops_.push_back({d, static_cast<const uint8_t*>(src), bytes});
        ++enqueued_;
    }

    // The device runs its queue up to (and including) operation number n.
    void run_until(uint64_t n) {
        while (executed_ < n) {
            const op o = ops_.front();
            ops_.pop_front();
            if (o.bytes) std::memcpy(o.dst, o.src, o.bytes);
            ++executed_;
        }
    }
    void run_some(std::size_t n) { run_until(std::min<uint64_t>(enqueued_, executed_ + n)); }
    void finish() { run_until(enqueued_); }

    uint8_t* memory() { return memory_.data(); }
    std::size_t pinned_blocks() const { return pinned_.size(); }

  private:
    struct op {
        uint8_t* dst;
        const uint8_t* src;
        std::size_t bytes;  // 0: an event record
    };
    std::vector<uint8_t> memory_;
    std::size_t grants_;
    std::deque<std::vector<uint8_t>> pinned_;
    std::deque<op> ops_;
    std::map<int, uint64_t> recorded_at_;
    uint64_t enqueued_ = 0, executed_ = 0;
    int next_event_ = 1;
};

using ring = mneme::cuda::staging_ring<fake_device>;

}  // namespace

TEST_CASE("staged uploads arrive in order however slowly the device drains them", "[cuda][staging]") {
    const std::size_t block = 256, memory = 4096;
    const int device_speed = GENERATE(0, 1, 3, 1000);  // ops the device runs per upload
    CAPTURE(device_speed);
    fake_device dev(memory, 3);
    std::vector<uint8_t> want(memory, 0);
    std::mt19937 rng(7u + static_cast<unsigned>(device_speed));
    {
        ring r(dev, block, 3);
        std::vector<uint8_t> src;
        uint64_t non_empty = 0;
        for (int i = 0; i < 400; ++i) {
            // Mostly small uploads (many share a block), some larger than a block, some empty.
            const std::size_t size = i % 17 == 0 ? rng() % (3 * block) : i % 29 == 0 ? 0 : 1 + rng() % 40;
            const std::size_t at = rng() % (memory - size + 1);
            src.assign(size, 0);
            for (auto& b : src) b = static_cast<uint8_t>(rng());
            REQUIRE(r.upload(dev.memory() + at, src.data(), size, 0));
            if (size) {
                std::memcpy(want.data() + at, src.data(), size);
                ++non_empty;
            }
            std::fill(src.begin(), src.end(), 0xAB);  // the caller reuses its memory at once
            dev.run_some(static_cast<std::size_t>(device_speed));
        }
        dev.finish();
        CHECK(std::memcmp(dev.memory(), want.data(), memory) == 0);
        CHECK(r.block_count() == 3);
        CHECK(r.stats().staged_uploads == non_empty);
        if (device_speed == 0) CHECK(r.stats().waits > 0);      // the ring came back to busy blocks
        if (device_speed == 1000) CHECK(r.stats().waits == 0);  // a device that keeps up never blocks
    }
    CHECK(dev.pinned_blocks() == 0);  // released with the ring
}

TEST_CASE("an upload larger than the ring streams through it", "[cuda][staging]") {
    fake_device dev(10000, 2);
    std::vector<uint8_t> src(9999);
    for (std::size_t i = 0; i < src.size(); ++i) src[i] = static_cast<uint8_t>(i * 31 + 7);
    ring r(dev, 64, 2);
    REQUIRE(r.upload(dev.memory() + 1, src.data(), src.size(), 0));
    dev.finish();
    CHECK(std::memcmp(dev.memory() + 1, src.data(), src.size()) == 0);
    CHECK(r.stats().staged_bytes == src.size());
}

TEST_CASE("without pinned memory the ring declines and the caller copies synchronously", "[cuda][staging]") {
    fake_device none(64, 0);
    ring r(none, 64, 4);
    const uint8_t byte = 1;
    CHECK_FALSE(r.upload(none.memory(), &byte, 1, 0));
    CHECK_FALSE(r.usable());
    CHECK(r.block_count() == 0);
    CHECK(r.upload(none.memory(), &byte, 0, 0));  // nothing to copy is never a failure

    // A partial grant still stages, with fewer blocks.
    fake_device some(1024, 1);
    ring r1(some, 64, 4);
    std::vector<uint8_t> src(300, 5);
    CHECK(r1.upload(some.memory(), src.data(), src.size(), 0));
    CHECK(r1.block_count() == 1);
    some.finish();
    CHECK(std::memcmp(some.memory(), src.data(), src.size()) == 0);
}
