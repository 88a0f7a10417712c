// The DeepSeek-V4 / Engram ops (mHC coefficients and stream mixing, compressor pooling, attention
// with a compressed second source, Engram gate, causal convolution, weighted SwiGLU) against naive
// double-precision references written here, on shapes of 1, primes and non-multiples of blocks.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <numeric>
#include <optional>

#include "cpu-backend.h"
#include "kernel-harness.h"

using mneme::test::backend_fixture;
using mneme::test::random_values;

namespace {

template <class T>
constexpr mneme_dtype act() {
    return std::is_same_v<T, double> ? MNEME_DTYPE_F64 : MNEME_DTYPE_F32;
}

template <class T>
std::vector<T> cast(const std::vector<double>& v) {
    return std::vector<T>(v.begin(), v.end());
}

template <class T>
void require_close(const std::vector<T>& got, const std::vector<double>& want, double f32_tol = 2e-5) {
    REQUIRE(got.size() == want.size());
    double scale = 1.0;
    for (double w : want) scale = std::max(scale, std::fabs(w));
    const double tol = std::is_same_v<T, double> ? 1e-12 : f32_tol;
    for (std::size_t i = 0; i < got.size(); ++i) {
        INFO("element " << i << " got " << got[i] << " want " << want[i]);
        REQUIRE(std::fabs(static_cast<double>(got[i]) - want[i]) <= tol * scale);
    }
}

double sigmoid(double x) {
    return 1.0 / (1.0 + std::exp(-x));
}

// The shipped Sinkhorn order, written out plainly.
std::vector<double> ref_sinkhorn(std::vector<double> c, int64_t n, int64_t iters, double eps) {
    for (int64_t i = 0; i < n; ++i) {
        double m = -std::numeric_limits<double>::infinity(), sum = 0;
        for (int64_t j = 0; j < n; ++j) m = std::max(m, c[i * n + j]);
        for (int64_t j = 0; j < n; ++j) sum += std::exp(c[i * n + j] - m);
        for (int64_t j = 0; j < n; ++j) c[i * n + j] = std::exp(c[i * n + j] - m) / sum + eps;
    }
    auto cols = [&] {
        for (int64_t j = 0; j < n; ++j) {
            double sum = 0;
            for (int64_t i = 0; i < n; ++i) sum += c[i * n + j];
            for (int64_t i = 0; i < n; ++i) c[i * n + j] /= sum + eps;
        }
    };
    cols();
    for (int64_t it = 1; it < iters; ++it) {
        for (int64_t i = 0; i < n; ++i) {
            double sum = 0;
            for (int64_t j = 0; j < n; ++j) sum += c[i * n + j];
            for (int64_t j = 0; j < n; ++j) c[i * n + j] /= sum + eps;
        }
        cols();
    }
    return c;
}

}  // namespace

