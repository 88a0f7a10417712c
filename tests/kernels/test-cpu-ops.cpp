// Every CPU op against a naive double-precision reference on random shapes, including 1, primes
// and sizes that are not multiples of any block, in both activation types.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <numeric>

#include "cpu-backend.h"
#include "kernel-harness.h"

using mneme::test::backend_fixture;
using mneme::test::random_values;

namespace {

// Independent decoders (written from FORMATS.md, not shared with the kernels).
double ref_bf16(uint16_t h) {
    uint32_t u = static_cast<uint32_t>(h) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}
uint16_t to_bf16_trunc(double v) {
    float f = static_cast<float>(v);
    uint32_t u;
    std::memcpy(&u, &f, 4);
    return static_cast<uint16_t>(u >> 16);
}
double ref_e4m3(uint8_t b) {
    const int s = b >> 7, e = (b >> 3) & 15, m = b & 7;
    const double mag = e == 0 ? m / 8.0 * std::pow(2.0, -6) : (1 + m / 8.0) * std::pow(2.0, e - 7);
    return s ? -mag : mag;
}
double ref_e2m1(uint8_t nib) {
    static const double v[8] = {0, 0.5, 1, 1.5, 2, 3, 4, 6};
    return (nib & 8) ? -v[nib & 7] : v[nib & 7];
}

template <class T>
constexpr mneme_dtype act_dtype() {
    return std::is_same_v<T, double> ? MNEME_DTYPE_F64 : MNEME_DTYPE_F32;
}
template <class T>
double tolerance() {
    return std::is_same_v<T, double> ? 1e-12 : 2e-5;
}
template <class T>
std::vector<T> cast(const std::vector<double>& v) {
    return std::vector<T>(v.begin(), v.end());
}

double max_abs(const std::vector<double>& v) {
    double m = 0;
    for (double x : v) m = std::max(m, std::fabs(x));
    return m;
}

template <class T>
void require_close(const std::vector<T>& got, const std::vector<double>& want) {
    REQUIRE(got.size() == want.size());
    const double scale = std::max(1.0, max_abs(want));
    for (std::size_t i = 0; i < got.size(); ++i) {
        INFO("element " << i << " got " << got[i] << " want " << want[i]);
        REQUIRE(std::fabs(static_cast<double>(got[i]) - want[i]) <= tolerance<T>() * scale);
    }
}

enum class wkind { f32, bf16, fp8_f32_scales, fp8_e8m0_scales, fp4 };

template <class T>
void check_matmul(wkind kind, int64_t rows, int64_t k, int64_t n, std::mt19937_64& rng) {
    backend_fixture fx(mneme_cpu_plugin_table());
    const auto x = random_values(rng, rows * k);
    std::vector<double> wref(n * k);  // the dequantised weight the op must use
    mneme_tensor w{}, scale{};
    mneme_op_matmul p{1.0, 0, 0};
    bool has_scale = false;
    std::uniform_int_distribution<int> byte(0, 255), e8(120, 130);
    switch (kind) {
        case wkind::f32: {
            const auto wv = random_values(rng, n * k);
            std::vector<float> wf(wv.begin(), wv.end());
            for (int64_t i = 0; i < n * k; ++i) wref[i] = wf[i];
            w = fx.tensor_of(MNEME_DTYPE_F32, {k, n}, wf);
            break;
        }
        case wkind::bf16: {
            std::vector<uint16_t> wb(n * k);
            for (auto& v : wb) v = to_bf16_trunc(random_values(rng, 1)[0]);
            for (int64_t i = 0; i < n * k; ++i) wref[i] = ref_bf16(wb[i]);
            w = fx.tensor_of(MNEME_DTYPE_BF16, {k, n}, wb);
            break;
        }
        case wkind::fp8_f32_scales:
        case wkind::fp8_e8m0_scales: {
            const int64_t bk = 128, bn = 128;
            const int64_t gk = (k + bk - 1) / bk, gn = (n + bn - 1) / bn;
            std::vector<uint8_t> q(n * k);
            for (auto& v : q) {
                do v = static_cast<uint8_t>(byte(rng));
                while ((v & 0x7f) == 0x7f);  // skip NaN codes
            }
            std::vector<float> sf(gk * gn);
            std::vector<uint8_t> se(gk * gn);
            for (int64_t i = 0; i < gk * gn; ++i) {
                sf[i] = static_cast<float>(random_values(rng, 1, 0.001, 0.01)[0]);
                se[i] = static_cast<uint8_t>(e8(rng));
            }
            for (int64_t r = 0; r < n; ++r) {
                for (int64_t c = 0; c < k; ++c) {
                    const int64_t si = (r / bn) * gk + c / bk;
                    const double s = kind == wkind::fp8_f32_scales ? static_cast<double>(sf[si])
                                                                   : std::ldexp(1.0, se[si] - 127);
                    // FORMATS.md: the dequantised weight is the float32 product.
                    wref[r * k + c] = static_cast<float>(static_cast<float>(ref_e4m3(q[r * k + c])) * static_cast<float>(s));
                }
            }
            w = fx.tensor_of(MNEME_DTYPE_F8_E4M3, {k, n}, q);
            scale = kind == wkind::fp8_f32_scales ? fx.tensor_of(MNEME_DTYPE_F32, {gk, gn}, sf)
                                                  : fx.tensor_of(MNEME_DTYPE_F8_E8M0, {gk, gn}, se);
            p.block_k = static_cast<uint32_t>(bk);
            p.block_n = static_cast<uint32_t>(bn);
            has_scale = true;
            break;
        }
        case wkind::fp4: {
            const int64_t kb = (k + 1) / 2, gk = (k + 31) / 32;
            std::vector<uint8_t> q(n * kb);
            for (auto& v : q) v = static_cast<uint8_t>(byte(rng));
            std::vector<uint8_t> se(n * gk);
            for (auto& v : se) v = static_cast<uint8_t>(e8(rng));
            for (int64_t r = 0; r < n; ++r) {
                for (int64_t c = 0; c < k; ++c) {
                    const uint8_t b = q[r * kb + c / 2];
                    wref[r * k + c] = ref_e2m1((c % 2) ? (b >> 4) : (b & 15)) * std::ldexp(1.0, se[r * gk + c / 32] - 127);
                }
            }
            w = fx.tensor_of(MNEME_DTYPE_FP4_E2M1, {k, n}, q);
            scale = fx.tensor_of(MNEME_DTYPE_F8_E8M0, {gk, n}, se);
            p.block_k = 32;
            p.block_n = 1;
            has_scale = true;
            break;
        }
    }
    p.alpha = 0.75;
    auto xt = fx.tensor_of(act_dtype<T>(), {k, rows}, cast<T>(x));
    auto yt = fx.tensor(act_dtype<T>(), {n, rows});
    std::vector<mneme_tensor> src = {xt, w};
    if (has_scale) src.push_back(scale);
    REQUIRE(fx.run(MNEME_OP_MATMUL, yt, src, &p, sizeof(p)) == MNEME_OK);
    std::vector<double> want(rows * n, 0.0);
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j < n; ++j) {
            double acc = 0;
            for (int64_t c = 0; c < k; ++c) acc += x[r * k + c] * wref[j * k + c];
            want[r * n + j] = 0.75 * acc;
        }
    require_close(fx.read<T>(yt, rows * n), want);
}

}  // namespace

