// The DeepSeek-V4 compressor's block boundaries (an entry appears exactly once, when its block's
// last token arrives, whatever the chunking) and the indexer's block-causal masking.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <random>

#include "cpu-device.h"
#include "graph/v4-compressor.h"

namespace {

using mneme::test::cpu_device;

std::vector<double> random_values(std::mt19937_64& rng, std::size_t n, double lo = -1, double hi = 1) {
    std::uniform_real_distribution<double> d(lo, hi);
    std::vector<double> v(n);
    for (auto& x : v) x = d(rng);
    return v;
}

}  // namespace

TEST_CASE("compressor plan: held rows and completed blocks", "[unit][v4][compressor]") {
    using mneme::plan_compressor;
    // Overlap (ratio 4): the previous block stays held for the next one's first half.
    auto p = plan_compressor(4, true, 0, 3);
    CHECK((p.held == 0 && p.n_blocks == 0 && p.keep_first == 0 && p.keep == 3));
    p = plan_compressor(4, true, 3, 1);
    CHECK((p.held_first == 0 && p.held == 3 && p.first_block == 0 && p.n_blocks == 1 && p.keep_first == 0 &&
           p.keep == 4));
    p = plan_compressor(4, true, 4, 4);
    CHECK((p.held_first == 0 && p.held == 4 && p.first_block == 1 && p.n_blocks == 1 && p.keep_first == 4 &&
           p.keep == 4));
    p = plan_compressor(4, true, 9, 2);
    CHECK((p.held_first == 4 && p.held == 5 && p.first_block == 2 && p.n_blocks == 0 && p.keep_first == 4 &&
           p.keep == 7));
    // Plain (ratio 16): only the open block is held.
    p = plan_compressor(16, false, 20, 30);
    CHECK((p.held_first == 16 && p.held == 4 && p.first_block == 1 && p.n_blocks == 2 && p.keep_first == 48 &&
           p.keep == 2));
    for (int64_t n_past = 0; n_past < 40; ++n_past) {
        CHECK(n_past - mneme::compressor_first_held(4, true, n_past) < mneme::compressor_state_rows(4, true));
        CHECK(n_past - mneme::compressor_first_held(5, false, n_past) < mneme::compressor_state_rows(5, false));
    }
}