TEMPLATE_TEST_CASE("hc_coeffs: sigmoid gates and Sinkhorn in the shipped order", "[kernel][cpu][v4]", float, double) {
    std::mt19937_64 rng(21);
    backend_fixture fx(mneme_cpu_plugin_table());
    for (auto [n, tokens, iters, head] : std::vector<std::tuple<int64_t, int64_t, int64_t, bool>>{
             {1, 1, 1, false}, {4, 5, 20, false}, {3, 2, 7, false}, {4, 3, 20, true}, {1, 2, 1, true}}) {
        const int64_t m = head ? n : (2 + n) * n;
        const auto mixes = random_values(rng, m * tokens, -3, 3), base = random_values(rng, m);
        const auto scale = random_values(rng, head ? 1 : 3, 0.3, 1.5);
        auto mt = fx.tensor_of(act<TestType>(), {m, tokens}, cast<TestType>(mixes));
        auto st = fx.tensor_of(act<TestType>(), {head ? 1 : 3}, cast<TestType>(scale));
        auto bt = fx.tensor_of(act<TestType>(), {m}, cast<TestType>(base));
        auto yt = fx.tensor(act<TestType>(), {m, tokens});
        const double eps = 1e-6;
        mneme_op_hc p{static_cast<uint32_t>(n), static_cast<uint32_t>(iters), eps, 2.0};
        REQUIRE(fx.run(MNEME_OP_HC_COEFFS, yt, {mt, st, bt}, &p, sizeof(p)) == MNEME_OK);
        std::vector<double> want(m * tokens);
        for (int64_t t = 0; t < tokens; ++t) {
            const double* x = mixes.data() + t * m;
            double* o = want.data() + t * m;
            for (int64_t i = 0; i < n; ++i) o[i] = sigmoid(x[i] * scale[0] + base[i]) + eps;
            if (head) continue;
            for (int64_t j = n; j < 2 * n; ++j) o[j] = 2.0 * sigmoid(x[j] * scale[1] + base[j]);
            std::vector<double> c(n * n);
            for (int64_t k = 0; k < n * n; ++k) c[k] = x[2 * n + k] * scale[2] + base[2 * n + k];
            c = ref_sinkhorn(c, n, iters, eps);
            std::copy(c.begin(), c.end(), o + 2 * n);
        }
        const auto got = fx.read<TestType>(yt, want.size());
        require_close(got, want);
        if (!head) {
            // Ends on a column normalisation: every column sums to 1 up to O(eps).
            for (int64_t t = 0; t < tokens; ++t) {
                for (int64_t j = 0; j < n; ++j) {
                    double sum = 0;
                    for (int64_t i = 0; i < n; ++i) sum += got[t * m + 2 * n + i * n + j];
                    CHECK(std::fabs(sum - 1.0) <= 1e-5);
                }
            }
        }
    }
    // A mix count that is neither n nor (2+n)n is refused.
    auto bad = fx.tensor(act<TestType>(), {5, 1});
    auto s3 = fx.tensor(act<TestType>(), {3});
    auto b5 = fx.tensor(act<TestType>(), {5});
    mneme_op_hc p{2, 1, 1e-6, 2.0};
    CHECK(fx.run(MNEME_OP_HC_COEFFS, bad, {bad, s3, b5}, &p, sizeof(p)) == MNEME_ERROR_INVALID_ARGUMENT);
}

TEMPLATE_TEST_CASE("stream_mix collapses and expands residual streams", "[kernel][cpu][v4]", float, double) {
    std::mt19937_64 rng(22);
    backend_fixture fx(mneme_cpu_plugin_table());
    for (auto [d, n_in, n_out, tokens, w_off, b_off, update] :
         std::vector<std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, bool>>{
             {1, 1, 1, 1, 0, 0, false},
             {7, 4, 1, 3, 0, 0, false},
             {13, 4, 4, 2, 8, 4, true},
             {5, 3, 2, 5, 1, 7, true}}) {
        const int64_t m = std::max(w_off + n_in * n_out, update ? b_off + n_out : 0) + 1;
        const auto x = random_values(rng, d * n_in * tokens), c = random_values(rng, m * tokens);
        const auto z = random_values(rng, d * tokens);
        auto xt = fx.tensor_of(act<TestType>(), {d, n_in, tokens}, cast<TestType>(x));
        auto ct = fx.tensor_of(act<TestType>(), {m, tokens}, cast<TestType>(c));
        auto zt = fx.tensor_of(act<TestType>(), {d, tokens}, cast<TestType>(z));
        auto yt = fx.tensor(act<TestType>(), {d, n_out, tokens});
        mneme_op_stream_mix p{static_cast<uint32_t>(n_in), static_cast<uint32_t>(n_out), static_cast<uint32_t>(w_off),
                              static_cast<uint32_t>(b_off)};
        std::vector<mneme_tensor> src = {xt, ct};
        if (update) src.push_back(zt);
        REQUIRE(fx.run(MNEME_OP_STREAM_MIX, yt, src, &p, sizeof(p)) == MNEME_OK);
        std::vector<double> want(d * n_out * tokens);
        for (int64_t t = 0; t < tokens; ++t)
            for (int64_t j = 0; j < n_out; ++j)
                for (int64_t q = 0; q < d; ++q) {
                    double acc = update ? c[t * m + b_off + j] * z[t * d + q] : 0.0;
                    for (int64_t i = 0; i < n_in; ++i)
                        acc += c[t * m + w_off + i * n_out + j] * x[(t * n_in + i) * d + q];
                    want[(t * n_out + j) * d + q] = acc;
                }
        require_close(fx.read<TestType>(yt, want.size()), want);
        if (n_in == n_out) {  // writing over its own input is refused
            CHECK(fx.run(MNEME_OP_STREAM_MIX, xt, src, &p, sizeof(p)) == MNEME_ERROR_INVALID_ARGUMENT);
        }
    }
}