TEMPLATE_TEST_CASE("matmul matches the naive product for every weight format", "[kernel][cpu][matmul]", float,
                   double) {
    std::mt19937_64 rng(1234);
    for (auto kind : {wkind::f32, wkind::bf16, wkind::fp8_f32_scales, wkind::fp8_e8m0_scales, wkind::fp4}) {
        for (int64_t rows : {1, 3, 17}) {
            for (auto [k, n] : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {7, 5}, {128, 64}, {131, 129}, {257, 3}}) {
                INFO("kind " << static_cast<int>(kind) << " rows " << rows << " k " << k << " n " << n);
                check_matmul<TestType>(kind, rows, k, n, rng);
            }
        }
    }
}

TEMPLATE_TEST_CASE("rms_norm matches the definition", "[kernel][cpu]", float, double) {
    std::mt19937_64 rng(7);
    backend_fixture fx(mneme_cpu_plugin_table());
    for (auto [rows, d] : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {3, 7}, {13, 128}, {2, 257}}) {
        const auto x = random_values(rng, rows * d), w = random_values(rng, d, 0.5, 1.5);
        auto xt = fx.tensor_of(act_dtype<TestType>(), {d, rows}, cast<TestType>(x));
        auto wt = fx.tensor_of(act_dtype<TestType>(), {d}, cast<TestType>(w));
        auto yt = fx.tensor(act_dtype<TestType>(), {d, rows});
        mneme_op_rms_norm p{1e-6};
        REQUIRE(fx.run(MNEME_OP_RMS_NORM, yt, {xt, wt}, &p, sizeof(p)) == MNEME_OK);
        std::vector<double> want(rows * d);
        for (int64_t r = 0; r < rows; ++r) {
            double ss = 0;
            for (int64_t i = 0; i < d; ++i) ss += x[r * d + i] * x[r * d + i];
            const double inv = 1.0 / std::sqrt(ss / d + 1e-6);
            for (int64_t i = 0; i < d; ++i) want[r * d + i] = x[r * d + i] * inv * w[i];
        }
        require_close(fx.read<TestType>(yt, rows * d), want);
    }
}

