// The op cases. Shapes mix 1, primes and sizes that are no multiple of a workgroup (64); views
// have padded rows and offsets that are not 16-byte aligned. Float32 reductions are compared with
// a relative tolerance (summation order may differ between backends); data movement, decoding and
// the FP8/FP4 round trips must match bit for bit.
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include "op-case-builder.h"

namespace mneme::backend_test {
namespace {

constexpr double k_tol = 2e-5;  // float32 results of short reductions, relative to max |ref|

const char* dtype_text(mneme_dtype t) {
    switch (t) {
        case MNEME_DTYPE_F32:
            return "f32";
        case MNEME_DTYPE_BF16:
            return "bf16";
        case MNEME_DTYPE_F16:
            return "f16";
        case MNEME_DTYPE_F8_E4M3:
            return "e4m3";
        case MNEME_DTYPE_FP4_E2M1:
            return "e2m1";
        case MNEME_DTYPE_F8_E8M0:
            return "e8m0";
        default:
            return "?";
    }
}

const mneme_dtype k_weight_types[] = {MNEME_DTYPE_F32, MNEME_DTYPE_BF16, MNEME_DTYPE_F16, MNEME_DTYPE_F8_E4M3,
                                      MNEME_DTYPE_FP4_E2M1};

void matmul_cases(std::vector<op_case>& out) {
    struct shape {
        int64_t k, n, r;
    };
    const shape shapes[] = {{1, 1, 1}, {37, 7, 3}, {130, 67, 13}};
    uint32_t seed = 100;
    for (mneme_dtype wt : k_weight_types) {
        for (const shape& s : shapes) {
            for (mneme_dtype st : {MNEME_DTYPE_UNDEFINED, MNEME_DTYPE_F32, MNEME_DTYPE_F8_E8M0}) {
                if (st != MNEME_DTYPE_UNDEFINED && s.k == 1) continue;
                std::string name = std::string("matmul/") + dtype_text(wt) + "/" + std::to_string(s.k) + "x" +
                                   std::to_string(s.n) + "x" + std::to_string(s.r);
                if (st != MNEME_DTYPE_UNDEFINED) name += std::string("/scales-") + dtype_text(st);
                case_builder b(name, MNEME_OP_MATMUL, seed++);
                b.dst(MNEME_DTYPE_F32, {s.n, s.r}, {3, 12});
                const int x = b.f32({s.k, s.r}, -1, 1, {5, 4});
                const int w = b.weight(wt, s.k, s.n, {wt == MNEME_DTYPE_F32 ? 0 : 2, 8});
                const uint32_t bk = 32, bn = 16;
                if (st != MNEME_DTYPE_UNDEFINED) {
                    const int sc = b.scales(st, (s.k + bk - 1) / bk, (s.n + bn - 1) / bn);
                    b.sources({x, w, sc});
                } else {
                    b.sources({x, w});
                }
                b.params(mneme_op_matmul{s.r == 3 ? 0.5 : 1.0, bk, bn});
                out.push_back(b.done(k_tol));
            }
        }
    }
}

void row_cases(std::vector<op_case>& out) {
    uint32_t seed = 200;
    for (mneme_dtype wt : k_weight_types) {
        {
            case_builder b(std::string("copy/") + dtype_text(wt), MNEME_OP_COPY, seed++);
            b.dst(MNEME_DTYPE_F32, {67, 5}, {1, 4});
            const int src = b.weight(wt, 67, 5, {wt == MNEME_DTYPE_F32 ? 3 : 2, 0});
            b.sources({src});
            out.push_back(b.done(0));
        }
        {
            case_builder b(std::string("copy/") + dtype_text(wt) + "/scales", MNEME_OP_COPY, seed++);
            b.dst(MNEME_DTYPE_F32, {67, 5});
            const int src = b.weight(wt, 67, 5);
            const int sc = b.scales(wt == MNEME_DTYPE_FP4_E2M1 ? MNEME_DTYPE_F8_E8M0 : MNEME_DTYPE_F32, 3, 3);
            b.sources({src, sc});
            b.params(mneme_op_matmul{1.0, 32, 2});
            out.push_back(b.done(0));
        }
        for (mneme_dtype it : {MNEME_DTYPE_I32, MNEME_DTYPE_I64}) {
            case_builder b(std::string("get_rows/") + dtype_text(wt) + (it == MNEME_DTYPE_I32 ? "/i32" : "/i64"),
                           MNEME_OP_GET_ROWS, seed++);
            b.dst(MNEME_DTYPE_F32, {13, 4}, {0, 8});
            const int table = b.weight(wt, 13, 11);
            const std::vector<int64_t> ids = {10, 0, 3, 10};
            const int idx = it == MNEME_DTYPE_I32 ? b.i32({4}, {10, 0, 3, 10}) : b.i64({4}, ids);
            b.sources({table, idx});
            out.push_back(b.done(0));
        }
    }
    {
        // A plain activation copy into a strided destination (how caches are written).
        case_builder b("copy/strided-dst", MNEME_OP_COPY, seed++);
        b.dst(MNEME_DTYPE_F32, {5, 3, 2}, {7, 20});
        const int src = b.f32({5, 3, 2});
        b.sources({src});
        out.push_back(b.done(0));
    }
}

void norm_cases(std::vector<op_case>& out) {
    uint32_t seed = 300;
    for (int64_t d : {1, 7, 129}) {
        for (int variant = 0; variant < 2; ++variant) {
            case_builder b("rms_norm/" + std::to_string(d) + (variant ? "/weight" : ""), MNEME_OP_RMS_NORM, seed++);
            b.dst(MNEME_DTYPE_F32, {d, 5}, {2, 4});
            const int x = b.f32({d, 5}, -2, 2, {3, 0});
            if (variant) {
                b.sources({x, b.f32({d})});
            } else {
                b.sources({x});
            }
            b.params(mneme_op_rms_norm{1e-6});
            out.push_back(b.done(k_tol));
        }
        for (int variant = 0; variant < 3; ++variant) {
            case_builder b("layer_norm/" + std::to_string(d) + "/" + std::to_string(variant), MNEME_OP_LAYER_NORM,
                           seed++);
            b.dst(MNEME_DTYPE_F32, {d, 3});
            const int x = b.f32({d, 3}, -2, 3);
            if (variant == 0) b.sources({x});
            if (variant == 1) b.sources({x, b.f32({d})});
            if (variant == 2) b.sources({x, b.f32({d}), b.f32({d})});
            b.params(mneme_op_norm{1e-5});
            out.push_back(b.done(k_tol));
        }
    }
}

void rope_cases(std::vector<op_case>& out) {
    uint32_t seed = 400;
    for (mneme_rope_layout lay : {MNEME_ROPE_INTERLEAVED, MNEME_ROPE_HALF_SPLIT}) {
        for (int variant = 0; variant < 3; ++variant) {
            const bool inverse = variant == 1, in_place = variant == 2;
            case_builder b(std::string("rope/") + (lay == MNEME_ROPE_INTERLEAVED ? "interleaved" : "half") +
                               (inverse    ? "/inverse"
                                : in_place ? "/in-place"
                                           : ""),
                           MNEME_OP_ROPE, seed++);
            const int64_t d = 13, heads = 3, tokens = 5, n_rot = 6;
            b.dst(MNEME_DTYPE_F32, {d, heads, tokens});
            const int x = in_place ? 0 : b.f32({d, heads, tokens}, -1, 1, {0, 4});
            std::vector<float> c, s;
            for (int64_t t = 0; t < tokens; ++t) {
                for (int64_t j = 0; j < n_rot / 2; ++j) {
                    const double angle = static_cast<double>(t + 1) * std::pow(10.0, -static_cast<double>(j));
                    c.push_back(static_cast<float>(std::cos(angle)));
                    s.push_back(static_cast<float>(std::sin(angle)));
                }
            }
            const int ct = b.f32_values({n_rot / 2, tokens}, c), st = b.f32_values({n_rot / 2, tokens}, s);
            b.sources({x, ct, st});
            b.params(mneme_op_rope{lay, 3, static_cast<uint32_t>(n_rot), inverse ? MNEME_TRUE : MNEME_FALSE});
            out.push_back(b.done(k_tol));
        }
    }
}

void softmax_cases(std::vector<op_case>& out) {
    const float inf = std::numeric_limits<float>::infinity();
    case_builder b("softmax/masked", MNEME_OP_SOFTMAX, 500);
    const int64_t n = 67;
    std::vector<float> v;
    for (int r = 0; r < 4; ++r) {
        for (int64_t i = 0; i < n; ++i) {
            const bool masked = r == 3 || (r == 1 && i % 3 == 0);  // row 3 fully masked
            v.push_back(masked ? -inf : b.uniform(-5, 5));
        }
    }
    b.dst(MNEME_DTYPE_F32, {n, 4});
    b.sources({b.f32_values({n, 4}, v)});
    b.params(mneme_op_softmax{0.7});
    out.push_back(b.done(k_tol));
    case_builder one("softmax/1", MNEME_OP_SOFTMAX, 501);
    one.dst(MNEME_DTYPE_F32, {1, 3});
    one.sources({one.f32({1, 3})});
    one.params(mneme_op_softmax{1.0});
    out.push_back(one.done(k_tol));
}

void elementwise_cases(std::vector<op_case>& out) {
    uint32_t seed = 600;
    for (mneme_op_type t : {MNEME_OP_ADD, MNEME_OP_MUL}) {
        for (bool broadcast : {false, true}) {
            case_builder b(std::string(t == MNEME_OP_ADD ? "add" : "mul") + (broadcast ? "/broadcast" : ""), t, seed++);
            b.dst(MNEME_DTYPE_F32, {67, 5});
            b.sources({b.f32({67, 5}), b.f32({67, broadcast ? 1 : 5})});
            out.push_back(b.done(0));
        }
    }
    {
        case_builder b("scale", MNEME_OP_SCALE, seed++);
        b.dst(MNEME_DTYPE_F32, {131});
        b.sources({b.f32({131})});
        b.params(mneme_op_scale{-1.5, 0.25});
        out.push_back(b.done(1e-7));
    }
    for (double limit : {0.0, 0.8}) {
        for (bool weighted : {false, true}) {
            case_builder b(std::string("swiglu/limit-") + (limit > 0 ? "on" : "off") + (weighted ? "/weights" : ""),
                           MNEME_OP_SWIGLU, seed++);
            b.dst(MNEME_DTYPE_F32, {67, 3});
            const int g = b.f32({67, 3}, -3, 3), u = b.f32({67, 3}, -3, 3);
            if (weighted) {
                b.sources({g, u, b.f32({3})});
            } else {
                b.sources({g, u});
            }
            b.params(mneme_op_swiglu{limit});
            out.push_back(b.done(1e-6));
        }
    }
    {
        case_builder b("add_rows_scaled", MNEME_OP_ADD_ROWS_SCALED, seed++);
        b.dst(MNEME_DTYPE_F32, {67, 3});
        b.sources({b.f32({67, 5}), b.i32({5}, {2, 0, 2, 1, 2}), b.f32({5})});
        out.push_back(b.done(1e-6));
    }
}

void topk_cases(std::vector<op_case>& out) {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    {
        case_builder b("topk/1", MNEME_OP_TOPK, 700);
        b.dst(MNEME_DTYPE_I32, {1, 2});
        b.sources({b.f32({1, 2})});
        b.params(mneme_op_topk{1});
        out.push_back(b.done(0));
    }
    {
        // Few distinct values (ties by lower index), a NaN and -inf entries.
        case_builder b("topk/ties", MNEME_OP_TOPK, 701);
        const int64_t n = 37, rows = 3;
        std::vector<float> v;
        for (int64_t i = 0; i < n * rows; ++i) v.push_back(static_cast<float>(static_cast<int>(b.rng()() % 5)));
        v[4] = nan;
        v[n + 2] = -std::numeric_limits<float>::infinity();
        b.dst(MNEME_DTYPE_I32, {29, rows});
        b.sources({b.f32_values({n, rows}, v, {3, 0})});
        b.params(mneme_op_topk{29});
        out.push_back(b.done(0));
    }
}

void quant_cases(std::vector<op_case>& out) {
    uint32_t seed = 800;
    for (mneme_dtype fmt : {MNEME_DTYPE_F8_E4M3, MNEME_DTYPE_FP4_E2M1}) {
        for (bool in_place : {false, true}) {
            case_builder b(std::string("quant_roundtrip/") + dtype_text(fmt) + (in_place ? "/in-place" : ""),
                           MNEME_OP_QUANT_ROUNDTRIP, seed++);
            const int64_t n = 70, rows = 5;
            std::vector<float> v;
            for (int64_t i = 0; i < n * rows; ++i) {
                // A wide dynamic range, some exact zeros and a row of tiny values.
                const float mag = std::ldexp(1.0f, static_cast<int>(b.rng()() % 24) - 12);
                v.push_back(i % 11 == 0 ? 0.0f : b.uniform(-1, 1) * mag * (i / n == 3 ? 1e-6f : 1.0f));
            }
            b.dst(MNEME_DTYPE_F32, {n, rows}, {2, 0});
            const int x = in_place ? 0 : b.f32_values({n, rows}, v);  // in place: the destination's own values
            b.sources({x});
            b.params(mneme_op_quant{fmt, fmt == MNEME_DTYPE_F8_E4M3 ? 32u : 16u, MNEME_QUANT_SCALE_POW2, 0});
            out.push_back(b.done(0));
        }
    }
}

void hadamard_cases(std::vector<op_case>& out) {
    uint32_t seed = 900;
    for (int64_t n : {1, 2, 64}) {
        for (bool in_place : {false, true}) {
            case_builder b("hadamard/" + std::to_string(n) + (in_place ? "/in-place" : ""), MNEME_OP_HADAMARD, seed++);
            b.dst(MNEME_DTYPE_F32, {n, 3});
            b.sources({in_place ? 0 : b.f32({n, 3})});
            out.push_back(b.done(k_tol));
        }
    }
}

void attention_cases(std::vector<op_case>& out) {
    uint32_t seed = 1000;
    const int64_t dk = 11, dv = 7, heads = 3, queries = 4, keys = 9;
    struct variant {
        const char* name;
        int64_t window, key_start;
        bool indices, sink, comp;
    };
    const variant variants[] = {
        {"causal", 0, 0, false, false, false},          {"window", 3, 0, false, false, false},
        {"indices", 0, 0, true, false, false},          {"sink", 0, 0, false, true, false},
        {"key-start", 4, 2, false, true, false},        {"compressed", 3, 0, false, true, true},
        {"compressed-indices", 3, 0, true, true, true},
    };
    for (const variant& v : variants) {
        case_builder b(std::string("attention/") + v.name, MNEME_OP_ATTENTION, seed++);
        const int64_t d_v = v.comp ? dk : dv;
        b.dst(MNEME_DTYPE_F32, {d_v, heads, queries}, {1, 4});
        const int q = b.f32({dk, heads, queries}, -1, 1, {2, 0});
        const int k = b.f32({dk, keys}, -1, 1, {0, 8});
        const int val = v.comp ? k : b.f32({d_v, keys});
        int idx = -1, sink = -1, comp = -1;
        if (v.indices) {
            // Negative, future and out-of-range entries must be ignored.
            std::vector<int32_t> ids;
            for (int64_t s = 0; s < queries; ++s) {
                for (int32_t j : {0, 7, -1, 3, 100, static_cast<int32_t>(s + 4), 2}) ids.push_back(j);
            }
            idx = b.i32({7, queries}, ids);
        }
        if (v.sink) sink = b.f32({heads});
        if (v.comp) comp = b.f32({dk, 5});
        b.sources({q, k, val, idx, sink, comp});
        mneme_op_attention p{};
        p.scale = 0.3;
        p.start_pos = 5;
        p.window = v.window;
        p.key_start = v.key_start;
        p.ratio = v.comp ? 2 : 0;
        b.params(p);
        out.push_back(b.done(k_tol));
    }
}

void indexer_cases(std::vector<op_case>& out) {
    uint32_t seed = 1100;
    for (int64_t ratio : {1, 2}) {
        case_builder b("indexer_scores/ratio-" + std::to_string(ratio), MNEME_OP_INDEXER_SCORES, seed++);
        const int64_t d = 9, heads = 3, queries = 4, keys = 7;
        b.dst(MNEME_DTYPE_F32, {keys, queries});
        b.sources({b.f32({d, heads, queries}), b.f32({heads, queries}), b.f32({d, keys}, -1, 1, {2, 0})});
        b.params(mneme_op_indexer{3, ratio});
        out.push_back(b.done(k_tol));
    }
}

void v4_cases(std::vector<op_case>& out) {
    uint32_t seed = 1200;
    for (bool head : {false, true}) {
        const int64_t n = 4, m = head ? n : (2 + n) * n, tokens = 3;
        case_builder b(std::string("hc_coeffs/") + (head ? "head" : "site"), MNEME_OP_HC_COEFFS, seed++);
        b.dst(MNEME_DTYPE_F32, {m, tokens});
        b.sources({b.f32({m, tokens}, -2, 2), b.f32({head ? 1 : 3}, 0.5f, 1.5f), b.f32({m})});
        b.params(mneme_op_hc{static_cast<uint32_t>(n), 3, 1e-6, 2.0});
        out.push_back(b.done(k_tol));
    }
    for (int64_t n_out : {1, 4}) {
        const int64_t d = 67, n_in = 4, tokens = 3, m = 24;
        case_builder b("stream_mix/out-" + std::to_string(n_out), MNEME_OP_STREAM_MIX, seed++);
        b.dst(MNEME_DTYPE_F32, {d, n_out, tokens});
        const int x = b.f32({d, n_in, tokens}), c = b.f32({m, tokens});
        if (n_out == 1) {
            b.sources({x, c});
            b.params(mneme_op_stream_mix{4, 1, 0, 0});
        } else {
            b.sources({x, c, b.f32({d, tokens})});
            b.params(mneme_op_stream_mix{4, 4, 8, 4});
        }
        out.push_back(b.done(k_tol));
    }
    for (bool overlap : {false, true}) {
        const int64_t w = 5, ch = overlap ? 2 * w : w, ratio = 4, rows = 12;
        case_builder b(std::string("compress_pool/") + (overlap ? "overlap" : "plain"), MNEME_OP_COMPRESS_POOL, seed++);
        b.dst(MNEME_DTYPE_F32, {w, 2});
        b.sources({b.f32({ch, rows}, -1, 1, {1, 0}), b.f32({ch, rows}, -2, 2), b.f32({ch, ratio})});
        // Rows start mid-block (position 1) unless the overlap needs block 0 whole.
        b.params(mneme_op_compress{ratio, overlap ? 0 : 1, 1, overlap ? MNEME_TRUE : MNEME_FALSE, 0});
        out.push_back(b.done(k_tol));
    }
    {
        const int64_t d = 9, n = 3, tokens = 4;
        case_builder b("engram_gate", MNEME_OP_ENGRAM_GATE, seed++);
        b.dst(MNEME_DTYPE_F32, {d, n, tokens});
        b.sources({b.f32({d, n, tokens}), b.f32({(n + 1) * d, tokens}, -1, 1, {3, 0}), b.f32({d, n}), b.f32({d, n})});
        b.params(mneme_op_engram_gate{1e-6, 1e-6});
        out.push_back(b.done(k_tol));
    }
    for (bool silu : {false, true}) {
        const int64_t c = 7, k = 3, dilation = 2, tokens = 5, hist = 4;
        case_builder b(std::string("causal_conv/") + (silu ? "silu" : "linear"), MNEME_OP_CAUSAL_CONV, seed++);
        b.dst(MNEME_DTYPE_F32, {c, tokens});
        b.sources({b.f32({c, hist + tokens}), b.f32({k, c})});
        b.params(mneme_op_conv{static_cast<uint32_t>(dilation), silu ? MNEME_TRUE : MNEME_FALSE});
        out.push_back(b.done(k_tol));
    }
}

}  // namespace

std::vector<op_case> large_weight_cases() {
    // 4096 x 16500 bf16 = 135 MB: more than one 128 MiB storage binding (lavapipe's limit), so a
    // backend with such a limit must split the weight; scale blocks of 128 rows straddle no slice.
    const int64_t k = 4096, n = 16500;
    std::vector<op_case> out;
    {
        case_builder b("matmul/large-bf16-scaled", MNEME_OP_MATMUL, 1300);
        b.dst(MNEME_DTYPE_F32, {n, 2});
        const int x = b.f32({k, 2});
        const int w = b.weight(MNEME_DTYPE_BF16, k, n);
        const int sc = b.scales(MNEME_DTYPE_F32, k / 128, (n + 127) / 128);
        b.sources({x, w, sc});
        b.params(mneme_op_matmul{1.0, 128, 128});
        out.push_back(b.done(1e-4));
    }
    {
        case_builder b("get_rows/large-bf16", MNEME_OP_GET_ROWS, 1301);
        b.dst(MNEME_DTYPE_F32, {k, 6});
        const int table = b.weight(MNEME_DTYPE_BF16, k, n);
        b.sources({table, b.i32({6}, {0, static_cast<int32_t>(n - 1), 16256, 16255, 7, 8000})});
        out.push_back(b.done(0));
    }
    return out;
}

std::vector<op_case> optional_op_cases() {
    std::vector<op_case> out;
    {
        case_builder b("indexer_scores/bf16-keys", MNEME_OP_INDEXER_SCORES, 1400);
        const int64_t d = 33, heads = 3, queries = 2, keys = 37;
        b.dst(MNEME_DTYPE_F32, {keys, queries});
        b.sources({b.f32({d, heads, queries}), b.f32({heads, queries}), b.weight(MNEME_DTYPE_BF16, d, keys, {3, 0})});
        b.params(mneme_op_indexer{keys - queries, 1});
        out.push_back(b.done(k_tol));
    }
    {
        case_builder b("copy/f32-to-bf16", MNEME_OP_COPY, 1401);
        b.dst(MNEME_DTYPE_BF16, {19, 5}, {1, 4});
        // Values at BF16's rounding boundaries too: ties go to even, as f32_to_bf16 does.
        std::vector<float> v;
        for (int i = 0; i < 19 * 5; ++i) {
            const uint32_t bits = 0x3f800000u + static_cast<uint32_t>(i) * 0x4000u + (i % 3 == 0 ? 0x8000u : 0u);
            float f;
            std::memcpy(&f, &bits, 4);
            v.push_back(i % 2 ? -f : f);
        }
        b.sources({b.f32_values({19, 5}, v, {2, 8})});
        out.push_back(b.done(0));
    }
    {
        case_builder b("copy/bf16-to-bf16", MNEME_OP_COPY, 1402);
        b.dst(MNEME_DTYPE_BF16, {23, 3}, {3, 4});
        b.sources({b.weight(MNEME_DTYPE_BF16, 23, 3, {1, 0})});
        out.push_back(b.done(0));
    }
    return out;
}

std::vector<op_case> all_op_cases() {
    std::vector<op_case> out;
    matmul_cases(out);
    row_cases(out);
    norm_cases(out);
    rope_cases(out);
    softmax_cases(out);
    elementwise_cases(out);
    topk_cases(out);
    quant_cases(out);
    hadamard_cases(out);
    attention_cases(out);
    indexer_cases(out);
    v4_cases(out);
    return out;
}

}  // namespace mneme::backend_test
