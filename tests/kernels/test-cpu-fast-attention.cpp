// The fast float32 attention and indexer scan against the reference kernels: windows, index lists
// with invalid and future entries, attention sinks, compressed entries, odd head counts and widths.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "fast-kernels.h"
#include "fast-test-support.h"
#include "mneme_kernels/cpu-ops.h"
#include "mneme_kernels/number-formats.h"

namespace {

namespace k = mneme::kernels;

std::vector<float> random_floats(std::mt19937_64& rng, std::size_t n) {
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::vector<float> v(n);
    for (auto& x : v) x = u(rng);
    return v;
}

// Random keys, the same keys rounded to BF16, and those widened back to float32 (exactly).
struct key_copies {
    std::vector<float> raw;
    std::vector<uint16_t> half;
    std::vector<float> wide;
};
key_copies bf16_keys(std::mt19937_64& rng, std::size_t n) {
    key_copies c{random_floats(rng, n), std::vector<uint16_t>(n), std::vector<float>(n)};
    for (std::size_t i = 0; i < n; ++i) {
        c.half[i] = k::f32_to_bf16(c.raw[i]);
        c.wide[i] = k::bf16_to_f32(c.half[i]);
    }
    return c;
}

// One indexer call's inputs: queries × heads × d query elements, their head weights, and keys in
// three copies (see bf16_keys), drawn in that order.
struct indexer_inputs {
    std::vector<float> q, w;
    key_copies keys;
};
indexer_inputs indexer_draw(std::mt19937_64& rng, int64_t queries, int64_t heads, int64_t d, int64_t key_elems) {
    indexer_inputs in;
    in.q = random_floats(rng, static_cast<std::size_t>(queries * heads * d));
    in.w = random_floats(rng, static_cast<std::size_t>(queries * heads));
    in.keys = bf16_keys(rng, static_cast<std::size_t>(key_elems));
    return in;
}

struct attention_case {
    int64_t heads, queries, dk, dv, n_keys;
    bool indexed, with_sink, with_comp;
    int64_t window, key_start;
    int64_t n_indices = 9;  // per query, when indexed
};

// Random inputs for one case; `a` points into the vectors (moving the struct keeps them valid).
struct attention_inputs {
    k::attention_args a;
    std::vector<float> q, kk, v, sink, comp;
    std::vector<int32_t> idx;
};

attention_inputs make_inputs(std::mt19937_64& rng, const attention_case& c) {
    attention_inputs in;
    k::attention_args& a = in.a;
    a.heads = c.heads;
    a.queries = c.queries;
    a.dk = c.dk;
    a.dv = c.dv;
    a.q_head_stride = c.dk + 1;
    a.q_stride = a.q_head_stride * c.heads + 2;
    a.k_stride = c.dk + 3;
    a.v_stride = c.dv + 1;
    a.n_keys = c.n_keys;
    a.out_head_stride = c.dv + 2;
    a.out_stride = a.out_head_stride * c.heads;
    a.scale = 1.0 / std::sqrt(double(c.dk));
    a.start_pos = c.key_start + c.n_keys - c.queries;
    a.window = c.window;
    a.key_start = c.key_start;
    in.q = random_floats(rng, static_cast<std::size_t>(a.q_stride * c.queries));
    in.kk = random_floats(rng, static_cast<std::size_t>(a.k_stride * c.n_keys));
    in.v = random_floats(rng, static_cast<std::size_t>(a.v_stride * c.n_keys));
    in.sink = random_floats(rng, static_cast<std::size_t>(c.heads));
    if (c.with_comp) {
        a.ratio = 4;
        a.n_comp = (a.start_pos + c.queries) / 4 + 1;
        a.comp_stride = std::max(c.dk, c.dv) + 1;
        in.comp = random_floats(rng, static_cast<std::size_t>(a.comp_stride * a.n_comp));
        a.comp = in.comp.data();
    }
    if (c.indexed) {
        a.n_indices = c.n_indices;
        const int64_t range = c.with_comp ? a.n_comp : c.n_keys;
        std::uniform_int_distribution<int32_t> pick(-1, static_cast<int32_t>(range + 1));  // invalid ones too
        in.idx.resize(static_cast<std::size_t>(a.n_indices * c.queries));
        for (auto& i : in.idx) i = pick(rng);
        a.indices = in.idx.data();
    }
    return in;
}

void check_attention(mneme::test::pooled_exec& ex, std::mt19937_64& rng, const attention_case& c) {
    const attention_inputs in = make_inputs(rng, c);
    const k::attention_args& a = in.a;
    const std::vector<float>&q = in.q, &kk = in.kk, &v = in.v, &sink = in.sink;
    const std::size_t out_n = static_cast<std::size_t>(a.out_stride * c.queries);
    std::vector<float> ref(out_n, 5.0f), got(out_n, 5.0f);
    const float* s = c.with_sink ? sink.data() : nullptr;
    k::attention<float>(ex.ctx, a, q.data(), kk.data(), v.data(), s, ref.data());
    k::fast::attention(ex.ctx, a, q.data(), kk.data(), v.data(), s, got.data());
    for (std::size_t i = 0; i < out_n; ++i) {
        INFO("element " << i << " ref " << ref[i] << " got " << got[i]);
        REQUIRE(std::fabs(double(ref[i]) - got[i]) <= 1e-5);  // values lie in [-1, 1]
    }
}

}  // namespace