TEMPLATE_TEST_CASE("compress_pool: per-channel softmax over a block, overlapping for ratio 4", "[kernel][cpu][v4]",
                   float, double) {
    std::mt19937_64 rng(23);
    backend_fixture fx(mneme_cpu_plugin_table());
    for (auto [ratio, overlap, width, first_pos, first_block, n_blocks] :
         std::vector<std::tuple<int64_t, bool, int64_t, int64_t, int64_t, int64_t>>{
             {1, false, 1, 0, 0, 1},
             {3, false, 7, 3, 1, 2},
             {4, true, 5, 0, 0, 3},
             {4, true, 11, 4, 2, 1},
             {5, false, 13, 10, 2, 3},
             {2, true, 3, 2, 2, 2}}) {
        const int64_t c = overlap ? 2 * width : width;
        const int64_t first_tok = (overlap && first_block > 0 ? first_block - 1 : first_block) * ratio;
        const int64_t rows = (first_block + n_blocks) * ratio - first_pos;
        REQUIRE(first_tok >= first_pos);
        const auto a = random_values(rng, c * rows), b = random_values(rng, c * rows, -4, 4);
        const auto ape = random_values(rng, c * ratio);
        auto at = fx.tensor_of(act<TestType>(), {c, rows}, cast<TestType>(a));
        auto bt = fx.tensor_of(act<TestType>(), {c, rows}, cast<TestType>(b));
        auto pt = fx.tensor_of(act<TestType>(), {c, ratio}, cast<TestType>(ape));
        auto yt = fx.tensor(act<TestType>(), {width, n_blocks});
        mneme_op_compress p{ratio, first_pos, first_block, overlap ? MNEME_TRUE : MNEME_FALSE, 0};
        REQUIRE(fx.run(MNEME_OP_COMPRESS_POOL, yt, {at, bt, pt}, &p, sizeof(p)) == MNEME_OK);
        std::vector<double> want(width * n_blocks);
        for (int64_t k = 0; k < n_blocks; ++k) {
            const int64_t j = first_block + k;
            for (int64_t d = 0; d < width; ++d) {
                std::vector<std::pair<double, double>> cand;  // (value, score)
                auto add = [&](int64_t pos, int64_t ch) {
                    const int64_t r = pos - first_pos;
                    cand.push_back({a[r * c + ch], b[r * c + ch] + ape[(pos % ratio) * c + ch]});
                };
                if (overlap && j > 0)
                    for (int64_t pos = (j - 1) * ratio; pos < j * ratio; ++pos) add(pos, d);
                for (int64_t pos = j * ratio; pos < (j + 1) * ratio; ++pos) add(pos, overlap ? width + d : d);
                double m = -std::numeric_limits<double>::infinity(), num = 0, den = 0;
                for (auto& [v, s] : cand) m = std::max(m, s);
                for (auto& [v, s] : cand) {
                    num += v * std::exp(s - m);
                    den += std::exp(s - m);
                }
                want[k * width + d] = num / den;
            }
        }
        require_close(fx.read<TestType>(yt, want.size()), want);
        // A block whose tokens are not all among the rows is refused, not read out of bounds.
        mneme_op_compress late = p;
        late.first_block += 1;
        CHECK(fx.run(MNEME_OP_COMPRESS_POOL, yt, {at, bt, pt}, &late, sizeof(late)) == MNEME_ERROR_INVALID_ARGUMENT);
        if (first_tok > 0) {
            mneme_op_compress early = p;
            early.first_pos = first_tok + 1;
            CHECK(fx.run(MNEME_OP_COMPRESS_POOL, yt, {at, bt, pt}, &early, sizeof(early)) ==
                  MNEME_ERROR_INVALID_ARGUMENT);
        }
    }
}

