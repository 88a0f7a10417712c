// The CPU backend's runs of small products (cpu-dispatch.cpp, execute_some): which consecutive ops
// it takes together, and that what they leave in memory is what one op at a time leaves.
#include <catch2/catch.hpp>

#include <cstring>
#include <random>
#include <vector>

#include "cpu-backend.h"
#include "fast-test-support.h"

namespace {

constexpr int64_t k_dim = 96, n_dim = 64;

struct host_memory {
    std::vector<uint8_t> bytes;
    mneme_buffer buffer{};
    explicit host_memory(const std::vector<uint8_t>& init) : bytes(init) {
        buffer = {bytes.data(), bytes.size(), false};
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

}  // namespace

TEST_CASE("the CPU backend runs independent small products together and dependent ones apart", "[fast][matmul]") {
    mneme::test::pooled_exec ex;
    mneme_backend be{nullptr, ex.ctx, {}};
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    const int64_t rows = 2;
    // Float32 activations, then BF16 weights [n, k].
    const uint64_t x = 0, v = x + 4 * k_dim * rows, y1 = v + 4 * n_dim * rows, y2 = y1 + 4 * n_dim * rows;
    const uint64_t z = y2 + 4 * n_dim * rows, w_out = z + 4 * n_dim * rows, w1 = w_out + 4 * k_dim * rows;
    const uint64_t w3 = w1 + 2 * n_dim * k_dim, w4 = w3 + 2 * n_dim * n_dim, end = w4 + 2 * k_dim * n_dim;
    std::vector<uint8_t> init(end);
    for (uint64_t i = 0; i < end; i += 4) {
        const float f = u(rng);
        uint32_t bits;
        std::memcpy(&bits, &f, 4);
        if (i >= w1) bits = (bits >> 16) | (bits & 0xffff0000u);  // two finite BF16 values
        std::memcpy(init.data() + i, &bits, 4);
    }
    host_memory together(init), alone(init);
    const mneme_op_matmul p{1.0, 0, 0};
    const auto ops_on = [&](mneme_buffer* b) {
        const auto op = [&](uint64_t dst, int64_t dn, uint64_t src, int64_t sk, uint64_t w) {
            mneme_op o{};
            o.struct_size = sizeof(o);
            o.type = MNEME_OP_MATMUL;
            o.dst = view(b, dst, MNEME_DTYPE_F32, dn, rows);
            o.src[0] = view(b, src, MNEME_DTYPE_F32, sk, rows);
            o.src[1] = view(b, w, MNEME_DTYPE_BF16, sk, dn);
            o.n_src = 2;
            o.params = &p;
            o.params_size = sizeof(p);
            return o;
        };
        std::vector<mneme_op> ops{
            op(y1, n_dim, x, k_dim, w1),      // run 1: an independent pair
            op(y2, n_dim, x, k_dim, w1),      //
            op(x, k_dim, v, n_dim, w4),       // run 2: overwrites x, which run 1 reads
            op(z, n_dim, y1, n_dim, w3),      //   reads y1, written by run 1
            op(w_out, k_dim, y2, n_dim, w4),  //   reads y2, written by run 1
            op(y1, n_dim, x, k_dim, w1),      // run 3: reads x, written by run 2
            op(y2, n_dim, z, n_dim, w3),      //   reads z, written by run 2
            op(z, n_dim, y1, n_dim, w3),      // run 4: reads y1, written just above
        };
        return ops;
    };
    std::vector<std::size_t> runs;
    const std::vector<mneme_op> batch = ops_on(&together.buffer);
    for (std::size_t i = 0; i < batch.size();) {
        const std::size_t ran = mneme::cpu::execute_some(be, batch.data() + i, batch.size() - i);
        runs.push_back(ran);
        i += ran;
    }
    for (const mneme_op& op : ops_on(&alone.buffer)) mneme::cpu::execute(be, op);
    // (Without a decode kernel for BF16, as on CPUs without AVX2, no product runs on one thread.)
    mneme::kernels::weight_view w;
    w.data = init.data() + w1;
    w.format = mneme::kernels::weight_format::bf16;
    w.n = n_dim;
    w.k = k_dim;
    w.row_bytes = 2 * k_dim;
    if (mneme::kernels::fast::matmul_on_one_thread(rows, w)) {
        CHECK(runs == std::vector<std::size_t>{2, 3, 2, 1});
    } else {
        CHECK(runs == std::vector<std::size_t>(batch.size(), 1));
    }
    CHECK(together.bytes == alone.bytes);
    CHECK(together.bytes != init);

    // A product matmul splits across the pool ends a run; an invalid op is left to execute(),
    // which reports it.
    std::vector<mneme_op> mixed = ops_on(&together.buffer);
    mixed[1].src[0].ne[1] = mixed[1].dst.ne[1] = 17;
    CHECK(mneme::cpu::execute_some(be, mixed.data(), mixed.size()) == 1);
    mixed[3].src[1].ne[0] = n_dim + 1;  // K mismatch
    CHECK(mneme::cpu::execute_some(be, mixed.data() + 2, 2) == 1);
    CHECK_THROWS(mneme::cpu::execute_some(be, mixed.data() + 3, 1));
}