TEST_CASE("compressor entries appear once complete and do not depend on chunking", "[unit][v4][compressor]") {
    std::mt19937_64 rng(31);
    const int64_t d = 6, width = 5, tokens = 23;
    const double sentinel = 777.0, eps = 1e-6;
    for (auto [ratio, overlap] : std::vector<std::pair<int64_t, bool>>{{4, true}, {3, false}, {1, false}}) {
        const int64_t cw = overlap ? 2 * width : width, n_entries = tokens / ratio;
        const auto x = random_values(rng, d * tokens), wkv = random_values(rng, cw * d),
                   wgate = random_values(rng, cw * d);
        const auto ape = random_values(rng, ratio * cw), norm = random_values(rng, width, 0.5, 1.5);

        // The definition, over the whole sequence at once.
        std::vector<double> a(tokens * cw), b(tokens * cw), want(n_entries * width);
        for (int64_t t = 0; t < tokens; ++t)
            for (int64_t o = 0; o < cw; ++o) {
                for (int64_t k = 0; k < d; ++k) {
                    a[t * cw + o] += x[t * d + k] * wkv[o * d + k];
                    b[t * cw + o] += x[t * d + k] * wgate[o * d + k];
                }
                b[t * cw + o] += ape[(t % ratio) * cw + o];
            }
        for (int64_t j = 0; j < n_entries; ++j) {
            std::vector<double> e(width);
            for (int64_t c = 0; c < width; ++c) {
                std::vector<std::pair<double, double>> cand;
                if (overlap && j > 0)
                    for (int64_t t = (j - 1) * ratio; t < j * ratio; ++t)
                        cand.push_back({a[t * cw + c], b[t * cw + c]});
                const int64_t ch = overlap ? width + c : c;
                for (int64_t t = j * ratio; t < (j + 1) * ratio; ++t) cand.push_back({a[t * cw + ch], b[t * cw + ch]});
                double m = -std::numeric_limits<double>::infinity(), num = 0, den = 0;
                for (auto& [v, s] : cand) m = std::max(m, s);
                for (auto& [v, s] : cand) num += v * std::exp(s - m), den += std::exp(s - m);
                e[c] = num / den;
            }
            double ss = 0;
            for (double v : e) ss += v * v;
            for (int64_t c = 0; c < width; ++c) want[j * width + c] = e[c] * norm[c] / std::sqrt(ss / width + eps);
        }

        for (int64_t chunk : {tokens, int64_t{1}, int64_t{3}, int64_t{5}, int64_t{7}}) {
            INFO("ratio " << ratio << " chunk " << chunk);
            cpu_device cpu(MNEME_DTYPE_F64);
            auto& g = cpu.g();
            mneme::compressor_weights w;
            w.ratio = ratio;
            w.width = width;
            w.overlap = overlap;
            w.wkv.w = cpu.constant({d, cw}, wkv);
            w.wgate.w = cpu.constant({d, cw}, wgate);
            w.ape = cpu.constant({cw, ratio}, ape);
            w.norm = cpu.constant({width}, norm);
            const int64_t rows = mneme::compressor_state_rows(ratio, overlap);
            mneme::compressor_state st{cpu.constant({cw, rows}, std::vector<double>(cw * rows, 0.0)),
                                       cpu.constant({cw, rows}, std::vector<double>(cw * rows, 0.0))};
            const auto entries = cpu.constant({width, n_entries}, std::vector<double>(width * n_entries, sentinel));
            const auto xs = cpu.constant({d, tokens}, x);
            for (int64_t p = 0; p < tokens; p += chunk) {
                const int64_t n = std::min(chunk, tokens - p);
                const auto pl = mneme::run_compressor(g, w, st, mneme::rows_of(xs, p, n), p, entries, eps);
                CHECK(pl.first_block + pl.n_blocks == (p + n) / ratio);
                const auto got = g.read(entries);
                for (int64_t j = 0; j < n_entries; ++j) {
                    for (int64_t c = 0; c < width; ++c) {
                        const double v = got[static_cast<std::size_t>(j * width + c)];
                        if (j < (p + n) / ratio) {
                            REQUIRE(std::fabs(v - want[j * width + c]) <= 1e-12);
                        } else {
                            REQUIRE(v == sentinel);  // not complete yet: never written
                        }
                    }
                }
            }
        }
    }
}

TEST_CASE("indexer scores mask incomplete blocks; top-k ties go to the lower block", "[unit][v4][indexer]") {
    cpu_device cpu(MNEME_DTYPE_F64);
    auto& g = cpu.g();
    const double inf = std::numeric_limits<double>::infinity();
    // 2 heads of width 2; queries at positions 5, 6, 7 (start_pos 5); 3 block keys of ratio 4.
    const auto q = cpu.constant({2, 2, 3}, {1, 0, 0, 1, /**/ -1, -1, 1, 0, /**/ 1, 1, 0, 0});
    const auto w = cpu.constant({2, 3}, {1, 0.5, 2, 1, 1, 1});
    const auto k = cpu.constant({2, 3}, {2, 1, 3, -1, -4, 5});
    const auto scores = g.tensor({3, 3});
    g.indexer_scores(scores, q, w, k, 5, 4);
    const auto got = g.read(scores);
    // Complete blocks: (pos + 1) / 4 = 1, 1, 2.
    const std::vector<double> want = {1 * 2 + 0.5 * 1, -inf,      -inf,  //
                                      2 * 0 + 1 * 2,   -inf,      -inf,  //
                                      1 * 3 + 1 * 0,   1 * 2 + 0, -inf};
    for (std::size_t i = 0; i < want.size(); ++i) {
        INFO("score " << i);
        CHECK(got[i] == want[i]);
    }
    // Top-2: an incomplete block may be picked (the attention masks it again); equal scores keep
    // the lower index first.
    const auto tied = cpu.constant({4, 1}, {0, 3, 0, 3});
    const auto picked = g.tensor_of(MNEME_DTYPE_I32, {3, 1});
    g.topk(picked, tied, 3);
    CHECK(g.read(picked) == std::vector<double>{1, 3, 0});
}