TEST_CASE("fast attention equals the reference", "[fast][attention]") {
    mneme::test::pooled_exec ex;
    std::mt19937_64 rng(99);
    mneme::test::for_each_isa([&](k::fast::isa isa) {
        for (int64_t heads : {1, 3, 17}) {
            for (int64_t dk : {1, 13, 64, 70}) {
                for (int64_t queries : {1, 4}) {
                    for (int variant = 0; variant < 8; ++variant) {
                        // 6, 7: long index lists (taken in several chunks), over keys and over
                        // compressed entries with a sink.
                        attention_case c{heads,
                                         queries,
                                         dk,
                                         dk == 64 ? 64 : 11,
                                         300,
                                         variant == 1 || variant >= 4,
                                         variant == 2 || variant == 4 || variant == 7,
                                         variant == 4 || variant == 5 || variant == 7,
                                         variant == 3 ? 37 : 0,
                                         variant == 5 ? 5 : 0,
                                         variant >= 6 ? 211 : 9};
                        INFO("isa " << k::fast::isa_name(isa) << " heads " << heads << " dk " << dk << " queries "
                                    << queries << " variant " << variant);
                        check_attention(ex, rng, c);
                    }
                }
            }
        }
    });
}

TEST_CASE("indexer scores over BF16 keys equal those over the keys widened", "[fast][indexer]") {
    // Widening BF16 is exact, so the BF16 scan must give the float32 scan's scores bit for bit (and
    // therefore the reference's within its tolerance, checked above): both the panel path, which
    // decodes straight into packed panels, and the row path of instruction sets without panels.
    mneme::test::pooled_exec ex;
    std::mt19937_64 rng(6);
    mneme::test::for_each_isa([&](k::fast::isa isa) {
        for (int64_t heads : {1, 5}) {
            for (int64_t d : {1, 17, 64, 128}) {
                for (int64_t queries : {1, 3}) {
                    // Keys back to back (a cache's layout, widened in one call) and padded rows.
                    for (int64_t ratio : {1, 4}) {
                        const int64_t n_keys = 299, k_stride = ratio == 1 ? d : d + 3;
                        const int64_t start_pos = ratio * n_keys - queries - 3;
                        const auto [q, w, keys] = indexer_draw(rng, queries, heads, d, n_keys * k_stride);
                        const auto& [raw, half, wide] = keys;
                        std::vector<float> want(static_cast<std::size_t>(queries * n_keys)), got(want.size(), 3.0f);
                        k::fast::indexer_scores(ex.ctx, q.data(), w.data(), wide.data(), d, heads, queries, n_keys,
                                                k_stride, start_pos, ratio, want.data());
                        k::fast::indexer_scores_bf16(ex.ctx, q.data(), w.data(), half.data(), d, heads, queries, n_keys,
                                                     k_stride, start_pos, ratio, got.data());
                        INFO("isa " << k::fast::isa_name(isa) << " heads " << heads << " d " << d << " queries "
                                    << queries << " ratio " << ratio);
                        REQUIRE(std::memcmp(got.data(), want.data(), want.size() * sizeof(float)) == 0);
                    }
                }
            }
        }
    });
}

