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
    mneme_buffer buffer;
    explicit host_memory(const std::vector<uint8_t>& init) : bytes(init), buffer{bytes.data(), bytes.size(), false} {}
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

// Float32 activations and BF16 weights laid out one after another in one host buffer.
struct product_layout {
    std::vector<uint8_t> init;
    uint64_t end = 0;
    uint64_t place(uint64_t bytes) {
        const uint64_t at = end;
        end += (bytes + 63) / 64 * 64;
        return at;
    }
    void fill(std::mt19937& rng) {
        std::uniform_real_distribution<float> u(-1.0f, 1.0f);
        init.resize(end);
        for (uint64_t i = 0; i < end; i += 4) {
            const float f = u(rng);
            uint32_t bits;
            std::memcpy(&bits, &f, 4);
            bits = (bits >> 16) | (bits & 0xffff0000u);  // two finite BF16 values, or one float32
            std::memcpy(init.data() + i, &bits, 4);
        }
    }
};

mneme_op matmul_op(mneme_buffer* b, const mneme_op_matmul& p, int64_t rows, uint64_t dst, int64_t n, uint64_t src,
                   int64_t k, uint64_t w) {
    mneme_op o{};
    o.struct_size = sizeof(o);
    o.type = MNEME_OP_MATMUL;
    o.dst = view(b, dst, MNEME_DTYPE_F32, n, rows);
    o.src[0] = view(b, src, MNEME_DTYPE_F32, k, rows);
    o.src[1] = view(b, w, MNEME_DTYPE_BF16, k, n);
    o.n_src = 2;
    o.params = &p;
    o.params_size = sizeof(p);
    return o;
}

// The kernels' view of BF16 weights [n, k] at `data`.
mneme::kernels::weight_view bf16_view(const uint8_t* data, int64_t n, int64_t k) {
    mneme::kernels::weight_view w;
    w.data = data;
    w.format = mneme::kernels::weight_format::bf16;
    w.n = n;
    w.k = k;
    w.row_bytes = 2 * k;
    return w;
}

// Runs a batch as the plugin's queue does; returns how many ops each execute_some call took.
std::vector<std::size_t> run_batch(mneme_backend& be, const std::vector<mneme_op>& batch) {
    std::vector<std::size_t> runs;
    for (std::size_t i = 0; i < batch.size();) {
        const std::size_t ran = mneme::cpu::execute_some(be, batch.data() + i, batch.size() - i);
        runs.push_back(ran);
        i += ran;
    }
    return runs;
}

}  // namespace

