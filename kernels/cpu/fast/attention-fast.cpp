// Float32 attention over key lists and the lightning-indexer scan, as blocked matrix products: all
// heads of a query (or a group of queries) meet each key row while it is in L1, and every head's
// weighted sum of value rows is kept in registers over a chunk of keys. Attention takes a query's
// keys in chunks whose softmax partials are combined at the end (flash-decoding), so that one
// decoding query's keys are shared out among threads; the masks follow the reference kernel.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "fast-kernels.h"

namespace mneme::kernels::fast {
namespace {

constexpr int64_t k_head_group = 16;     // heads of one query per work item
constexpr int64_t k_min_items = 4;       // attention work items wanted before head groups shrink
constexpr int64_t k_key_block = 256;     // keys per indexer work item
constexpr int64_t k_query_group = 4;     // queries per indexer work item
// Batches of more queries than a drafting verify pass holds (16, see mneme_generate_desc) may take
// the matrix tiles, whose sums differ from the panels' in rounding; verify passes keep the panels,
// whose sums equal a lone decoding query's bit for bit.
constexpr int64_t k_tile_min_queries = 17;
// Up to this many queries (a decoding step, or a drafting verify pass of at most 16 tokens), each
// query is scored alone where BF16 dot products take it, so a query scores alike in both.
constexpr int64_t k_bf16_lane_max_queries = 16;

// The rows a query attends to, in the reference order: window/index keys, then compressed entries.
void select_rows(const attention_args& a, const float* k, const float* v, const float* comp, int64_t s,
                 std::vector<const float*>& krows, std::vector<const float*>& vrows, std::vector<int64_t>& scratch) {
    krows.clear();
    vrows.clear();
    const int64_t pos = a.start_pos + s;
    if (a.indices && !comp) {
        const int32_t* idx = a.indices + s * a.n_indices;
        for (int64_t j = 0; j < a.n_indices; ++j) {
            // The causal mask is applied again after selection (top-k may pick future slots).
            if (idx[j] >= 0 && idx[j] < a.n_keys && a.key_start + idx[j] <= pos) {
                krows.push_back(k + idx[j] * a.k_stride);
                vrows.push_back(v + idx[j] * a.v_stride);
            }
        }
    } else {
        int64_t first = a.window > 0 ? std::max<int64_t>(0, pos - a.window + 1) : 0;
        first = std::max(first, a.key_start);
        const int64_t last = std::min(pos, a.key_start + a.n_keys - 1);
        for (int64_t p = first; p <= last; ++p) {
            krows.push_back(k + (p - a.key_start) * a.k_stride);
            vrows.push_back(v + (p - a.key_start) * a.v_stride);
        }
    }
    if (!comp) return;
    const int64_t done = std::min(a.n_comp, (pos + 1) / a.ratio);  // entry j needs position (j+1)*ratio-1
    scratch.clear();
    if (a.indices) {
        const int32_t* idx = a.indices + s * a.n_indices;
        for (int64_t j = 0; j < a.n_indices; ++j) {
            if (idx[j] >= 0 && idx[j] < done) scratch.push_back(idx[j]);
        }
        std::sort(scratch.begin(), scratch.end());  // the sum runs in the same order as over all entries
    } else {
        for (int64_t j = 0; j < done; ++j) scratch.push_back(j);
    }
    for (const int64_t e : scratch) {
        krows.push_back(comp + e * a.comp_stride);
        vrows.push_back(comp + e * a.comp_stride);
    }
}

// A query's keys are taken in chunks, each giving per head its scores' maximum, the sum of the
// softmax numerators and the numerators' weighted sum of values; the chunks are then combined in
// order. The chunking depends only on the query's key count, the head count and the key width,
// never on how many queries share the call or how the work is split, so a query's output is the
// same bit for bit alone, in a verify pass or in a prompt, while a decoding query's keys can still
// be shared out among threads (one query's rows are read once in all, where splitting by heads read
// them once per head group).
constexpr int64_t k_chunk_min_keys = 64;
constexpr int64_t k_query_max_chunks = 16;  // per query, over all its head groups
// A chunk's key rows at most this many bytes (but k_chunk_min_keys rows at least), so that they are
// still in L2 when its values are summed: the value pass reads each row in 32-column slices, which
// from memory ran at a third of the rate (V3 at 16K keys, dk 576: 0.30 -> 0.24 us a key, cold).
constexpr int64_t k_chunk_max_bytes = 256 * 1024;
// Up to this many queries, each chunk of each query is a work item of its own; beyond, a query's
// head group is one work item that takes its chunks in turn.
constexpr int64_t k_chunked_max_queries = 16;

struct chunking {
    int64_t size, count;
};

chunking chunks_of(int64_t n_keys, int64_t heads, int64_t dk) {
    const int64_t groups = (heads + k_head_group - 1) / k_head_group;
    const int64_t most = std::max<int64_t>(1, k_query_max_chunks / groups);
    const int64_t cap = std::max(k_chunk_min_keys, k_chunk_max_bytes / (dk * static_cast<int64_t>(sizeof(float))));
    const int64_t size = std::clamp((n_keys + most - 1) / most, k_chunk_min_keys, cap);
    return {size, (n_keys + size - 1) / size};
}

// One chunk for heads [h0, h0 + nh) of a query: m[h] the scaled scores' maximum, l[h] the sum of
// exp(score * scale - m[h]) and o[h * dv ..] the sum of those numerators times the value rows.
void chunk_partial(const kernel_table& kt, const attention_args& a, const float* qh, int64_t nh,
                   const float* const* krows, const float* const* vrows, int64_t len, float scale,
                   std::vector<float>& scores, float* m, float* l, float* o) {
    scores.resize(static_cast<std::size_t>(nh * len));
    for (int64_t j0 = 0; j0 < len; j0 += k_key_block) {
        kt.gemm_nt(qh, a.q_head_stride, nh, krows + j0, std::min(k_key_block, len - j0), a.dk, scores.data() + j0, len,
                   false);
    }
    for (int64_t h = 0; h < nh; ++h) l[h] = softmax_numerators(scores.data() + h * len, len, scale, m + h);
    if (kt.mqa_values) {
        kt.mqa_values(scores.data(), len, nh, vrows, len, a.dv, o, a.dv);
        return;
    }
    std::fill(o, o + nh * a.dv, 0.0f);
    // Four value rows at a time stay in L1 while every head of the group consumes them.
    for (int64_t j0 = 0; j0 < len; j0 += 4) {
        const int count = static_cast<int>(std::min<int64_t>(4, len - j0));
        for (int64_t h = 0; h < nh; ++h)
            kt.axpy_rows(scores.data() + h * len + j0, vrows + j0, count, a.dv, o + h * a.dv);
    }
}

// The chunks' partials ([chunk][head] maxima and sums, [chunk][head][dv] outputs) into the heads'
// outputs, chunk by chunk in order; the sink joins the denominator only.
void combine_chunks(const kernel_table& kt, const attention_args& a, int64_t chunks, int64_t nh, const float* m,
                    const float* l, const float* o, const float* sink, float* out) {
    std::vector<float> weight(static_cast<std::size_t>(chunks));
    std::vector<const float*> rows(static_cast<std::size_t>(chunks));
    for (int64_t h = 0; h < nh; ++h) {
        float top = -std::numeric_limits<float>::infinity();
        for (int64_t c = 0; c < chunks; ++c) top = std::max(top, m[c * nh + h]);
        float denom = 0.0f;
        for (int64_t c = 0; c < chunks; ++c) {
            weight[static_cast<std::size_t>(c)] = std::exp(m[c * nh + h] - top);
            denom += weight[static_cast<std::size_t>(c)] * l[c * nh + h];
            rows[static_cast<std::size_t>(c)] = o + (c * nh + h) * a.dv;
        }
        if (sink) denom += std::exp(sink[h] - top);
        for (float& w : weight) w /= denom;
        float* y = out + h * a.out_head_stride;
        std::fill(y, y + a.dv, 0.0f);
        for (int64_t c = 0; c < chunks; c += 4) {
            kt.axpy_rows(weight.data() + c, rows.data() + c, static_cast<int>(std::min<int64_t>(4, chunks - c)), a.dv,
                         y);
        }
    }
}

}  // namespace

float softmax_numerators(float* s, int64_t n, float scale, float* max_out) {
    const kernel_table& kt = active_kernels();
    if (n >= 1 && kt.scaled_exp) return kt.scaled_exp(s, n, scale, max_out);
    float m = -std::numeric_limits<float>::infinity(), sum = 0.0f;
    for (int64_t j = 0; j < n; ++j) {
        s[j] *= scale;
        m = std::max(m, s[j]);
    }
    for (int64_t j = 0; j < n; ++j) {
        s[j] = std::exp(s[j] - m);
        sum += s[j];
    }
    *max_out = m;
    return sum;
}

void attention(const exec_ctx& ex, const attention_args& a, const float* q, const float* k, const float* v,
               const float* sink, float* out) {
    const kernel_table& kt = active_kernels();
    const float* comp = static_cast<const float*>(a.comp);
    const float scale = static_cast<float>(a.scale);
    const auto zero_heads = [&](int64_t s, int64_t h0, int64_t nh) {
        for (int64_t h = h0; h < h0 + nh; ++h) {
            float* o = out + s * a.out_stride + h * a.out_head_stride;
            std::fill(o, o + a.dv, 0.0f);
        }
    };
    if (a.queries > k_chunked_max_queries) {
        // A prompt: enough queries to share out; each takes its head groups' chunks in turn.
        const int64_t groups = (a.heads + k_head_group - 1) / k_head_group;
        parallel(ex, static_cast<std::size_t>(a.queries * groups), 1, [&](std::size_t i0, std::size_t i1) {
            std::vector<const float*> krows, vrows;
            std::vector<int64_t> scratch;
            std::vector<float> scores, m, l, o;
            for (std::size_t i = i0; i < i1; ++i) {
                const int64_t s = static_cast<int64_t>(i) / groups,
                              h0 = static_cast<int64_t>(i) % groups * k_head_group;
                const int64_t nh = std::min(k_head_group, a.heads - h0);
                select_rows(a, k, v, comp, s, krows, vrows, scratch);
                const auto n_all = static_cast<int64_t>(krows.size());
                if (n_all == 0) {
                    zero_heads(s, h0, nh);
                    continue;
                }
                const chunking ch = chunks_of(n_all, a.heads, a.dk);
                m.resize(static_cast<std::size_t>(ch.count * nh));
                l.resize(m.size());
                o.resize(static_cast<std::size_t>(ch.count * nh * a.dv));
                const float* qh = q + s * a.q_stride + h0 * a.q_head_stride;
                for (int64_t c = 0; c < ch.count; ++c) {
                    const int64_t j0 = c * ch.size;
                    chunk_partial(kt, a, qh, nh, krows.data() + j0, vrows.data() + j0, std::min(ch.size, n_all - j0),
                                  scale, scores, m.data() + c * nh, l.data() + c * nh, o.data() + c * nh * a.dv);
                }
                combine_chunks(kt, a, ch.count, nh, m.data(), l.data(), o.data(), sink ? sink + h0 : nullptr,
                               out + s * a.out_stride + h0 * a.out_head_stride);
            }
        });
        return;
    }
    // A decoding step or a verify pass: every chunk is a work item. A decode step has one query, and
    // with few heads and keys there may still be fewer items than threads: smaller head groups then
    // add items (a head's result does not depend on the heads computed beside it).
    struct query_rows {
        std::vector<const float*> k, v;
        chunking ch{};
    };
    std::vector<query_rows> rows(static_cast<std::size_t>(a.queries));
    std::vector<int64_t> scratch;
    int64_t chunks = 0;
    for (int64_t s = 0; s < a.queries; ++s) {
        query_rows& r = rows[static_cast<std::size_t>(s)];
        select_rows(a, k, v, comp, s, r.k, r.v, scratch);
        r.ch = r.k.empty() ? chunking{0, 0} : chunks_of(static_cast<int64_t>(r.k.size()), a.heads, a.dk);
        chunks += r.ch.count;
    }
    int64_t head_group = k_head_group;
    if (chunks * ((a.heads + k_head_group - 1) / k_head_group) < k_min_items) {
        head_group = std::max<int64_t>(1, (a.heads + k_min_items - 1) / k_min_items);
    }
    const int64_t groups = (a.heads + head_group - 1) / head_group;
    struct item {
        int64_t s, h0, c, at;  // query, first head, chunk, offset of its partials (in heads)
    };
    std::vector<item> items;
    std::vector<int64_t> query_at(static_cast<std::size_t>(a.queries));  // of the query's partials
    int64_t at = 0;
    for (int64_t s = 0; s < a.queries; ++s) {
        const chunking ch = rows[static_cast<std::size_t>(s)].ch;
        query_at[static_cast<std::size_t>(s)] = at;
        if (ch.count == 0) zero_heads(s, 0, a.heads);
        for (int64_t g = 0; g < groups; ++g) {
            const int64_t h0 = g * head_group, nh = std::min(head_group, a.heads - h0);
            for (int64_t c = 0; c < ch.count; ++c) items.push_back({s, h0, c, at + h0 * ch.count + c * nh});
        }
        at += ch.count * a.heads;
    }
    // Partials grouped per query and head group as combine_chunks reads them: [chunk][head].
    std::vector<float> m(static_cast<std::size_t>(at)), l(m.size()), o(static_cast<std::size_t>(at * a.dv));
    parallel(ex, items.size(), 1, [&](std::size_t i0, std::size_t i1) {
        std::vector<float> scores;
        for (std::size_t i = i0; i < i1; ++i) {
            const item& it = items[i];
            const query_rows& r = rows[static_cast<std::size_t>(it.s)];
            const int64_t nh = std::min(head_group, a.heads - it.h0), j0 = it.c * r.ch.size;
            chunk_partial(kt, a, q + it.s * a.q_stride + it.h0 * a.q_head_stride, nh, r.k.data() + j0, r.v.data() + j0,
                          std::min(r.ch.size, static_cast<int64_t>(r.k.size()) - j0), scale, scores, m.data() + it.at,
                          l.data() + it.at, o.data() + it.at * a.dv);
        }
    });
    parallel(ex, static_cast<std::size_t>(a.queries * groups), 1, [&](std::size_t i0, std::size_t i1) {
        for (std::size_t i = i0; i < i1; ++i) {
            const int64_t s = static_cast<int64_t>(i) / groups, h0 = static_cast<int64_t>(i) % groups * head_group;
            const int64_t nh = std::min(head_group, a.heads - h0);
            const chunking ch = rows[static_cast<std::size_t>(s)].ch;
            if (ch.count == 0) continue;
            const int64_t base = query_at[static_cast<std::size_t>(s)] + h0 * ch.count;
            combine_chunks(kt, a, ch.count, nh, m.data() + base, l.data() + base, o.data() + base * a.dv,
                           sink ? sink + h0 : nullptr, out + s * a.out_stride + h0 * a.out_head_stride);
        }
    });
}

namespace {

// The indexer scan over keys that `keys` hands out: pack(j, n, rowbuf, panel) writes keys j .. j+n
// (n <= k_panel_cols) in gemm_panel's layout; rows(j, n, rowbuf, out) sets out[i] to key j + i as
// float32. Both give exactly the float32 values of the keys, so every key format sums alike.
template <class Keys>
void indexer_scan(const exec_ctx& ex, const float* q, const float* w, const Keys& keys, int64_t d, int64_t heads,
                  int64_t queries, int64_t n_keys, int64_t start_pos, int64_t ratio, float* out) {
    const kernel_table& kt = active_kernels();
    const int64_t qgroups = (queries + k_query_group - 1) / k_query_group;
    const int64_t kblocks = (n_keys + k_key_block - 1) / k_key_block;
    // Where the instruction set has packed panels, keys are packed k_panel_cols at a time, column
    // by column, and every query element is broadcast against them: no horizontal sums. gemm_nt's
    // 4 x 4 tiles end in 16 reductions, which at index_head_dim 64-128 cost more than the products.
    const bool panels = kt.gemm_panel && kt.pack_panel;
    // A single query (a decoding step) has too few rows to pay for packing its keys: its heads go
    // into the vector lanes instead (head_dots), the same sums bit for bit.
    const bool lanes = kt.head_dots && heads <= 128;
    // Prefill-sized batches on matrix tiles, for BF16 keys.
    const bool tiles = kt.tile_dots && kt.tile_query_parts && queries >= k_tile_min_queries;
    // Queries that bf16 holds exactly (FP8- or FP4-rounded ones) against BF16 keys, up to
    // k_bf16_lane_max_queries of them: each query alone on BF16 dot products (head_dots_bf16).
    const uint16_t* keys16 = nullptr;
    int64_t key16_stride = 0;
    const int64_t qp_size = d / 2 * head_vectors(heads) * 16;
    std::vector<uint32_t> qpairs;
    bool bf16_lanes = kt.head_dots_bf16 && heads <= 128 && d % 2 == 0 && queries <= k_bf16_lane_max_queries &&
                      keys.bf16_rows(0, n_keys, keys16, key16_stride);
    if (bf16_lanes) {
        qpairs.resize(static_cast<std::size_t>(queries * qp_size));
        for (int64_t s = 0; s < queries && bf16_lanes; ++s)
            bf16_lanes = pack_heads_bf16(q + s * heads * d, heads, d, qpairs.data() + s * qp_size);
    }
    parallel(ex, static_cast<std::size_t>(qgroups * kblocks), 1, [&](std::size_t i0, std::size_t i1) {
        std::vector<float> dots, panel, rowbuf, qt;
        std::vector<uint16_t> qparts;
        const float* key_rows[k_key_block];
        int64_t packed_query = -1, parted_group = -1;
        for (std::size_t i = i0; i < i1; ++i) {
            const int64_t s0 = static_cast<int64_t>(i) / kblocks * k_query_group;
            const int64_t j0 = static_cast<int64_t>(i) % kblocks * k_key_block;
            const int64_t ns = std::min(k_query_group, queries - s0);
            const int64_t nj = std::min(k_key_block, n_keys - j0);
            // Keys no query of the group may see are masked without computing them.
            const int64_t valid_max = std::min(nj, (start_pos + s0 + ns) / ratio - j0);
            const uint16_t* tile_keys = nullptr;
            int64_t tile_key_stride = 0;
            if (valid_max > 0 && bf16_lanes) {
                dots.resize(static_cast<std::size_t>(ns * heads * valid_max));
                for (int64_t s = s0; s < s0 + ns; ++s) {
                    kt.head_dots_bf16(qpairs.data() + s * qp_size, heads, keys16 + j0 * key16_stride, key16_stride,
                                      valid_max, d, dots.data() + (s - s0) * heads * valid_max, valid_max);
                }
            } else if (valid_max > 0 && tiles && keys.bf16_rows(j0, valid_max, tile_keys, tile_key_stride)) {
                if (parted_group != s0) {
                    qparts.resize(static_cast<std::size_t>(tile_parts_size(ns * heads, d)));
                    kt.tile_query_parts(q + s0 * heads * d, ns * heads, d, qparts.data());
                    parted_group = s0;
                }
                dots.resize(static_cast<std::size_t>(ns * heads * valid_max));
                kt.tile_dots(qparts.data(), ns * heads, d, tile_keys, tile_key_stride, valid_max, dots.data(),
                             valid_max);
            } else if (valid_max > 0 && ns == 1 && lanes) {
                if (packed_query != s0) {
                    qt.resize(static_cast<std::size_t>(d * head_vectors(heads) * 16));
                    pack_heads(q + s0 * heads * d, heads, d, qt.data());
                    packed_query = s0;
                }
                dots.resize(static_cast<std::size_t>(heads * valid_max));
                // k_panel_cols keys at a time: BF16 keys widen into a buffer that stays in L1.
                for (int64_t p0 = 0; p0 < valid_max; p0 += k_panel_cols) {
                    const int64_t np = std::min(k_panel_cols, valid_max - p0);
                    keys.rows(j0 + p0, np, rowbuf, key_rows);
                    kt.head_dots(qt.data(), heads, key_rows, np, d, dots.data() + p0, valid_max);
                }
            } else if (valid_max > 0 && panels) {
                dots.resize(static_cast<std::size_t>(ns * heads * valid_max));
                panel.resize(static_cast<std::size_t>(d * k_panel_cols));
                for (int64_t p0 = 0; p0 < valid_max; p0 += k_panel_cols) {
                    const int64_t np = std::min(k_panel_cols, valid_max - p0);
                    keys.pack(j0 + p0, np, rowbuf, panel.data());
                    kt.gemm_panel(q + s0 * heads * d, d, ns * heads, panel.data(), np, d, dots.data() + p0, valid_max,
                                  false);
                }
            } else if (valid_max > 0) {
                keys.rows(j0, valid_max, rowbuf, key_rows);
                dots.resize(static_cast<std::size_t>(ns * heads * valid_max));
                kt.gemm_nt(q + s0 * heads * d, d, ns * heads, key_rows, valid_max, d, dots.data(), valid_max, false);
            }
            for (int64_t s = s0; s < s0 + ns; ++s) {
                const int64_t valid = (start_pos + s + 1) / ratio;
                float* row = out + s * n_keys + j0;
                const int64_t live = std::clamp<int64_t>(valid - j0, 0, nj);
                // Same order over heads as the reference: total = sum_h w_h * relu(dot_h). (No dots
                // exist for a key block the query cannot see: not even a pointer into them is formed.)
                if (live > 0) {
                    kt.relu_head_sum(dots.data() + (s - s0) * heads * valid_max, valid_max, w + s * heads, heads, live,
                                     row);
                }
                std::fill(row + live, row + nj, -std::numeric_limits<float>::infinity());
            }
        }
    });
}

struct f32_keys {
    const float* k;
    int64_t stride, d;
    void pack(int64_t j, int64_t n, std::vector<float>&, float* panel) const {
        active_kernels().pack_panel(k + j * stride, stride, n, d, panel);
    }
    void rows(int64_t j, int64_t n, std::vector<float>&, const float** out) const {
        for (int64_t i = 0; i < n; ++i) out[i] = k + (j + i) * stride;
    }
    // Float32 keys never take the tiles here: indexer_scores hands BF16-exact ones to the BF16 scan.
    bool bf16_rows(int64_t, int64_t, const uint16_t*&, int64_t&) const { return false; }
};

// BF16 keys widen exactly; decode_panel does so straight into the panel where it can.
struct bf16_keys {
    weight_view view;
    void pack(int64_t j, int64_t n, std::vector<float>& rowbuf, float* panel) const {
        const kernel_table& kt = active_kernels();
        if (kt.decode_panel && kt.decode_panel(view, j, n, 0, view.k, panel)) return;
        const float* rows[k_panel_cols];
        widen(j, n, rowbuf, rows);
        kt.pack_panel(rowbuf.data(), view.k, n, view.k, panel);
    }
    void rows(int64_t j, int64_t n, std::vector<float>& rowbuf, const float** out) const { widen(j, n, rowbuf, out); }
    bool bf16_rows(int64_t j, int64_t, const uint16_t*& out, int64_t& out_stride) const {
        out = reinterpret_cast<const uint16_t*>(view.data + j * view.row_bytes);
        out_stride = view.row_bytes / 2;
        return true;
    }
    void widen(int64_t j, int64_t n, std::vector<float>& rowbuf, const float** out) const {
        rowbuf.resize(static_cast<std::size_t>(n * view.k));
        const kernel_table& kt = active_kernels();
        if (view.row_bytes == 2 * view.k) {
            // Keys stored back to back (the cache's layout): one call for all of them, not one per
            // 64-128-element key (the calls were a third of a long-context decode step's scan).
            kt.decode(weight_format::bf16, view.data + j * view.row_bytes, 0, n * view.k, 1.0f, rowbuf.data());
        } else {
            for (int64_t i = 0; i < n; ++i) {
                kt.decode(weight_format::bf16, view.data + (j + i) * view.row_bytes, 0, view.k, 1.0f,
                          rowbuf.data() + i * view.k);
            }
        }
        for (int64_t i = 0; i < n; ++i) out[i] = rowbuf.data() + i * view.k;
    }
};

// Float32 keys that are all BF16 values (V3.2's keys after the FP8 round trip are), as BF16 rows
// of d elements; false when any is not.
bool narrow_to_bf16(const float* k, int64_t n_keys, int64_t k_stride, int64_t d, std::vector<uint16_t>& out) {
    out.resize(static_cast<std::size_t>(n_keys * d));
    for (int64_t j = 0; j < n_keys; ++j) {
        uint32_t low = 0;
        for (int64_t c = 0; c < d; ++c) {
            uint32_t bits;
            std::memcpy(&bits, k + j * k_stride + c, 4);
            low |= bits & 0xffffu;
            out[static_cast<std::size_t>(j * d + c)] = static_cast<uint16_t>(bits >> 16);
        }
        if (low != 0) return false;
    }
    return true;
}

}  // namespace

void indexer_scores(const exec_ctx& ex, const float* q, const float* w, const float* k, int64_t d, int64_t heads,
                    int64_t queries, int64_t n_keys, int64_t k_stride, int64_t start_pos, int64_t ratio, float* out) {
    // Where a prefill batch could take the tiles, BF16-exact keys are narrowed once and scanned as
    // BF16 keys, so they score exactly as the same keys cached in BF16 would.
    const kernel_table& kt = active_kernels();
    if (kt.tile_dots && queries >= k_tile_min_queries) {
        std::vector<uint16_t> narrow;
        if (narrow_to_bf16(k, n_keys, k_stride, d, narrow)) {
            return indexer_scores_bf16(ex, q, w, narrow.data(), d, heads, queries, n_keys, d, start_pos, ratio, out);
        }
    }
    indexer_scan(ex, q, w, f32_keys{k, k_stride, d}, d, heads, queries, n_keys, start_pos, ratio, out);
}

void indexer_scores_bf16(const exec_ctx& ex, const float* q, const float* w, const uint16_t* k, int64_t d,
                         int64_t heads, int64_t queries, int64_t n_keys, int64_t k_stride, int64_t start_pos,
                         int64_t ratio, float* out) {
    weight_view v;
    v.data = reinterpret_cast<const uint8_t*>(k);
    v.format = weight_format::bf16;
    v.n = n_keys;
    v.k = d;
    v.row_bytes = 2 * k_stride;
    indexer_scan(ex, q, w, bf16_keys{v}, d, heads, queries, n_keys, start_pos, ratio, out);
}

}  // namespace mneme::kernels::fast
