// Ops submitted in one batch must leave memory exactly as the same ops submitted one at a time. A
// backend may run independent ops side by side (the CPU backend does so for runs of small
// products), but never an op that reads or writes what an earlier op of the batch writes.
#include <catch2/catch.hpp>

#include <cstring>
#include <random>
#include <vector>

#include "plugin-device.h"

namespace bt = mneme::backend_test;

namespace {

constexpr int64_t k_dim = 96, n_dim = 64;

// Byte offsets of the tensors in one buffer, 256-byte aligned (any backend's storage alignment).
struct placement {
    uint64_t end = 0;
    uint64_t take(uint64_t bytes) {
        const uint64_t at = end;
        end += (bytes + 255) / 256 * 256;
        return at;
    }
};

mneme_tensor view(mneme_buffer* b, uint64_t offset, mneme_dtype dtype, int64_t cols, int64_t rows) {
    mneme_tensor t{};
    t.buffer = b;
    t.offset = offset;
    t.dtype = dtype;
    const int64_t es = dtype == MNEME_DTYPE_BF16 ? 2 : 4;
    t.ne[0] = cols;
    t.ne[1] = rows;
    t.ne[2] = t.ne[3] = 1;
    t.nb[0] = es;
    t.nb[1] = es * cols;
    t.nb[2] = t.nb[3] = es * cols * rows;
    return t;
}

mneme_op matmul(const mneme_tensor& dst, const mneme_tensor& x, const mneme_tensor& w, const mneme_op_matmul* p) {
    mneme_op op{};
    op.struct_size = sizeof(op);
    op.type = MNEME_OP_MATMUL;
    op.dst = dst;
    op.src[0] = x;
    op.src[1] = w;
    op.n_src = 2;
    op.params = p;
    op.params_size = sizeof(*p);
    return op;
}

}  // namespace

TEST_CASE("a batch of products leaves memory as the same products run one at a time", "[order]") {
    bt::plugin_device dev(bt::backend_under_test());
    REQUIRE(dev.usable());
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (const int64_t rows : {1, 3}) {
        INFO("activation rows " << rows);
        placement at;
        // Activations (float32) and BF16 weights [n, k] (ne = {k, n}).
        const uint64_t x = at.take(4 * k_dim * rows), v = at.take(4 * n_dim * rows);
        const uint64_t y1 = at.take(4 * n_dim * rows), y2 = at.take(4 * n_dim * rows);
        const uint64_t z = at.take(4 * n_dim * rows), w_out = at.take(4 * k_dim * rows);
        const uint64_t w1 = at.take(2 * n_dim * k_dim), w2 = at.take(2 * n_dim * k_dim);
        const uint64_t w3 = at.take(2 * n_dim * n_dim), w4 = at.take(2 * k_dim * n_dim);
        std::vector<uint8_t> init(at.end);
        for (uint64_t i = 0; i < at.end; i += 4) {
            const float f = u(rng);
            uint32_t bits;
            std::memcpy(&bits, &f, 4);
            if (i >= w1) bits = (bits >> 16) | (bits & 0xffff0000u);  // two BF16 values, both finite
            std::memcpy(init.data() + i, &bits, 4);
        }
        mneme_buffer* together = dev.alloc(at.end);
        mneme_buffer* alone = dev.alloc(at.end);
        dev.upload(together, 0, init.data(), at.end);
        dev.upload(alone, 0, init.data(), at.end);

        const mneme_op_matmul p{1.0, 0, 0};
        const auto ops_on = [&](mneme_buffer* b) {
            const auto act = [&](uint64_t off, int64_t cols) { return view(b, off, MNEME_DTYPE_F32, cols, rows); };
            const auto wt = [&](uint64_t off, int64_t k, int64_t n) { return view(b, off, MNEME_DTYPE_BF16, k, n); };
            return std::vector<mneme_op>{
                matmul(act(y1, n_dim), act(x, k_dim), wt(w1, k_dim, n_dim), &p),      // independent pair
                matmul(act(y2, n_dim), act(x, k_dim), wt(w2, k_dim, n_dim), &p),      //
                matmul(act(x, k_dim), act(v, n_dim), wt(w4, n_dim, k_dim), &p),       // overwrites x, read above
                matmul(act(z, n_dim), act(y1, n_dim), wt(w3, n_dim, n_dim), &p),      // reads y1, written above
                matmul(act(w_out, k_dim), act(y2, n_dim), wt(w4, n_dim, k_dim), &p),  // independent of the last
                matmul(act(y1, n_dim), act(x, k_dim), wt(w1, k_dim, n_dim), &p),      // new x, and y1 read above
                matmul(act(y2, n_dim), act(z, n_dim), wt(w3, n_dim, n_dim), &p),      // y2 read two ops above
            };
        };
        const std::vector<mneme_op> batch = ops_on(together);
        REQUIRE(dev.run(batch) == MNEME_OK);
        for (const mneme_op& op : ops_on(alone)) REQUIRE(dev.run({op}) == MNEME_OK);

        std::vector<uint8_t> got(at.end), want(at.end);
        dev.download(together, 0, got.data(), at.end);
        dev.download(alone, 0, want.data(), at.end);
        CHECK(got == want);
        CHECK(want != init);
        dev.free_buffer(together);
        dev.free_buffer(alone);
        CHECK(dev.take_log().empty());
    }
}