TEMPLATE_TEST_CASE("attention over a window plus complete compressed entries, with a sink", "[kernel][cpu][v4]", float,
                   double) {
    std::mt19937_64 rng(24);
    backend_fixture fx(mneme_cpu_plugin_table());
    const double inf = std::numeric_limits<double>::infinity();
    // (heads, d, queries, start_pos, key_start, window, ratio, n_comp, n_idx): n_idx 0 = all entries.
    for (auto [heads, d, queries, start, key_start, window, ratio, n_comp, n_idx] :
         std::vector<std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t>>{
             {1, 1, 1, 0, 0, 1, 4, 0, 0},
             {3, 7, 5, 9, 2, 8, 4, 3, 2},
             {2, 5, 6, 11, 5, 4, 16, 1, 0},
             {4, 3, 7, 30, 23, 8, 4, 9, 3},
             {2, 6, 3, 3, 0, 0, 1, 6, 0}}) {
        const int64_t n_keys = start + queries - key_start;
        const auto q = random_values(rng, d * heads * queries), kv = random_values(rng, d * n_keys);
        const auto comp = random_values(rng, d * std::max<int64_t>(n_comp, 1)), sink = random_values(rng, heads);
        std::vector<int32_t> idx(std::max<int64_t>(n_idx, 1) * queries);
        std::uniform_int_distribution<int32_t> pick(-1, static_cast<int32_t>(n_comp));  // includes -1 and one past
        for (int64_t s = 0; s < queries; ++s) {
            std::vector<int32_t> all(n_comp + 2);
            std::iota(all.begin(), all.end(), -1);
            std::shuffle(all.begin(), all.end(), rng);
            for (int64_t j = 0; j < n_idx; ++j) idx[s * n_idx + j] = all[j];
        }
        auto qt = fx.tensor_of(act<TestType>(), {d, heads, queries}, cast<TestType>(q));
        auto kt = fx.tensor_of(act<TestType>(), {d, n_keys}, cast<TestType>(kv));
        auto ct = fx.tensor_of(act<TestType>(), {d, std::max<int64_t>(n_comp, 1)}, cast<TestType>(comp));
        auto it = fx.tensor_of(MNEME_DTYPE_I32, {std::max<int64_t>(n_idx, 1), queries}, idx);
        auto st = fx.tensor_of(act<TestType>(), {heads}, cast<TestType>(sink));
        auto yt = fx.tensor(act<TestType>(), {d, heads, queries});
        mneme_op_attention p{};
        p.scale = 0.7;
        p.start_pos = start;
        p.window = window;
        p.key_start = key_start;
        p.ratio = ratio;
        std::vector<mneme_tensor> src = {qt, kt, kt, n_idx ? it : mneme_tensor{}, st};
        if (n_comp) src.push_back(ct);
        REQUIRE(fx.run(MNEME_OP_ATTENTION, yt, src, &p, sizeof(p)) == MNEME_OK);

        std::vector<double> want(d * heads * queries, 0.0);
        for (int64_t s = 0; s < queries; ++s) {
            const int64_t pos = start + s;
            std::vector<const double*> rows;
            for (int64_t kpos = key_start; kpos <= pos; ++kpos) {
                if (window == 0 || kpos > pos - window) rows.push_back(kv.data() + (kpos - key_start) * d);
            }
            std::vector<bool> chosen(n_comp, n_idx == 0);
            for (int64_t j = 0; j < n_idx; ++j) {
                if (idx[s * n_idx + j] >= 0 && idx[s * n_idx + j] < n_comp) chosen[idx[s * n_idx + j]] = true;
            }
            for (int64_t j = 0; j < n_comp; ++j) {
                if (chosen[j] && j < (pos + 1) / ratio) rows.push_back(comp.data() + j * d);
            }
            for (int64_t h = 0; h < heads; ++h) {
                std::vector<double> sc;
                double m = -inf;
                for (const double* r : rows) {
                    double dot = 0;
                    for (int64_t c = 0; c < d; ++c) dot += q[(s * heads + h) * d + c] * r[c];
                    sc.push_back(dot * 0.7);
                    m = std::max(m, sc.back());
                }
                double den = std::exp(sink[h] - m);
                for (double v : sc) den += std::exp(v - m);
                for (std::size_t u = 0; u < rows.size(); ++u)
                    for (int64_t c = 0; c < d; ++c)
                        want[(s * heads + h) * d + c] += std::exp(sc[u] - m) / den * rows[u][c];
            }
        }
        require_close(fx.read<TestType>(yt, want.size()), want);
    }
    // ABI 1.0 params (no key_start/ratio) still work, with key_start 0.
    auto qt = fx.tensor_of(act<TestType>(), {2, 1, 2}, cast<TestType>(std::vector<double>{1, 0, 0, 1}));
    auto kt = fx.tensor_of(act<TestType>(), {2, 2}, cast<TestType>(std::vector<double>{1, 2, 3, 4}));
    auto yt = fx.tensor(act<TestType>(), {2, 1, 2});
    mneme_op_attention p{1.0, 0, 0, 0, 0};
    REQUIRE(fx.run(MNEME_OP_ATTENTION, yt, {qt, kt, kt}, &p, offsetof(mneme_op_attention, key_start)) == MNEME_OK);
    const double w0 = std::exp(3.0 - 3.0), w1 = std::exp(2.0 - 4.0) / (std::exp(2.0 - 4.0) + 1.0);
    require_close(fx.read<TestType>(yt, 4), {1 * w0, 2 * w0, 1 * w1 + 3 * (1 - w1), 2 * w1 + 4 * (1 - w1)});
}