TEST_CASE("a lone query's indexer scores equal its scores within a batch, bit for bit", "[fast][indexer]") {
    // A decoding step's single query takes head_dots (heads in the vector lanes) where the
    // instruction set has it; a batch of queries takes the packed-panel product. Both sum each
    // dot in the same order with fused multiply-adds, so a query scores alike either way.
    mneme::test::pooled_exec ex;
    std::mt19937_64 rng(7);
    mneme::test::for_each_isa([&](k::fast::isa isa) {
        for (int64_t heads : {1, 13, 16, 17, 40, 64, 100}) {
            for (int64_t d : {1, 7, 64, 128}) {
                const int64_t queries = 4, n_keys = 283, k_stride = d + 1, start_pos = n_keys - queries;
                auto q = random_floats(rng, static_cast<std::size_t>(queries * heads * d));
                auto w = random_floats(rng, static_cast<std::size_t>(queries * heads));
                auto kk = random_floats(rng, static_cast<std::size_t>(n_keys * k_stride));
                std::vector<float> batch(static_cast<std::size_t>(queries * n_keys)),
                    lone(static_cast<std::size_t>(n_keys));
                k::fast::indexer_scores(ex.ctx, q.data(), w.data(), kk.data(), d, heads, queries, n_keys, k_stride,
                                        start_pos, 1, batch.data());
                for (int64_t s = 0; s < queries; ++s) {
                    k::fast::indexer_scores(ex.ctx, q.data() + s * heads * d, w.data() + s * heads, kk.data(), d, heads,
                                            1, n_keys, k_stride, start_pos + s, 1, lone.data());
                    INFO("isa " << k::fast::isa_name(isa) << " heads " << heads << " d " << d << " query " << s);
                    REQUIRE(std::memcmp(lone.data(), batch.data() + s * n_keys, lone.size() * sizeof(float)) == 0);
                }
            }
        }
    });
}

// Queries as V3.2 and V4 give them with the activation round trips on: every element a BF16 value.
std::vector<float> bf16_valued(std::mt19937_64& rng, std::size_t n) {
    std::vector<float> v = random_floats(rng, n);
    for (auto& x : v) x = k::bf16_to_f32(k::f32_to_bf16(x));
    return v;
}

