// Scratch buffers passed from ended sessions to new ones (scratch_spares): a new arena reuses the
// memory of an ended one instead of mapping fresh pages, and the spares never hold more than one
// arena's worth, so the memory planner's one-session scratch term still bounds them.
#include <catch2/catch.hpp>

#include <optional>
#include <thread>
#include <vector>

#include "cpu-device.h"
#include "graph/scratch.h"

namespace {

constexpr uint64_t k_mib = 1 << 20;

// A float32 tensor of `bytes` bytes.
mneme_tensor take_bytes(mneme::scratch_arena& a, uint64_t bytes) {
    return a.alloc(MNEME_DTYPE_F32, {static_cast<int64_t>(bytes / 4)});
}

}  // namespace

TEST_CASE("a new arena takes the buffer an ended arena left, without allocating", "[scratch]") {
    mneme::test::cpu_device dev(MNEME_DTYPE_F32);
    mneme::scratch_spares spares;
    mneme_buffer* first = nullptr;
    {
        mneme::scratch_arena a(dev.dev(), &spares);
        first = take_bytes(a, 3 * k_mib).buffer;
        CHECK(spares.bytes() == 0);
    }
    const uint64_t held = spares.bytes();
    CHECK(held >= 3 * k_mib);
    const uint64_t allocated = dev.dev().allocated_bytes();
    CHECK(allocated == held);  // the spare stays allocated (and counted) while it waits

    mneme::scratch_arena b(dev.dev(), &spares);
    const mneme_tensor t = take_bytes(b, 64);
    CHECK(t.buffer == first);
    CHECK(t.offset == 0);
    CHECK(spares.bytes() == 0);
    CHECK(dev.dev().allocated_bytes() == allocated);
}

TEST_CASE("a spare too small for the first tensor stays a spare and the arena allocates", "[scratch]") {
    mneme::test::cpu_device dev(MNEME_DTYPE_F32);
    mneme::scratch_spares spares;
    {
        mneme::scratch_arena a(dev.dev(), &spares);
        take_bytes(a, k_mib);
    }
    const uint64_t held = spares.bytes();
    mneme::scratch_arena b(dev.dev(), &spares);
    take_bytes(b, 4 * k_mib);
    CHECK(spares.bytes() == held);
    CHECK(dev.dev().allocated_bytes() == held + b.capacity());
}

TEST_CASE("spares keep at most the largest amount one arena gave back", "[scratch]") {
    mneme::test::cpu_device dev(MNEME_DTYPE_F32);
    mneme::scratch_spares spares;
    std::optional<mneme::scratch_arena> big, small;
    big.emplace(dev.dev(), &spares);
    small.emplace(dev.dev(), &spares);
    take_bytes(*big, 8 * k_mib);
    take_bytes(*small, k_mib);
    const uint64_t big_bytes = big->capacity(), small_bytes = small->capacity();
    REQUIRE(small_bytes < big_bytes);

    // The big one ends first, then the small one: keeping both would be more than one arena's worth.
    big.reset();
    small.reset();
    CHECK(spares.bytes() == big_bytes);
    CHECK(dev.dev().allocated_bytes() == big_bytes);

    // An arena that spilled into several chunks gives them all back; they fit in one arena's worth.
    {
        mneme::scratch_arena a(dev.dev(), &spares);
        take_bytes(a, big_bytes);  // the spare (exactly this size) takes it whole
        take_bytes(a, 2 * k_mib);  // a second chunk
        CHECK(a.capacity() > big_bytes);
    }
    const uint64_t after = spares.bytes();
    CHECK(after > big_bytes);
    CHECK(dev.dev().allocated_bytes() == after);
}

TEST_CASE("arenas end and start on several threads at once", "[scratch][threads]") {
    mneme::test::cpu_device dev(MNEME_DTYPE_F32);
    mneme::scratch_spares spares;
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 50; ++i) {
                mneme::scratch_arena a(dev.dev(), &spares);
                const mneme_tensor x = take_bytes(a, static_cast<uint64_t>(1 + (t + i) % 3) * k_mib);
                CHECK(x.buffer != nullptr);
            }
        });
    }
    for (auto& th : threads) th.join();
    // Every buffer is either a spare or freed: no arena is alive.
    CHECK(dev.dev().allocated_bytes() == spares.bytes());
    CHECK(spares.bytes() <= 3 * k_mib);  // the most one arena gave back
}