TEMPLATE_TEST_CASE("engram_gate: signed-sqrt sigmoid gate per stream on the shared value", "[kernel][cpu][v4]", float,
                   double) {
    std::mt19937_64 rng(25);
    backend_fixture fx(mneme_cpu_plugin_table());
    for (auto [d, n, tokens] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{{1, 1, 1}, {5, 3, 4}, {17, 4, 2}}) {
        const auto x = random_values(rng, d * n * tokens), kv = random_values(rng, (n + 1) * d * tokens);
        const auto qw = random_values(rng, d * n, 0.5, 1.5), kw = random_values(rng, d * n, 0.5, 1.5);
        auto xt = fx.tensor_of(act<TestType>(), {d, n, tokens}, cast<TestType>(x));
        auto kvt = fx.tensor_of(act<TestType>(), {(n + 1) * d, tokens}, cast<TestType>(kv));
        auto qt = fx.tensor_of(act<TestType>(), {d, n}, cast<TestType>(qw));
        auto kt = fx.tensor_of(act<TestType>(), {d, n}, cast<TestType>(kw));
        auto yt = fx.tensor(act<TestType>(), {d, n, tokens});
        const double eps = 1e-6, clamp = 1e-6;
        mneme_op_engram_gate p{eps, clamp};
        REQUIRE(fx.run(MNEME_OP_ENGRAM_GATE, yt, {xt, kvt, qt, kt}, &p, sizeof(p)) == MNEME_OK);
        std::vector<double> want(d * n * tokens);
        for (int64_t t = 0; t < tokens; ++t)
            for (int64_t m = 0; m < n; ++m) {
                const double* key = kv.data() + t * (n + 1) * d + m * d;
                const double* val = kv.data() + t * (n + 1) * d + n * d;
                const double* xs = x.data() + (t * n + m) * d;
                double sk = 0, sq = 0, g = 0;
                for (int64_t i = 0; i < d; ++i) {
                    sk += key[i] * key[i];
                    sq += xs[i] * xs[i];
                }
                for (int64_t i = 0; i < d; ++i)
                    g += kw[m * d + i] * key[i] / std::sqrt(sk / d + eps) *
                         (qw[m * d + i] * xs[i] / std::sqrt(sq / d + eps));
                g /= std::sqrt(static_cast<double>(d));
                g = (g > 0 ? 1 : -1) * std::sqrt(std::max(std::fabs(g), clamp));
                for (int64_t i = 0; i < d; ++i) want[(t * n + m) * d + i] = sigmoid(g) * val[i];
            }
        require_close(fx.read<TestType>(yt, want.size()), want);
    }
    // A zero key gives g = 0 exactly: the gate is 1/2, not sigmoid(±sqrt(clamp)).
    auto xt = fx.tensor_of(act<TestType>(), {2, 1, 1}, cast<TestType>(std::vector<double>{1, 2}));
    auto kvt = fx.tensor_of(act<TestType>(), {4, 1}, cast<TestType>(std::vector<double>{0, 0, 3, -4}));
    auto ones = fx.tensor_of(act<TestType>(), {2, 1}, cast<TestType>(std::vector<double>{1, 1}));
    auto yt = fx.tensor(act<TestType>(), {2, 1, 1});
    mneme_op_engram_gate p{1e-6, 1e-6};
    REQUIRE(fx.run(MNEME_OP_ENGRAM_GATE, yt, {xt, kvt, ones, ones}, &p, sizeof(p)) == MNEME_OK);
    require_close(fx.read<TestType>(yt, 2), {1.5, -2.0});
}