TEMPLATE_TEST_CASE("rope rotates the right pairs in both layouts and inverts", "[kernel][cpu]", float, double) {
    std::mt19937_64 rng(11);
    backend_fixture fx(mneme_cpu_plugin_table());
    for (auto layout : {MNEME_ROPE_INTERLEAVED, MNEME_ROPE_HALF_SPLIT}) {
        for (auto [tokens, heads, d, off, nrot] :
             std::vector<std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t>>{
                 {1, 1, 2, 0, 2}, {5, 3, 16, 8, 8}, {7, 2, 30, 0, 14}, {3, 4, 64, 0, 64}}) {
            const int64_t half = nrot / 2;
            const auto x = random_values(rng, tokens * heads * d);
            std::vector<double> ang(tokens * half), c(tokens * half), s(tokens * half);
            for (int64_t t = 0; t < tokens; ++t)
                for (int64_t j = 0; j < half; ++j) {
                    ang[t * half + j] = (t + 1) * std::pow(10000.0, -2.0 * j / nrot);
                    c[t * half + j] = std::cos(ang[t * half + j]);
                    s[t * half + j] = std::sin(ang[t * half + j]);
                }
            auto xt = fx.tensor_of(act_dtype<TestType>(), {d, heads, tokens}, cast<TestType>(x));
            auto ct = fx.tensor_of(act_dtype<TestType>(), {half, tokens}, cast<TestType>(c));
            auto st = fx.tensor_of(act_dtype<TestType>(), {half, tokens}, cast<TestType>(s));
            auto yt = fx.tensor(act_dtype<TestType>(), {d, heads, tokens});
            auto zt = fx.tensor(act_dtype<TestType>(), {d, heads, tokens});
            mneme_op_rope p{layout, static_cast<uint32_t>(off), static_cast<uint32_t>(nrot), MNEME_FALSE};
            REQUIRE(fx.run(MNEME_OP_ROPE, yt, {xt, ct, st}, &p, sizeof(p)) == MNEME_OK);
            std::vector<double> want(x);
            for (int64_t t = 0; t < tokens; ++t)
                for (int64_t h = 0; h < heads; ++h)
                    for (int64_t j = 0; j < half; ++j) {
                        const int64_t base = (t * heads + h) * d + off;
                        const int64_t a = base + (layout == MNEME_ROPE_INTERLEAVED ? 2 * j : j);
                        const int64_t b = base + (layout == MNEME_ROPE_INTERLEAVED ? 2 * j + 1 : j + half);
                        const double th = ang[t * half + j];
                        want[a] = x[a] * std::cos(th) - x[b] * std::sin(th);
                        want[b] = x[a] * std::sin(th) + x[b] * std::cos(th);
                    }
            require_close(fx.read<TestType>(yt, x.size()), want);
            mneme_op_rope inv = p;
            inv.inverse = MNEME_TRUE;
            REQUIRE(fx.run(MNEME_OP_ROPE, zt, {yt, ct, st}, &inv, sizeof(inv)) == MNEME_OK);
            require_close(fx.read<TestType>(zt, x.size()), x);
        }
    }
}