TEST_CASE("BF16-exact queries on BF16 dot products: the reference's scores, a lone query's alike in a batch",
          "[fast][indexer]") {
    mneme::test::pooled_exec ex;
    std::mt19937_64 rng(8);
    mneme::test::for_each_isa([&](k::fast::isa isa) {
        const k::fast::kernel_table& kt = k::fast::active_kernels();
        for (int64_t heads : {1, 13, 16, 17, 40, 64, 100, 128}) {
            for (int64_t d : {2, 17, 64, 128}) {
                INFO("isa " << k::fast::isa_name(isa) << " heads " << heads << " d " << d);
                const int64_t queries = 16, n_keys = 283, k_stride = d + 2, start_pos = n_keys - queries;
                const auto q = bf16_valued(rng, static_cast<std::size_t>(queries * heads * d));
                const auto w = random_floats(rng, static_cast<std::size_t>(queries * heads));
                const key_copies keys = bf16_keys(rng, static_cast<std::size_t>(n_keys * k_stride));
                std::vector<float> ref(static_cast<std::size_t>(queries * n_keys)), batch(ref.size(), 3.0f),
                    lone(static_cast<std::size_t>(n_keys));
                k::indexer_scores<float>(ex.ctx, q.data(), w.data(), keys.wide.data(), d, heads, queries, n_keys,
                                         k_stride, start_pos, 1, ref.data());
                k::fast::indexer_scores_bf16(ex.ctx, q.data(), w.data(), keys.half.data(), d, heads, queries, n_keys,
                                             k_stride, start_pos, 1, batch.data());
                for (std::size_t i = 0; i < ref.size(); ++i) {
                    INFO("element " << i);
                    if (std::isinf(ref[i])) {
                        REQUIRE(batch[i] == ref[i]);
                    } else {
                        REQUIRE(std::fabs(double(ref[i]) - batch[i]) <= 1e-5 * (1.0 + heads * d));
                    }
                }
                // A decoding step's query and the same query in a drafting verify pass (up to 16).
                for (int64_t s = 0; s < queries; ++s) {
                    k::fast::indexer_scores_bf16(ex.ctx, q.data() + s * heads * d, w.data() + s * heads,
                                                 keys.half.data(), d, heads, 1, n_keys, k_stride, start_pos + s, 1,
                                                 lone.data());
                    INFO("query " << s);
                    REQUIRE(std::memcmp(lone.data(), batch.data() + s * n_keys, lone.size() * sizeof(float)) == 0);
                }
                // The kernel itself against float64 sums of the exact products.
                if (kt.head_dots_bf16 && d % 2 == 0) {
                    std::vector<uint32_t> qp(static_cast<std::size_t>(d / 2 * k::fast::head_vectors(heads) * 16));
                    REQUIRE(k::fast::pack_heads_bf16(q.data(), heads, d, qp.data()));
                    std::vector<float> dots(static_cast<std::size_t>(heads * n_keys));
                    REQUIRE(kt.head_dots_bf16(qp.data(), heads, keys.half.data(), k_stride, n_keys, d, dots.data(),
                                              n_keys));
                    for (int64_t h = 0; h < heads; ++h) {
                        for (int64_t j = 0; j < n_keys; ++j) {
                            double exact = 0, magnitude = 0;
                            for (int64_t c = 0; c < d; ++c) {
                                const double t = double(q[static_cast<std::size_t>(h * d + c)]) *
                                                 keys.wide[static_cast<std::size_t>(j * k_stride + c)];
                                exact += t;
                                magnitude += std::fabs(t);
                            }
                            INFO("head " << h << " key " << j);
                            REQUIRE(std::fabs(exact - dots[static_cast<std::size_t>(h * n_keys + j)]) <=
                                    1e-6 * magnitude);
                        }
                    }
                }
            }
        }
    });
}

TEST_CASE("queries that BF16 does not hold exactly, or holds as subnormals, keep the float32 dots", "[fast][indexer]") {
    // pack_heads_bf16 refuses them; the scan then scores them exactly as with float32 keys.
    mneme::test::pooled_exec ex;
    std::mt19937_64 rng(9);
    const int64_t heads = 16, d = 64, queries = 2, n_keys = 300, start_pos = n_keys - queries;
    for (const float odd : {1.0f + 0x1p-12f, 0x1p-130f}) {
        auto q = bf16_valued(rng, static_cast<std::size_t>(queries * heads * d));
        q[37] = odd;
        std::vector<uint32_t> qp(static_cast<std::size_t>(d / 2 * k::fast::head_vectors(heads) * 16));
        CHECK_FALSE(k::fast::pack_heads_bf16(q.data(), heads, d, qp.data()));
        const auto w = random_floats(rng, static_cast<std::size_t>(queries * heads));
        const key_copies keys = bf16_keys(rng, static_cast<std::size_t>(n_keys * d));
        std::vector<float> want(static_cast<std::size_t>(queries * n_keys)), got(want.size());
        mneme::test::for_each_isa([&](k::fast::isa isa) {
            INFO("isa " << k::fast::isa_name(isa) << " element " << odd);
            k::fast::indexer_scores(ex.ctx, q.data(), w.data(), keys.wide.data(), d, heads, queries, n_keys, d,
                                    start_pos, 1, want.data());
            k::fast::indexer_scores_bf16(ex.ctx, q.data(), w.data(), keys.half.data(), d, heads, queries, n_keys, d,
                                         start_pos, 1, got.data());
            REQUIRE(std::memcmp(got.data(), want.data(), want.size() * sizeof(float)) == 0);
        });
    }
}

