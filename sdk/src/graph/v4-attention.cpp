#include "graph/v4-attention.h"

#include <algorithm>
#include <cmath>

namespace mneme {
namespace {

// Calls fn(first position, ring rows) for the runs of slots holding positions [first, end)
// (slot = pos % window).
template <class F>
void for_ring_runs(const mneme_tensor& ring, int64_t first, int64_t end, F&& fn) {
    const int64_t window = ring.ne[1];
    for (int64_t pos = first; pos < end;) {
        const int64_t slot = pos % window, n = std::min(end - pos, window - slot);
        fn(pos, rows_of(ring, slot, n));
        pos += n;
    }
}

// Copies positions [first, end) between a run of consecutive rows and the ring.
void ring_copy(graph_builder& g, const mneme_tensor& ring, const mneme_tensor& rows, int64_t rows_first_pos,
               int64_t first, int64_t end, bool into_ring) {
    for_ring_runs(ring, first, end, [&](int64_t pos, const mneme_tensor& r) {
        const mneme_tensor v = rows_of(rows, pos - rows_first_pos, r.ne[1]);
        if (into_ring) {
            g.copy(r, v);
        } else {
            g.copy(v, r);
        }
    });
}

// Rotation at the block starts and the QAT round trip of freshly pooled entries.
void finish_entries(graph_builder& g, const v4_context& c, const mneme_tensor& out, const rope_pair& rope,
                    bool index_keys) {
    const int64_t width = out.ne[0], n = out.ne[1], rd = c.cfg.qk_rope_head_dim;
    const mneme_tensor e3 = as_3d(out, width, 1, n);
    g.rope(e3, e3, rope.cos, rope.sin, MNEME_ROPE_INTERLEAVED, static_cast<uint32_t>(width - rd),
           static_cast<uint32_t>(rd));
    if (index_keys) {
        g.hadamard(out, out);
        if (c.act_quant) g.quant_roundtrip(out, out, MNEME_DTYPE_FP4_E2M1, 32);
    } else if (c.act_quant) {
        const mneme_tensor nope = cols_of(out, 0, width - rd);
        g.quant_roundtrip(nope, nope, MNEME_DTYPE_F8_E4M3, 64);
    }
}

// The lightning indexer of a ratio-4 layer: updates its keys, returns the picked blocks I32 [k, s]
// (k = min(index_topk, complete blocks)), or an empty tensor before the first block completes.
mneme_tensor index_select(graph_builder& g, const v4_context& c, const v4_attention_weights& w, v4_layer_cache& cache,
                          const mneme_tensor& x, const mneme_tensor& qr, const v4_pass& pass) {
    const model_config& cfg = c.cfg;
    const int64_t s = x.ne[1], hi = cfg.index_n_heads, di = cfg.index_head_dim, rd = cfg.qk_rope_head_dim;
    const int64_t complete = (pass.p + s) / 4;

    const compressor_plan pl =
        run_compressor(g, w.idx_comp, cache.index_comp, x, pass.p, cache.index_keys, cfg.rms_norm_eps);
    if (pl.n_blocks)
        finish_entries(g, c, rows_of(cache.index_keys, pl.first_block, pl.n_blocks), pass.block_starts(4), true);
    if (complete == 0) return {};

    const mneme_tensor q = apply_linear(g, c, qr, w.idx_wq_b);
    const mneme_tensor q3 = split_heads(q, hi);  // [di, Hi, s]
    const rope_pair& rope = pass.tokens(4);
    g.rope(q3, q3, rope.cos, rope.sin, MNEME_ROPE_INTERLEAVED, static_cast<uint32_t>(di - rd),
           static_cast<uint32_t>(rd));
    g.hadamard(q3, q3);
    if (c.act_quant) g.quant_roundtrip(q3, q3, MNEME_DTYPE_FP4_E2M1, 32);

    const double scale = 1.0 / std::sqrt(static_cast<double>(di)) / std::sqrt(static_cast<double>(hi));
    const mneme_tensor weights = apply_linear(g, c, x, w.idx_weights, scale);
    const mneme_tensor scores = g.tensor({complete, s});
    g.indexer_scores(scores, q3, weights, rows_of(cache.index_keys, 0, complete), pass.p, 4);
    const int64_t k = std::min(cfg.index_topk, complete);
    const mneme_tensor picked = g.tensor_of(MNEME_DTYPE_I32, {k, s});
    g.topk(picked, scores, static_cast<uint32_t>(k));
    // Opt-in statistics only: the read waits for the pass so far to finish.
    if (pass.probe && pass.probe->collect_selections) pass.probe->count_selection(g.read(picked), k, s, pass.p, 4);
    return picked;
}

}  // namespace

v4_attention_weights load_v4_attention(graph_builder& g, weight_store& ws, std::vector<buffer_ptr>& owned,
                                       const model_config& cfg, int64_t layer) {
    const std::string a = "layers." + std::to_string(layer) + ".attn.";
    const int64_t d = cfg.hidden_size, h = cfg.num_attention_heads, hd = cfg.head_dim, ql = cfg.q_lora_rank;
    const int64_t grp = cfg.o_groups, ol = cfg.o_lora_rank;
    v4_attention_weights w;
    w.ratio = cfg.compress_ratios[static_cast<std::size_t>(layer)];
    w.wq_a = ws.linear(a + "wq_a", ql, d);
    w.q_norm = ws.vector(a + "q_norm.weight", ql);
    w.wq_b = ws.linear(a + "wq_b", h * hd, ql);
    w.wkv = ws.linear(a + "wkv", hd, d);
    w.kv_norm = ws.vector(a + "kv_norm.weight", hd);
    // Applied in its stored format: a float32 copy of the dequantised weight (the reference's
    // values exactly, e8m0 scales being powers of two) was read at 4 bytes a weight every step.
    w.wo_a = ws.with_row_scales(a + "wo_a", ws.linear(a + "wo_a", grp * ol, h * hd / grp));
    w.wo_b = ws.linear(a + "wo_b", d, grp * ol);
    w.sink = ws.vector(a + "attn_sink", h);
    if (w.ratio > 0) w.comp = load_compressor(g, ws, owned, a + "compressor.", w.ratio, hd, d);
    if (w.ratio == 4) {
        const int64_t hi = cfg.index_n_heads, di = cfg.index_head_dim;
        w.idx_wq_b = ws.linear(a + "indexer.wq_b", hi * di, ql);
        w.idx_weights = ws.linear(a + "indexer.weights_proj", hi, d);
        w.idx_comp = load_compressor(g, ws, owned, a + "indexer.compressor.", 4, di, d);
    }
    return w;
}

mneme_tensor v4_attention(graph_builder& g, const v4_context& c, const v4_attention_weights& w, v4_layer_cache& cache,
                          const mneme_tensor& x, const v4_pass& pass) {
    const model_config& cfg = c.cfg;
    const int64_t s = x.ne[1], p = pass.p, end = p + s;
    const int64_t h = cfg.num_attention_heads, hd = cfg.head_dim, rd = cfg.qk_rope_head_dim, nope = hd - rd;
    const int64_t window = cfg.sliding_window, ratio = w.ratio;
    const double eps = cfg.rms_norm_eps;
    const rope_pair& rope = pass.tokens(w.ratio);

    // Query: per-head RMS norm without gain, RoPE on the last rd dims.
    const mneme_tensor qa = apply_linear(g, c, x, w.wq_a);
    const mneme_tensor qr = g.tensor({qa.ne[0], s});
    g.rms_norm(qr, qa, &w.q_norm, eps);
    const mneme_tensor q = apply_linear(g, c, qr, w.wq_b);
    const mneme_tensor q3 = split_heads(q, h);  // [hd, H, s]
    g.rms_norm(q3, q3, nullptr, eps);
    g.rope(q3, q3, rope.cos, rope.sin, MNEME_ROPE_INTERLEAVED, static_cast<uint32_t>(nope), static_cast<uint32_t>(rd));

    // Window keys: the window-1 positions before p from the ring, then the new tokens.
    const int64_t n_prev = std::min(p, window - 1);
    const mneme_tensor kv = g.tensor({hd, n_prev + s});
    ring_copy(g, cache.ring, kv, p - n_prev, p - n_prev, p, false);
    const mneme_tensor fresh = rows_of(kv, n_prev, s);
    g.matmul(fresh, linear_input(g, c, x, w.wkv), w.wkv);
    g.rms_norm(fresh, fresh, &w.kv_norm, eps);
    g.rope(as_3d(fresh, hd, 1, s), as_3d(fresh, hd, 1, s), rope.cos, rope.sin, MNEME_ROPE_INTERLEAVED,
           static_cast<uint32_t>(nope), static_cast<uint32_t>(rd));
    if (c.act_quant) {
        const mneme_tensor nope_part = cols_of(fresh, 0, nope);
        g.quant_roundtrip(nope_part, nope_part, MNEME_DTYPE_F8_E4M3, 64);
    }
    // After an abandoned pass the next one starts at p again and reads positions p - n_prev .. p - 1
    // from the ring: keep the slots this pass overwrites while they still hold one of those (none
    // when decoding one token; older positions are never read again).
    const int64_t first_new = std::max(p, end - window);
    for_ring_runs(cache.ring, std::max(first_new, p - n_prev + window), end,
                  [&](int64_t, const mneme_tensor& r) { g.preserve(r); });
    ring_copy(g, cache.ring, kv, p - n_prev, first_new, end, true);

    // Compressed entries: pooled as their blocks complete; ratio 4 picks among them with the indexer.
    mneme_tensor entries{}, picked{};
    if (ratio > 0) {
        const compressor_plan pl = run_compressor(g, w.comp, cache.comp, x, p, cache.entries, eps);
        if (pl.n_blocks) {
            finish_entries(g, c, rows_of(cache.entries, pl.first_block, pl.n_blocks), pass.block_starts(w.ratio),
                           false);
        }
        if (ratio == 4) picked = index_select(g, c, w, cache, x, qr, pass);
        const int64_t complete = end / ratio;
        if (complete) entries = rows_of(cache.entries, 0, complete);
    }

    const mneme_tensor o = g.tensor({hd, h, s});
    mneme_op_attention ap{};
    ap.scale = 1.0 / std::sqrt(static_cast<double>(hd));
    ap.start_pos = p;
    ap.window = window;
    ap.key_start = p - n_prev;
    ap.ratio = ratio;
    g.attention_compressed(o, q3, kv, picked.buffer ? &picked : nullptr, &w.sink, entries.buffer ? &entries : nullptr,
                           ap);
    // The value carries rotated dims: rotate the output back to position 0.
    g.rope(o, o, rope.cos, rope.sin, MNEME_ROPE_INTERLEAVED, static_cast<uint32_t>(nope), static_cast<uint32_t>(rd),
           true);

    // Grouped low-rank output: group k of H/G heads goes through rows [k*o_lora, (k+1)*o_lora) of wo_a.
    const int64_t groups = cfg.o_groups, ol = cfg.o_lora_rank, per = h * hd / groups;
    const mneme_tensor flat = make_tensor(o.buffer, o.offset, o.dtype, {h * hd, s});
    const mneme_tensor low = g.tensor({groups * ol, s});
    for (int64_t k = 0; k < groups; ++k) {
        g.matmul(cols_of(low, k * ol, ol), cols_of(flat, k * per, per), row_slice(w.wo_a, k * ol, ol));
    }
    return apply_linear(g, c, low, w.wo_b);
}

}  // namespace mneme