TEMPLATE_TEST_CASE("softmax handles masks and fully masked rows", "[kernel][cpu]", float, double) {
    std::mt19937_64 rng(5);
    backend_fixture fx(mneme_cpu_plugin_table());
    const double inf = std::numeric_limits<double>::infinity();
    for (auto [rows, n] : std::vector<std::pair<int64_t, int64_t>>{{1, 1}, {4, 13}, {3, 97}}) {
        auto x = random_values(rng, rows * n, -5, 5);
        if (n > 2) x[1] = -inf;                                  // one masked entry
        if (rows > 2) std::fill(x.begin() + 2 * n, x.begin() + 3 * n, -inf);  // a fully masked row
        auto xt = fx.tensor_of(act_dtype<TestType>(), {n, rows}, cast<TestType>(x));
        auto yt = fx.tensor(act_dtype<TestType>(), {n, rows});
        mneme_op_softmax p{0.5};
        REQUIRE(fx.run(MNEME_OP_SOFTMAX, yt, {xt}, &p, sizeof(p)) == MNEME_OK);
        std::vector<double> want(rows * n, 0.0);
        for (int64_t r = 0; r < rows; ++r) {
            double m = -inf, sum = 0;
            for (int64_t i = 0; i < n; ++i) m = std::max(m, 0.5 * x[r * n + i]);
            if (m == -inf) continue;
            for (int64_t i = 0; i < n; ++i) sum += std::exp(0.5 * x[r * n + i] - m);
            for (int64_t i = 0; i < n; ++i) want[r * n + i] = std::exp(0.5 * x[r * n + i] - m) / sum;
        }
        require_close(fx.read<TestType>(yt, rows * n), want);
    }
}

TEMPLATE_TEST_CASE("swiglu with and without the V4 clamp", "[kernel][cpu]", float, double) {
    std::mt19937_64 rng(3);
    backend_fixture fx(mneme_cpu_plugin_table());
    for (double limit : {0.0, 1.5}) {
        const int64_t n = 131;
        const auto g = random_values(rng, n, -4, 4), u = random_values(rng, n, -4, 4);
        auto gt = fx.tensor_of(act_dtype<TestType>(), {n}, cast<TestType>(g));
        auto ut = fx.tensor_of(act_dtype<TestType>(), {n}, cast<TestType>(u));
        auto yt = fx.tensor(act_dtype<TestType>(), {n});
        mneme_op_swiglu p{limit};
        REQUIRE(fx.run(MNEME_OP_SWIGLU, yt, {gt, ut}, &p, sizeof(p)) == MNEME_OK);
        std::vector<double> want(n);
        for (int64_t i = 0; i < n; ++i) {
            double gg = g[i], uu = u[i];
            if (limit > 0) {
                gg = std::min(gg, limit);
                uu = std::max(-limit, std::min(uu, limit));
            }
            want[i] = gg / (1 + std::exp(-gg)) * uu;
        }
        require_close(fx.read<TestType>(yt, n), want);
    }
}

TEMPLATE_TEST_CASE("topk picks the largest values and breaks ties towards the lower index", "[kernel][cpu]", float,
                   double) {
    std::mt19937_64 rng(9);
    backend_fixture fx(mneme_cpu_plugin_table());
    std::uniform_int_distribution<int> small(0, 4);  // few distinct values => many ties
    for (auto [rows, n, k] :
         std::vector<std::tuple<int64_t, int64_t, int64_t>>{{1, 1, 1}, {3, 17, 5}, {2, 97, 97}, {5, 64, 8}}) {
        std::vector<double> x(rows * n);
        for (auto& v : x) v = small(rng);
        if (n > 3) x[2] = -std::numeric_limits<double>::infinity();
        auto xt = fx.tensor_of(act_dtype<TestType>(), {n, rows}, cast<TestType>(x));
        auto yt = fx.tensor(MNEME_DTYPE_I32, {k, rows});
        mneme_op_topk p{static_cast<uint32_t>(k)};
        REQUIRE(fx.run(MNEME_OP_TOPK, yt, {xt}, &p, sizeof(p)) == MNEME_OK);
        const auto got = fx.read<int32_t>(yt, rows * k);
        for (int64_t r = 0; r < rows; ++r) {
            std::vector<int32_t> idx(n);
            std::iota(idx.begin(), idx.end(), 0);
            std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return x[r * n + a] > x[r * n + b]; });
            for (int64_t i = 0; i < k; ++i) REQUIRE(got[r * k + i] == idx[i]);
        }
    }
}