TEST_CASE("fast indexer scores equal the reference", "[fast][indexer]") {
    mneme::test::pooled_exec ex;
    std::mt19937_64 rng(5);
    mneme::test::for_each_isa([&](k::fast::isa isa) {
        for (int64_t heads : {1, 4, 7}) {
            for (int64_t d : {1, 17, 64}) {
                for (int64_t queries : {1, 3, 9}) {
                    // Queries near the end see almost every key; early ones leave whole key blocks masked.
                    for (int64_t ratio : {1, 4}) {
                        for (int64_t early : {0, 1}) {
                            const int64_t n_keys = 531, k_stride = d + 2;
                            const int64_t start_pos = early ? 5 : ratio * n_keys - queries - 3;
                            auto q = random_floats(rng, static_cast<std::size_t>(queries * heads * d));
                            auto w = random_floats(rng, static_cast<std::size_t>(queries * heads));
                            auto kk = random_floats(rng, static_cast<std::size_t>(n_keys * k_stride));
                            std::vector<float> ref(static_cast<std::size_t>(queries * n_keys)), got(ref.size(), 3.0f);
                            k::indexer_scores<float>(ex.ctx, q.data(), w.data(), kk.data(), d, heads, queries, n_keys,
                                                     k_stride, start_pos, ratio, ref.data());
                            k::fast::indexer_scores(ex.ctx, q.data(), w.data(), kk.data(), d, heads, queries, n_keys,
                                                    k_stride, start_pos, ratio, got.data());
                            for (std::size_t i = 0; i < ref.size(); ++i) {
                                INFO("isa " << k::fast::isa_name(isa) << " heads " << heads << " d " << d << " queries "
                                            << queries << " ratio " << ratio << " element " << i);
                                if (std::isinf(ref[i])) {
                                    REQUIRE(got[i] == ref[i]);
                                } else {
                                    REQUIRE(std::fabs(double(ref[i]) - got[i]) <= 1e-5 * (1.0 + heads * d));
                                }
                            }
                        }
                    }
                }
            }
        }
    });
}

TEST_CASE("MQA value sums equal float64 sums, each head alike whatever heads are beside it", "[fast][attention]") {
    std::mt19937_64 rng(31);
    mneme::test::for_each_isa([&](k::fast::isa isa) {
        const k::fast::kernel_table& kt = k::fast::active_kernels();
        if (!kt.mqa_values) return;
        for (int64_t heads : {1, 3, 8, 9, 17}) {
            for (int64_t n : {1, 4, 7, 64}) {
                for (int64_t len : {1, 15, 16, 17, 31, 33, 70}) {
                    const int64_t p_stride = n + 3, y_stride = len + 5;
                    const std::vector<float> p = random_floats(rng, static_cast<std::size_t>(heads * p_stride));
                    std::vector<std::vector<float>> rows;
                    std::vector<const float*> v;
                    for (int64_t j = 0; j < n; ++j) rows.push_back(random_floats(rng, static_cast<std::size_t>(len)));
                    for (const auto& r : rows) v.push_back(r.data());
                    std::vector<float> y(static_cast<std::size_t>(heads * y_stride), 7.0f);
                    kt.mqa_values(p.data(), p_stride, heads, v.data(), n, len, y.data(), y_stride);
                    INFO("isa " << k::fast::isa_name(isa) << " heads " << heads << " n " << n << " len " << len);
                    for (int64_t h = 0; h < heads; ++h) {
                        std::vector<float> alone(static_cast<std::size_t>(len) + 1, 7.0f);
                        kt.mqa_values(p.data() + h * p_stride, p_stride, 1, v.data(), n, len, alone.data(), len);
                        REQUIRE(alone[static_cast<std::size_t>(len)] == 7.0f);  // nothing past the row
                        for (int64_t i = 0; i < len; ++i) {
                            double want = 0;
                            for (int64_t j = 0; j < n; ++j) want += double(p[h * p_stride + j]) * v[j][i];
                            const float got = y[static_cast<std::size_t>(h * y_stride + i)];
                            REQUIRE(std::fabs(want - got) <= 1e-5 * double(n));
                            REQUIRE(got == alone[static_cast<std::size_t>(i)]);
                        }
                        // The gap between rows is left alone.
                        for (int64_t i = len; i < y_stride && h + 1 < heads; ++i) {
                            REQUIRE(y[static_cast<std::size_t>(h * y_stride + i)] == 7.0f);
                        }
                    }
                }
            }
        }
    });
}