TEST_CASE("the CPU backend runs independent small products together and dependent ones apart", "[fast][matmul]") {
    mneme::test::pooled_exec ex;
    mneme_backend be{nullptr, ex.ctx, 2, {}};
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
            return matmul_op(b, p, rows, dst, dn, src, sk, w);
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
    const std::vector<mneme_op> batch = ops_on(&together.buffer);
    const std::vector<std::size_t> runs = run_batch(be, batch);
    for (const mneme_op& op : ops_on(&alone.buffer)) mneme::cpu::execute(be, op);
    // (Without a decode kernel for BF16, as on CPUs without AVX2, no product runs on one thread.)
    const mneme::kernels::weight_view w = bf16_view(init.data() + w1, n_dim, k_dim);
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

TEST_CASE("decode-sized products of a few hundred KiB run whole on a thread once every thread gets one",
          "[fast][matmul]") {
    mneme::test::pooled_exec ex;
    std::mt19937 rng(5);
    const int64_t rows = 1, k = 1024, n_mid = 384, n_big = 1536, n_small = 32;
    product_layout m;
    const uint64_t x = m.place(4 * k * rows), h = m.place(4 * n_mid * rows);
    std::vector<uint64_t> w_mid, y_mid;
    for (int i = 0; i < 5; ++i) {
        w_mid.push_back(m.place(2 * n_mid * k));  // 768 KiB: split by the pool when alone
        y_mid.push_back(m.place(4 * n_mid * rows));
    }
    const uint64_t w_big = m.place(2 * n_big * k), y_big = m.place(4 * n_big * rows);  // 3 MiB
    const uint64_t w_small = m.place(2 * n_small * k), y_small = m.place(4 * n_small * rows);
    const uint64_t w_down = m.place(2 * k * n_mid), y_down = m.place(4 * k * rows);
    m.fill(rng);
    const mneme_op_matmul p{1.0, 0, 0};
    const auto ops_on = [&](mneme_buffer* b) {
        return std::vector<mneme_op>{
            // an expert's gate and up, the next expert's gate and up: one run of four
            matmul_op(b, p, rows, y_mid[0], n_mid, x, k, w_mid[0]),
            matmul_op(b, p, rows, y_mid[1], n_mid, x, k, w_mid[1]),
            matmul_op(b, p, rows, y_mid[2], n_mid, x, k, w_mid[2]),
            matmul_op(b, p, rows, y_mid[3], n_mid, x, k, w_mid[3]),
            // a down product reading y_mid[0]'s row: a run of its own, one product alone (split)
            matmul_op(b, p, rows, y_down, k, y_mid[0], n_mid, w_down),
            // a small product and two mid ones (the second reads a weight the first reads too)
            matmul_op(b, p, rows, y_small, n_small, y_down, k, w_small),
            matmul_op(b, p, rows, h, n_mid, y_down, k, w_mid[4]),
            // a product too large to stream on one thread ends a run
            matmul_op(b, p, rows, y_mid[4], n_mid, x, k, w_mid[4]),
            matmul_op(b, p, rows, y_big, n_big, x, k, w_big),
        };
    };
    const mneme::kernels::weight_view mid = bf16_view(m.init.data() + w_mid[0], n_mid, k);
    mneme::kernels::weight_view big = mid, small = mid;
    big.n = n_big;
    small.n = n_small;
    mneme::test::for_each_isa([&](mneme::kernels::fast::isa) {
        host_memory together(m.init), alone(m.init);
        const auto run_all = [&](uint32_t threads) {
            mneme_backend be{nullptr, ex.ctx, threads, {}};
            return run_batch(be, ops_on(&together.buffer));
        };
        const std::vector<std::size_t> runs = run_all(2);
        mneme_backend be{nullptr, ex.ctx, 2, {}};
        for (const mneme_op& op : ops_on(&alone.buffer)) mneme::cpu::execute(be, op);
        CHECK(together.bytes == alone.bytes);
        CHECK(together.bytes != m.init);
        if (mneme::kernels::fast::matmul_whole_on_a_thread(rows, mid)) {
            REQUIRE_FALSE(mneme::kernels::fast::matmul_on_one_thread(rows, mid));
            REQUIRE(mneme::kernels::fast::matmul_on_one_thread(rows, small));
            REQUIRE_FALSE(mneme::kernels::fast::matmul_whole_on_a_thread(rows, big));
            CHECK(runs == std::vector<std::size_t>{4, 1, 3, 1});
            // With more threads than any run has products, the small one goes alone and the
            // mid-sized ones are split; the outputs are the same.
            together.bytes = m.init;
            CHECK(run_all(8) == std::vector<std::size_t>{1, 1, 1, 1, 1, 1, 1, 1, 1});
            CHECK(together.bytes == alone.bytes);
        } else {
            CHECK(runs == std::vector<std::size_t>(9, 1));
        }
    });
}

TEST_CASE("prompt-sized products of small weights writing column slices of one tensor run together", "[fast][matmul]") {
    // MLA's per-head products over a prompt: head h reads columns [h k, h k + k) of every row of
    // one tensor and writes columns [h n, h n + n) of every row of another. The extents of the
    // heads' slices interleave, yet no two share a byte, so they may run side by side; slices whose
    // columns overlap may not.
    mneme::test::pooled_exec ex;
    std::mt19937 rng(7);
    const int64_t heads = 4, rows = 40, k = 48, n = 40;
    product_layout m;
    const uint64_t x = m.place(4 * heads * k * rows), y = m.place(4 * heads * n * rows);
    std::vector<uint64_t> w;
    for (int64_t h = 0; h < heads; ++h) w.push_back(m.place(2 * n * k));
    m.fill(rng);
    const mneme_op_matmul p{1.0, 0, 0};
    // Head h's product; `shift` moves its output columns by that many floats.
    const auto head_op = [&](mneme_buffer* b, int64_t h, int64_t shift) {
        mneme_op o = matmul_op(b, p, rows, y + static_cast<uint64_t>(4 * (h * n + shift)), n,
                               x + static_cast<uint64_t>(4 * h * k), k, w[static_cast<std::size_t>(h)]);
        o.src[0].nb[1] = 4 * heads * k;
        o.dst.nb[1] = 4 * heads * n;
        o.src[0].nb[2] = o.src[0].nb[3] = o.src[0].nb[1] * rows;
        o.dst.nb[2] = o.dst.nb[3] = o.dst.nb[1] * rows;
        return o;
    };
    const mneme::kernels::weight_view wv = bf16_view(m.init.data() + w[0], n, k);
    mneme::test::for_each_isa([&](mneme::kernels::fast::isa) {
        mneme_backend be{nullptr, ex.ctx, 2, {}};
        host_memory together(m.init), alone(m.init);
        std::vector<mneme_op> apart_heads, alone_heads;
        for (int64_t h = 0; h < heads; ++h) {
            apart_heads.push_back(head_op(&together.buffer, h, 0));
            alone_heads.push_back(head_op(&alone.buffer, h, 0));
        }
        const std::vector<std::size_t> runs = run_batch(be, apart_heads);
        for (const mneme_op& op : alone_heads) mneme::cpu::execute(be, op);
        CHECK(together.bytes == alone.bytes);
        CHECK(together.bytes != m.init);
        const bool whole = mneme::kernels::fast::matmul_whole_on_a_thread(rows, wv);
        CHECK(runs == (whole ? std::vector<std::size_t>{4} : std::vector<std::size_t>(4, 1)));

        // Head 1 writing one column into head 2's slice (and head 3 reading nothing it writes):
        // heads 0 and 1 run together, then 2 and 3.
        std::vector<mneme_op> overlapping = apart_heads;
        overlapping[1] = head_op(&together.buffer, 1, 1);
        CHECK(run_batch(be, overlapping) == (whole ? std::vector<std::size_t>{2, 2} : std::vector<std::size_t>(4, 1)));
    });
}