TEMPLATE_TEST_CASE("add, mul and scale broadcast a single row", "[kernel][cpu]", float, double) {
    std::mt19937_64 rng(21);
    backend_fixture fx(mneme_cpu_plugin_table());
    const int64_t rows = 5, n = 23;
    const auto a = random_values(rng, rows * n), b = random_values(rng, n);
    auto at = fx.tensor_of(act_dtype<TestType>(), {n, rows}, cast<TestType>(a));
    auto bt = fx.tensor_of(act_dtype<TestType>(), {n}, cast<TestType>(b));
    auto yt = fx.tensor(act_dtype<TestType>(), {n, rows});
    REQUIRE(fx.run(MNEME_OP_ADD, yt, {at, bt}, nullptr, 0) == MNEME_OK);
    std::vector<double> want(rows * n);
    for (int64_t i = 0; i < rows * n; ++i) want[i] = a[i] + b[i % n];
    require_close(fx.read<TestType>(yt, rows * n), want);
    REQUIRE(fx.run(MNEME_OP_MUL, yt, {at, bt}, nullptr, 0) == MNEME_OK);
    for (int64_t i = 0; i < rows * n; ++i) want[i] = a[i] * b[i % n];
    require_close(fx.read<TestType>(yt, rows * n), want);
    mneme_op_scale sp{-2.0, 0.25};
    REQUIRE(fx.run(MNEME_OP_SCALE, yt, {at}, &sp, sizeof(sp)) == MNEME_OK);
    for (int64_t i = 0; i < rows * n; ++i) want[i] = a[i] * -2.0 + 0.25;
    require_close(fx.read<TestType>(yt, rows * n), want);
}

TEMPLATE_TEST_CASE("get_rows gathers bf16 table rows into the activation type", "[kernel][cpu]", float, double) {
    backend_fixture fx(mneme_cpu_plugin_table());
    std::mt19937_64 rng(4);
    const int64_t vocab = 11, d = 9;
    std::vector<uint16_t> table(vocab * d);
    for (auto& v : table) v = to_bf16_trunc(random_values(rng, 1)[0]);
    const std::vector<int32_t> ids = {3, 0, 10, 3};
    auto tt = fx.tensor_of(MNEME_DTYPE_BF16, {d, vocab}, table);
    auto it = fx.tensor_of(MNEME_DTYPE_I32, {4}, ids);
    auto yt = fx.tensor(act_dtype<TestType>(), {d, 4});
    REQUIRE(fx.run(MNEME_OP_GET_ROWS, yt, {tt, it}, nullptr, 0) == MNEME_OK);
    std::vector<double> want;
    for (int32_t id : ids)
        for (int64_t i = 0; i < d; ++i) want.push_back(ref_bf16(table[id * d + i]));
    require_close(fx.read<TestType>(yt, want.size()), want);

    const std::vector<int32_t> bad = {11};
    auto bt = fx.tensor_of(MNEME_DTYPE_I32, {1}, bad);
    auto y1 = fx.tensor(act_dtype<TestType>(), {d, 1});
    CHECK(fx.run(MNEME_OP_GET_ROWS, y1, {tt, bt}, nullptr, 0) == MNEME_ERROR_INVALID_ARGUMENT);
    CHECK(std::string(fx.last_error()).find("out of range") != std::string::npos);
}

TEST_CASE("bad op arguments are errors, not memory accesses", "[kernel][cpu]") {
    backend_fixture fx(mneme_cpu_plugin_table());
    auto x = fx.tensor(MNEME_DTYPE_F32, {8, 2});
    auto w = fx.tensor(MNEME_DTYPE_F32, {7, 3});
    auto y = fx.tensor(MNEME_DTYPE_F32, {3, 2});
    mneme_op_matmul p{1.0, 0, 0};
    CHECK(fx.run(MNEME_OP_MATMUL, y, {x, w}, &p, sizeof(p)) == MNEME_ERROR_INVALID_ARGUMENT);
    mneme_tensor too_long = x;
    too_long.ne[1] = 1000;
    auto y2 = fx.tensor(MNEME_DTYPE_F32, {8, 2});
    mneme_op_rms_norm rp{1e-6};
    CHECK(fx.run(MNEME_OP_RMS_NORM, y2, {too_long}, &rp, sizeof(rp)) == MNEME_ERROR_INVALID_ARGUMENT);
    CHECK(std::string(fx.last_error()).find("exceeds its buffer") != std::string::npos);
    CHECK(fx.run(static_cast<mneme_op_type>(999), y2, {x}, nullptr, 0) == MNEME_ERROR_UNSUPPORTED);
}