TEST_CASE("fast attention gives a query the same output alone as in a batch, bit for bit", "[fast][attention]") {
    // A decode step (one query) splits its keys and heads into other work items than a batch does;
    // a query's result must not depend on that (drafting's verify passes must reproduce decoding).
    mneme::test::pooled_exec ex;
    std::mt19937_64 rng(7);
    mneme::test::for_each_isa([&](k::fast::isa isa) {
        for (int64_t heads : {1, 5, 8, 17, 40}) {
            for (const int64_t queries : {4, 19}) {  // 19: more than a verify pass holds
                for (int variant = 0; variant < 4; ++variant) {
                    // index lists; the causal prompt; a window with compressed entries and a sink;
                    // index lists over compressed entries with a sink.
                    const bool indexed = variant == 0 || variant == 3, comp = variant >= 2, with_sink = variant >= 2;
                    const attention_inputs in = make_inputs(
                        rng, {heads, queries, 70, 64, 300, indexed, with_sink, comp, variant == 2 ? 37 : 0, 0, 173});
                    const k::attention_args& a = in.a;
                    const std::vector<float>&q = in.q, &kk = in.kk, &v = in.v;
                    const float* sink = with_sink ? in.sink.data() : nullptr;
                    std::vector<float> batch(static_cast<std::size_t>(a.out_stride * queries));
                    k::fast::attention(ex.ctx, a, q.data(), kk.data(), v.data(), sink, batch.data());
                    for (int64_t s = 0; s < queries; ++s) {
                        k::attention_args one = a;
                        one.queries = 1;
                        one.start_pos = a.start_pos + s;
                        if (indexed) one.indices = in.idx.data() + s * a.n_indices;
                        std::vector<float> alone(static_cast<std::size_t>(a.out_stride));
                        k::fast::attention(ex.ctx, one, q.data() + s * a.q_stride, kk.data(), v.data(), sink,
                                           alone.data());
                        INFO("isa " << k::fast::isa_name(isa) << " heads " << heads << " queries " << queries
                                    << " variant " << variant << " query " << s);
                        REQUIRE(std::equal(alone.begin(), alone.end(), batch.begin() + s * a.out_stride));
                    }
                }
            }
        }
    });
}

TEST_CASE("prefill-sized indexer batches on AMX tiles equal the reference, and BF16 keys their widened copies",
          "[fast][indexer][amx]") {
    // From 17 queries on, keys that BF16 holds exactly (BF16 keys, or float32 keys that are all
    // BF16 values) take the tiles; other float32 keys keep the panels. Query and key counts
    // leave partial 32-row and 32-key tiles, d partial 32-element steps.
    mneme::test::pooled_exec ex;
    std::mt19937_64 rng(8);
    mneme::test::for_each_isa([&](k::fast::isa isa) {
        for (int64_t heads : {1, 5, 16}) {
            for (int64_t d : {1, 17, 64, 128}) {
                for (int64_t queries : {17, 40}) {
                    for (int64_t ratio : {1, 4}) {
                        const int64_t n_keys = 301, k_stride = d + 3;
                        const int64_t start_pos = ratio * n_keys - queries - 3;
                        const auto [q, w, keys] = indexer_draw(rng, queries, heads, d, n_keys * k_stride);
                        const auto& [raw, half, wide] = keys;
                        const auto size = static_cast<std::size_t>(queries * n_keys);
                        std::vector<float> ref(size), got_wide(size, 3.0f), got_half(size, 3.0f), got_raw(size, 3.0f),
                            ref_raw(size);
                        k::indexer_scores<float>(ex.ctx, q.data(), w.data(), wide.data(), d, heads, queries, n_keys,
                                                 k_stride, start_pos, ratio, ref.data());
                        k::fast::indexer_scores(ex.ctx, q.data(), w.data(), wide.data(), d, heads, queries, n_keys,
                                                k_stride, start_pos, ratio, got_wide.data());
                        k::fast::indexer_scores_bf16(ex.ctx, q.data(), w.data(), half.data(), d, heads, queries, n_keys,
                                                     k_stride, start_pos, ratio, got_half.data());
                        k::indexer_scores<float>(ex.ctx, q.data(), w.data(), raw.data(), d, heads, queries, n_keys,
                                                 k_stride, start_pos, ratio, ref_raw.data());
                        k::fast::indexer_scores(ex.ctx, q.data(), w.data(), raw.data(), d, heads, queries, n_keys,
                                                k_stride, start_pos, ratio, got_raw.data());
                        INFO("isa " << k::fast::isa_name(isa) << " heads " << heads << " d " << d << " queries "
                                    << queries << " ratio " << ratio);
                        REQUIRE(std::memcmp(got_half.data(), got_wide.data(), size * sizeof(float)) == 0);
                        // Tolerance relative to the magnitude of the terms summed: float32 rounding in
                        // another order, far below what a lost BF16 part would leave (2^-16 of it).
                        for (std::size_t i = 0; i < size; ++i) {
                            const int64_t s = static_cast<int64_t>(i) / n_keys, j = static_cast<int64_t>(i) % n_keys;
                            double mag = 0;
                            for (int64_t h = 0; h < heads; ++h) {
                                double dot = 0;
                                for (int64_t c = 0; c < d; ++c) {
                                    dot += std::fabs(double(q[static_cast<std::size_t>((s * heads + h) * d + c)]) *
                                                     raw[static_cast<std::size_t>(j * k_stride + c)]);
                                }
                                mag += std::fabs(double(w[static_cast<std::size_t>(s * heads + h)])) * dot;
                            }
                            INFO("element " << i);
                            for (const auto& [want, got] :
                                 {std::pair{ref[i], got_wide[i]}, std::pair{ref_raw[i], got_raw[i]}}) {
                                if (std::isinf(want)) {
                                    REQUIRE(got == want);
                                } else {
                                    REQUIRE(std::fabs(double(want) - got) <= 2e-6 * mag + 1e-30);
                                }
                            }
                        }
                    }
                }
            }
        }
    });
}

