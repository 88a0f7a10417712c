// Every op case on the backend under test against the CPU reference plugin.
#include <catch2/catch.hpp>
#include <cstdio>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "op-cases.h"

namespace bt = mneme::backend_test;

namespace {

bt::plugin_device& device_under_test() {
    static bt::plugin_device d(bt::backend_under_test());
    return d;
}

bt::plugin_device& reference() {
    static bt::plugin_device d("cpu");
    return d;
}

}  // namespace

namespace {

void run_all(const std::vector<bt::op_case>& cases, bool optional = false) {
    auto& dev = device_under_test();
    auto& ref = reference();
    REQUIRE(dev.usable());
    REQUIRE(ref.usable());
    std::map<std::string, double> worst;  // per op family
    std::size_t ran = 0, unsupported = 0;
    for (const auto& c : cases) {
        const bt::case_result r = bt::run_case(dev, ref, c);
        const auto log = dev.take_log();
        INFO(c.name << ": " << r.message);
        for (const auto& line : log) {
            INFO("logged by the backend: " << line);
            CHECK(false);  // any warning or error (e.g. from the Vulkan validation layer) fails the test
        }
        if (!r.ran) {
            ++unsupported;
            WARN(c.name << ": not supported by " << dev.name());
            continue;
        }
        ++ran;
        CHECK(r.ok);
        const std::string family = c.name.substr(0, c.name.find('/'));
        worst[family] = std::max(worst[family], r.error);
    }
    std::printf("%zu op cases ran on %s, %zu unsupported\n", ran, dev.name().c_str(), unsupported);
    for (const auto& [family, err] : worst) std::printf("  %-16s max relative error %.3g\n", family.c_str(), err);
    // The CPU backend defines every form, the optional ones included.
    if (!optional || dev.name() == "cpu") CHECK(unsupported == 0);
}

}  // namespace

TEST_CASE("every op matches the CPU reference on random shapes", "[ops]") {
    run_all(bt::all_op_cases());
}

TEST_CASE("optional op forms match the CPU reference where supported", "[ops]") {
    run_all(bt::optional_op_cases(), true);
}

TEST_CASE("weights larger than one 128 MiB binding", "[large]") {
    run_all(bt::large_weight_cases());
}

TEST_CASE("supports_op refuses op types it does not know", "[ops]") {
    auto& dev = device_under_test();
    REQUIRE(dev.usable());
    mneme_op op{};
    op.struct_size = sizeof(op);
    op.type = MNEME_OP_RMS_NORM;
    op.dst.dtype = op.src[0].dtype = MNEME_DTYPE_F32;
    op.n_src = 1;
    CHECK(dev.supports(op));
    op.type = static_cast<mneme_op_type>(999);
    CHECK_FALSE(dev.supports(op));
}

TEST_CASE("supports_op refuses a BF16 destination for every op but COPY", "[ops]") {
    // Only COPY may write BF16 (caches narrowed on purpose); any other op asked for it would write
    // float32 results into half the bytes.
    auto& dev = device_under_test();
    REQUIRE(dev.usable());
    for (mneme_op_type t : {MNEME_OP_MATMUL, MNEME_OP_RMS_NORM, MNEME_OP_ROPE, MNEME_OP_SOFTMAX, MNEME_OP_SWIGLU,
                            MNEME_OP_ADD, MNEME_OP_MUL, MNEME_OP_SCALE, MNEME_OP_GET_ROWS, MNEME_OP_INDEXER_SCORES}) {
        mneme_op op{};
        op.struct_size = sizeof(op);
        op.type = t;
        op.dst.dtype = MNEME_DTYPE_BF16;
        op.src[0].dtype = op.src[1].dtype = op.src[2].dtype = MNEME_DTYPE_F32;
        op.n_src = 3;
        CAPTURE(t);
        CHECK_FALSE(dev.supports(op));
    }
}

TEST_CASE("an allocation larger than the device is an error, not a crash", "[ops]") {
    auto& dev = device_under_test();
    REQUIRE(dev.usable());
    CHECK_THROWS(dev.alloc(uint64_t{1} << 44));  // 16 TiB
    const auto log = dev.take_log();
    for (const auto& line : log) INFO("logged by the backend: " << line);
    CHECK(log.empty());
}

namespace {

// A contiguous float32 tensor of `ne` at byte `offset` of b.
mneme_tensor f32_at(mneme_buffer* b, uint64_t offset, std::initializer_list<int64_t> ne) {
    mneme_tensor t{};
    t.buffer = b;
    t.offset = offset;
    t.dtype = MNEME_DTYPE_F32;
    int i = 0;
    for (int64_t n : ne) t.ne[i++] = n;
    for (; i < MNEME_MAX_DIMS; ++i) t.ne[i] = 1;
    t.nb[0] = 4;
    for (i = 1; i < MNEME_MAX_DIMS; ++i) t.nb[i] = t.nb[i - 1] * t.ne[i - 1];
    return t;
}

}  // namespace

TEST_CASE("stream_mix refuses a destination overlapping its streams or its update", "[ops]") {
    // Each element of dst reads the streams and the update at its own position; where dst overlaps
    // them, whether a value was read before or after being overwritten would depend on the backend's
    // order of work, so every backend refuses it.
    auto& dev = device_under_test();
    REQUIRE(dev.usable());
    const int64_t d = 8, n_in = 4, tokens = 2, m = 24;
    mneme_buffer* b = dev.alloc(4096);
    std::vector<float> init(1024);
    for (std::size_t i = 0; i < init.size(); ++i) init[i] = 0.01f * static_cast<float>(i % 97) - 0.4f;
    dev.upload(b, 0, init.data(), init.size() * 4);
    const mneme_tensor x = f32_at(b, 0, {d, n_in, tokens}), c = f32_at(b, 256, {m, tokens});
    const mneme_tensor z = f32_at(b, 448, {d, tokens});
    const mneme_op_stream_mix p{static_cast<uint32_t>(n_in), 1, 0, 4};
    const auto mix_into = [&](uint64_t dst_offset) {
        mneme_op op{};
        op.struct_size = sizeof(op);
        op.type = MNEME_OP_STREAM_MIX;
        op.dst = f32_at(b, dst_offset, {d, 1, tokens});
        op.src[0] = x;
        op.src[1] = c;
        op.src[2] = z;
        op.n_src = 3;
        op.params = &p;
        op.params_size = sizeof(p);
        return dev.run({op});
    };
    CHECK(mix_into(1024) == MNEME_OK);
    CHECK(mix_into(448) != MNEME_OK);  // dst is the update
    CHECK(dev.last_error().find("overlap the update") != std::string::npos);
    CHECK(mix_into(448 + 32) != MNEME_OK);  // dst starts inside the update
    CHECK(dev.last_error().find("overlap the update") != std::string::npos);
    CHECK(mix_into(128) != MNEME_OK);  // dst inside the streams
    CHECK(dev.last_error().find("overlap the streams") != std::string::npos);
    (void)dev.take_log();
    dev.free_buffer(b);
}