TEMPLATE_TEST_CASE("causal_conv: dilated depthwise taps over history and new rows", "[kernel][cpu][v4]", float,
                   double) {
    std::mt19937_64 rng(26);
    backend_fixture fx(mneme_cpu_plugin_table());
    for (auto [channels, k, dil, tokens, silu] : std::vector<std::tuple<int64_t, int64_t, int64_t, int64_t, bool>>{
             {1, 1, 1, 1, false}, {5, 4, 3, 7, true}, {3, 3, 1, 2, false}, {7, 2, 5, 1, true}}) {
        const int64_t hist = (k - 1) * dil, rows = hist + tokens;
        const auto x = random_values(rng, channels * rows), w = random_values(rng, channels * k);
        auto xt = fx.tensor_of(act<TestType>(), {channels, rows}, cast<TestType>(x));
        auto wt = fx.tensor_of(act<TestType>(), {k, channels}, cast<TestType>(w));
        auto yt = fx.tensor(act<TestType>(), {channels, tokens});
        mneme_op_conv p{static_cast<uint32_t>(dil), silu ? MNEME_TRUE : MNEME_FALSE};
        REQUIRE(fx.run(MNEME_OP_CAUSAL_CONV, yt, {xt, wt}, &p, sizeof(p)) == MNEME_OK);
        std::vector<double> want(channels * tokens);
        for (int64_t t = 0; t < tokens; ++t)
            for (int64_t c = 0; c < channels; ++c) {
                double acc = 0;
                for (int64_t i = 0; i < k; ++i) acc += w[c * k + i] * x[(hist + t - (k - 1 - i) * dil) * channels + c];
                want[t * channels + c] = silu ? acc * sigmoid(acc) : acc;
            }
        require_close(fx.read<TestType>(yt, want.size()), want);
        if (hist > 0) {  // too little history for the kernel span is refused
            auto short_x = fx.tensor_of(act<TestType>(), {channels, rows - 1}, cast<TestType>(x));
            CHECK(fx.run(MNEME_OP_CAUSAL_CONV, yt, {short_x, wt}, &p, sizeof(p)) == MNEME_ERROR_INVALID_ARGUMENT);
        }
    }
}

TEMPLATE_TEST_CASE("swiglu scales each row by its routing weight", "[kernel][cpu][v4]", float, double) {
    std::mt19937_64 rng(27);
    backend_fixture fx(mneme_cpu_plugin_table());
    for (auto [n, rows, limit] : std::vector<std::tuple<int64_t, int64_t, double>>{{1, 1, 0.0}, {13, 5, 1.5}}) {
        const auto g = random_values(rng, n * rows, -4, 4), u = random_values(rng, n * rows, -4, 4);
        const auto w = random_values(rng, rows, 0.1, 2);
        auto gt = fx.tensor_of(act<TestType>(), {n, rows}, cast<TestType>(g));
        auto ut = fx.tensor_of(act<TestType>(), {n, rows}, cast<TestType>(u));
        auto wt = fx.tensor_of(act<TestType>(), {rows}, cast<TestType>(w));
        auto yt = fx.tensor(act<TestType>(), {n, rows});
        mneme_op_swiglu p{limit};
        REQUIRE(fx.run(MNEME_OP_SWIGLU, yt, {gt, ut, wt}, &p, sizeof(p)) == MNEME_OK);
        std::vector<double> want(n * rows);
        for (int64_t r = 0; r < rows; ++r)
            for (int64_t i = 0; i < n; ++i) {
                double gv = g[r * n + i], uv = u[r * n + i];
                if (limit > 0) {
                    gv = std::min(gv, limit);
                    uv = std::clamp(uv, -limit, limit);
                }
                want[r * n + i] = gv * sigmoid(gv) * uv * w[r];
            }
        require_close(fx.read<TestType>(yt, want.size()), want);
    }
}