TEST_CASE("softmax numerators: exp within 2 ulp of std::exp, the maximum and the sum", "[fast][attention]") {
    std::mt19937_64 rng(43);
    const float inf = std::numeric_limits<float>::infinity();
    mneme::test::for_each_isa([&](k::fast::isa isa) {
        for (const int64_t n : {1, 2, 7, 8, 15, 16, 17, 31, 33, 1000, 4099}) {
            INFO("isa " << k::fast::isa_name(isa) << " n " << n);
            // Shifted scores from 0 down past float32's smallest normal result, with -inf (masked) ones.
            std::uniform_real_distribution<float> u(-130.0f, 0.5f);
            std::vector<float> s(static_cast<std::size_t>(n));
            for (auto& v : s) v = u(rng);
            if (n > 3) s[2] = -inf;
            if (n > 9) s[9] = 0.0f;
            std::vector<float> got = s;
            const float scale = 0.75f;
            float m = 0.0f;
            const float sum = k::fast::softmax_numerators(got.data(), n, scale, &m);
            float want_m = -inf;
            for (const float v : s) want_m = std::max(want_m, v * scale);
            CHECK(m == want_m);
            double want_sum = 0.0;
            for (int64_t j = 0; j < n; ++j) {
                const float want = std::exp(s[j] * scale - want_m);
                want_sum += want;
                // Results below float32's normal range may be flushed to 0 (the AVX2 form).
                const float tol = std::max(2.0f * std::numeric_limits<float>::epsilon() * want, 1.2e-38f);
                INFO("j " << j << " x " << s[j] * scale - want_m << " got " << got[j] << " want " << want);
                REQUIRE(std::fabs(got[j] - want) <= tol);
                if (s[j] == -inf) REQUIRE(got[j] == 0.0f);
            }
            CHECK(std::fabs(sum - want_sum) <= 1e-6 * want_sum);
        }
        // NaN scores are passed over for the maximum and come out NaN, as with std::exp; a row of
        // -inf has no finite maximum, and every numerator is NaN (-inf - -inf), as with std::exp.
        std::vector<float> s = {1.0f, std::numeric_limits<float>::quiet_NaN(), 3.0f, -1.0f};
        float m = 0.0f;
        CHECK(std::isnan(k::fast::softmax_numerators(s.data(), 4, 1.0f, &m)));
        CHECK(m == 3.0f);
        CHECK(std::isnan(s[1]));
        CHECK(s[2] == 1.0f);
        std::vector<float> masked(5, -inf);
        CHECK(std::isnan(k::fast::softmax_numerators(masked.data(), 5, 1.0f, &m)));
        CHECK(m == -inf);
    });
}
