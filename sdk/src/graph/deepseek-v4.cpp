#include "graph/deepseek-v4.h"

#include <algorithm>
#include <cmath>

#include "graph/engram.h"
#include "graph/mhc.h"
#include "graph/rope-table.h"
#include "graph/v4-attention.h"
#include "graph/v4-moe.h"
#include "graph/v4-state.h"
#include "graph/weights.h"

namespace mneme {
namespace {

struct v4_layer {
    mneme_tensor attn_norm{}, ffn_norm{};
    hc_site_weights hc_attn, hc_ffn;
    v4_attention_weights attn;
    v4_moe_weights moe;
};

class deepseek_v4 final : public arch_model {
public:
    deepseek_v4(const checkpoint& ckpt, const model_config& cfg, graph_builder& g, const v4_options& opts)
        : cfg_(cfg), ws_(ckpt, cfg, g), ctx_{cfg, opts.act_quant} {
        d_ = cfg.hidden_size;
        vocab_ = cfg.vocab_size;
        hp_.n = cfg.hc_mult;
        hp_.sinkhorn_iters = cfg.hc_sinkhorn_iters;
        hp_.hc_eps = cfg.hc_eps;
        hp_.norm_eps = cfg.rms_norm_eps;

        // Window-only layers rotate with rope_theta; compressed layers with compress_rope_theta and YaRN
        // (no softmax temperature in V4).
        const int64_t rd = cfg.qk_rope_head_dim;
        window_freq_ = rope_inv_freq(rd, cfg.rope_theta);
        if (cfg.rope_scaling.yarn) {
            const yarn_params y{cfg.rope_scaling.factor, cfg.rope_scaling.original_max_position_embeddings,
                                cfg.rope_scaling.beta_fast, cfg.rope_scaling.beta_slow};
            compressed_freq_ = yarn_inv_freq(rd, cfg.compress_rope_theta, y);
        } else {
            compressed_freq_ = rope_inv_freq(rd, cfg.compress_rope_theta);
        }
        for (int64_t i = 0; i < cfg.num_hidden_layers; ++i) {
            const int64_t r = cfg.compress_ratios[static_cast<std::size_t>(i)];
            if (r > 0 && std::find(ratios_.begin(), ratios_.end(), r) == ratios_.end()) ratios_.push_back(r);
        }

        embed_ = ws_.raw("embed.weight", {vocab_, d_});
        final_norm_ = ws_.vector("norm.weight", d_);
        head_ = ws_.linear("head", vocab_, d_);
        hc_head_ = load_hc_site(ws_, "hc_head", hp_.n, d_, true);
        if (cfg.engram.enabled()) engram_ = std::make_unique<engram_module>(ckpt, cfg, g, ws_, owned_, opts);
        layers_.resize(static_cast<std::size_t>(cfg.num_hidden_layers));
        for (int64_t i = 0; i < cfg.num_hidden_layers; ++i) {
            v4_layer& L = layers_[static_cast<std::size_t>(i)];
            const std::string p = "layers." + std::to_string(i) + ".";
            L.attn_norm = ws_.vector(p + "attn_norm.weight", d_);
            L.ffn_norm = ws_.vector(p + "ffn_norm.weight", d_);
            L.hc_attn = load_hc_site(ws_, p + "hc_attn", hp_.n, d_, false);
            L.hc_ffn = load_hc_site(ws_, p + "hc_ffn", hp_.n, d_, false);
            L.attn = load_v4_attention(g, ws_, owned_, cfg, i);
            L.moe = load_v4_moe(ckpt, ws_, cfg, i);
        }
        g.flush();
    }

    std::unique_ptr<arch_state> new_state(graph_builder& g, int64_t n_ctx) override {
        auto st = std::make_unique<v4_state>();
        st->n_ctx = n_ctx;
        const int64_t hd = cfg_.head_dim, di = cfg_.index_head_dim;
        for (const v4_layer& L : layers_) {
            v4_layer_cache c;
            c.ratio = L.attn.ratio;
            c.ring = st->alloc(g, hd, cfg_.sliding_window);
            // Shapes only for the growing caches: reserve() allocates their first pages.
            if (c.ratio > 0) {
                const bool ov = L.attn.comp.overlap;
                c.entries = make_tensor(nullptr, 0, g.act(), {hd, 0});
                const int64_t cw = L.attn.comp.wkv.out_features(), held = compressor_state_rows(c.ratio, ov);
                c.comp = {st->alloc(g, cw, held), st->alloc(g, cw, held)};
            }
            if (c.ratio == 4) {
                c.index_keys = make_tensor(nullptr, 0, g.act(), {di, 0});
                const int64_t cw = L.attn.idx_comp.wkv.out_features(), held = compressor_state_rows(4, true);
                c.index_comp = {st->alloc(g, cw, held), st->alloc(g, cw, held)};
            }
            st->layers.push_back(c);
        }
        if (engram_) {
            const int64_t rows = engram_->conv_history_rows();
            for (int64_t i = 0; i < engram_->n_layers() && rows > 0; ++i) {
                st->conv_history.push_back(st->alloc(g, cfg_.hc_mult * d_, rows));
            }
            st->engram_ids = engram_->initial_history();
        }
        st->reserve(g, std::min<int64_t>(n_ctx, 256));
        return st;
    }

    uint64_t cache_bytes_per_token(mneme_dtype act) const override {
        // Compressed entries and indexer keys grow with the context; the window ring, the compressors'
        // held rows and the Engram state are fixed per sequence.
        double bytes = 0;
        for (const v4_layer& L : layers_) {
            if (L.attn.ratio > 0) bytes += static_cast<double>(cfg_.head_dim) / static_cast<double>(L.attn.ratio);
            if (L.attn.ratio == 4) bytes += static_cast<double>(cfg_.index_head_dim) / 4.0;
        }
        return static_cast<uint64_t>(std::ceil(bytes * static_cast<double>(dtype_bytes(act))));
    }

    std::vector<std::pair<int64_t, std::vector<int64_t>>> engram_rows(std::span<const int32_t> tokens) const override {
        if (!engram_) return {};
        for (int32_t t : tokens) {
            if (t < 0 || t >= vocab_) fail(MNEME_ERROR_INVALID_ARGUMENT, "token id ", t, " outside the vocabulary");
        }
        return engram_->sequence_rows(tokens);
    }

    uint64_t scratch_bytes(int64_t chunk, int64_t context, mneme_dtype act) const override {
        const int64_t s = chunk, hc = hp_.n, es = dtype_bytes(act), rd = cfg_.qk_rope_head_dim;
        const bool aq = ctx_.act_quant;
        scratch_tally t(es);
        // Per pass: rotary tables (tokens twice, block starts per ratio), ids, both stream buffers;
        // at the end the head's coefficients, collapse, norm and the last row's logits.
        t.add(rd / 2 * s, 4).add(rd / 2 * (s + 1), 2 * static_cast<int64_t>(ratios_.size())).i32(s).add(d_ * hc * s, 2);
        t.add(hc * d_).add(hc, 2).add(d_, 2).add(vocab_);
        int64_t largest = 0;
        for (std::size_t li = 0; li < layers_.size(); ++li) {
            const v4_layer& L = layers_[li];
            const v4_attention_weights& a = L.attn;
            scratch_tally l(es);
            const auto lin = [&](const linear_weight& w, int64_t in, int64_t rows) {
                if (aq && w.quantised) l.add(in * rows);
                l.add(w.out_features() * rows);
            };
            const auto site = [&](const hc_site_weights& w) {
                l.add(hc * d_ * s).add(w.fn.out_features() * s, 2).add(d_ * s, 2);
            };
            const auto compressor = [&](const compressor_weights& c) {
                // Held rows: fewer than two blocks.
                l.add(c.wkv.out_features() * (2 * c.ratio + s), 2);
            };
            if (engram_ && engram_->slot(static_cast<int64_t>(li)) >= 0) l.bytes_add(engram_->scratch_bytes(s, es, aq));
            site(L.hc_attn);
            const int64_t ql = a.wq_a.out_features(), hd = cfg_.head_dim, h = cfg_.num_attention_heads;
            lin(a.wq_a, d_, s);
            l.add(ql * s);
            lin(a.wq_b, ql, s);
            l.add(hd * (std::min(context, cfg_.sliding_window) + s));
            if (aq && a.wkv.quantised) l.add(d_ * s);
            if (a.ratio > 0) compressor(a.comp);
            if (a.ratio == 4) {
                compressor(a.idx_comp);
                lin(a.idx_wq_b, ql, s);
                lin(a.idx_weights, d_, s);
                l.add(context / 4 * s).i32(std::min(cfg_.index_topk, context / 4) * s);
            }
            l.add(hd * h * s).add(a.wo_a.out_features() * s);
            lin(a.wo_b, a.wo_a.out_features(), s);
            site(L.hc_ffn);
            const v4_moe_weights& m = L.moe;
            l.add(m.router.out_features() * s);
            const auto expert = [&](const v4_expert_weights& e) {
                lin(e.w1, d_, s);
                lin(e.w3, d_, s);
                l.add(e.w1.out_features() * s);
                lin(e.w2, e.w1.out_features(), s);
            };
            expert(m.shared);
            if (aq && !m.experts.empty() && m.experts[0].w1.quantised) l.add(d_ * s);
            if (!m.experts.empty() && s <= k_v4_grouped_expert_rows) {
                // Every chosen expert's temporaries at once (v4-moe.cpp's grouped_experts): s * top_k
                // rows in all, over at most that many experts, each tensor rounded up to 64 bytes.
                const v4_expert_weights& e = m.experts[0];
                const int64_t inter = e.w1.out_features(), rows = s * cfg_.num_experts_per_tok;
                const int64_t down_in = aq && e.w2.quantised ? inter : 0;
                const int64_t per_row = 4 + l.es * (2 + d_ + 3 * inter + down_in + e.w2.out_features());
                l.bytes_add(per_row * rows + 63 * 9 * std::min(rows, cfg_.n_routed_experts));
            } else if (!m.experts.empty()) {
                // One routed expert at a time; at most every token of the chunk routes to it.
                const v4_expert_weights& e = m.experts[0];
                l.i32(s).add(s, 2).add(d_ * s).add(e.w1.out_features() * s, 3);
                lin(e.w2, e.w1.out_features(), s);
            }
            largest = std::max(largest, l.bytes);
        }
        return static_cast<uint64_t>(t.bytes + largest);
    }

    std::vector<double> forward(graph_builder& g, arch_state& base, std::span<const int32_t> tokens,
                                bool all_logits) override {
        auto& st = static_cast<v4_state&>(base);
        const int64_t s = static_cast<int64_t>(tokens.size()), p = st.n_past, hc = hp_.n;
        if (s == 0) return {};
        if (p + s > st.n_ctx) fail(MNEME_ERROR_CONTEXT_FULL, "context holds ", st.n_ctx, " tokens");
        for (int32_t t : tokens) {
            if (t < 0 || t >= vocab_) fail(MNEME_ERROR_INVALID_ARGUMENT, "token id ", t, " outside the vocabulary");
        }
        st.reserve(g, p + s);
        g.scratch().reset();
        if (p == 0) restart(g, st);
        // Engram rows depend on token ids only: their reads start now and overlap the layers before.
        if (engram_) engram_->prefetch(st.engram_ids, tokens);

        // Everything that depends only on positions and token ids is uploaded before the layers run.
        v4_pass pass = make_pass(g, p, s);
        pass.probe = st.probe;

        const mneme_tensor ids = g.tensor_of(MNEME_DTYPE_I32, {s});
        g.upload_i32(ids, tokens);
        mneme_tensor x = g.tensor({d_, hc, s});  // X_0 = [h, h, ..., h]
        // The streams ping-pong between two buffers of this shape, so each layer's temporaries can be
        // released once it is recorded (the scratch peak is one layer, not all of them).
        const mneme_tensor streams[2] = {x, g.tensor({d_, hc, s})};
        const mneme_tensor x_flat = make_tensor(x.buffer, x.offset, x.dtype, {hc * d_, s});
        for (int64_t m = 0; m < hc; ++m) g.get_rows(cols_of(x_flat, m * d_, d_), embed_, ids);

        for (std::size_t li = 0; li < layers_.size(); ++li) {
            const v4_layer& L = layers_[li];
            const scratch_arena::mark_t layer_mark = g.scratch().mark();
            if (engram_) {
                if (const int64_t slot = engram_->slot(static_cast<int64_t>(li)); slot >= 0) {
                    const mneme_tensor hist =
                        st.conv_history.empty() ? mneme_tensor{} : st.conv_history[static_cast<std::size_t>(slot)];
                    engram_->apply(g, ctx_, slot, x, engram_->gather_layer(g, slot, st.engram_ids, tokens), hist);
                }
            }
            // Each site reads x (streams[0]) and writes streams[1], then the other way round.
            x = site(g, streams[0], streams[1], L.hc_attn, L.attn_norm,
                     [&](const mneme_tensor& a) { return v4_attention(g, ctx_, L.attn, st.layers[li], a, pass); });
            x = site(g, streams[1], streams[0], L.hc_ffn, L.ffn_norm, [&](const mneme_tensor& f) {
                return v4_moe(g, ctx_, L.moe, f, tokens, st.probe, static_cast<int64_t>(li));
            });
            g.scratch().release(layer_mark);
        }

        // hc_head collapses the streams (of the last token only, unless every row is wanted).
        const int64_t rows = all_logits ? s : 1;
        const mneme_tensor last =
            all_logits
                ? x
                : make_tensor(x.buffer, x.offset + static_cast<uint64_t>((s - 1) * x.nb[2]), x.dtype, {d_, hc, 1});
        const mneme_tensor w = hc_coefficients(g, hp_, last, hc_head_);
        const mneme_tensor y = hc_collapse(g, hp_, last, w);
        const mneme_tensor yn = g.tensor({d_, rows});
        g.rms_norm(yn, y, &final_norm_, cfg_.rms_norm_eps);
        const mneme_tensor logits = g.tensor({vocab_, rows});
        g.matmul(logits, yn, head_);
        std::vector<double> out = g.read(logits);

        if (engram_) advance_engram_ids(st, tokens);
        st.n_past = p + s;
        return out;
    }

private:
    // One mHC-wrapped sub-layer: collapse the streams, run fn on the normed input, mix its output back.
    // The new streams are written into `into` (x's shape, not aliasing x).
    template <class F>
    mneme_tensor site(graph_builder& g, const mneme_tensor& x, const mneme_tensor& into, const hc_site_weights& w,
                      const mneme_tensor& norm, F&& fn) {
        const mneme_tensor coeffs = hc_coefficients(g, hp_, x, w);
        const mneme_tensor y = hc_collapse(g, hp_, x, coeffs);
        const mneme_tensor yn = g.tensor({d_, y.ne[1]});
        g.rms_norm(yn, y, &norm, cfg_.rms_norm_eps);
        return hc_expand(g, hp_, x, coeffs, fn(yn), &into);
    }

    // A sequence (re)starts at position 0: Engram's history is padding and its conv history zero.
    void restart(graph_builder& g, v4_state& st) {
        if (!engram_) return;
        st.engram_ids = engram_->initial_history();
        for (const auto& h : st.conv_history) {
            g.upload(h, std::vector<double>(static_cast<std::size_t>(h.ne[0] * h.ne[1]), 0.0));
        }
    }

    v4_pass make_pass(graph_builder& g, int64_t p, int64_t s) {
        v4_pass pass;
        pass.p = p;
        pass.s = s;
        std::vector<int64_t> pos(static_cast<std::size_t>(s));
        for (int64_t t = 0; t < s; ++t) pos[static_cast<std::size_t>(t)] = p + t;
        pass.window = upload_rope(g, window_freq_, pos);
        pass.compressed = upload_rope(g, compressed_freq_, pos);
        // Entries are rotated at their block's start (the indexer's keys of ratio-4 layers too).
        for (int64_t r : ratios_) {
            std::vector<int64_t> starts;
            for (int64_t j = p / r; j < (p + s) / r; ++j) starts.push_back(j * r);
            if (!starts.empty()) pass.blocks.emplace_back(r, upload_rope(g, compressed_freq_, starts));
        }
        return pass;
    }

    void advance_engram_ids(v4_state& st, std::span<const int32_t> tokens) const {
        std::vector<int64_t>& h = st.engram_ids;
        for (int32_t t : tokens) {
            if (h.empty()) break;
            h.erase(h.begin());
            h.push_back(engram_->canonical(t));
        }
    }

    const model_config& cfg_;
    weight_store ws_;
    v4_context ctx_;
    hc_params hp_;
    std::vector<buffer_ptr> owned_;
    int64_t d_ = 0, vocab_ = 0;
    std::vector<double> window_freq_, compressed_freq_;
    std::vector<int64_t> ratios_;
    mneme_tensor embed_{}, final_norm_{};
    linear_weight head_;
    hc_site_weights hc_head_;
    std::unique_ptr<engram_module> engram_;
    std::vector<v4_layer> layers_;
};

}  // namespace

std::unique_ptr<arch_model> make_deepseek_v4(const checkpoint& ckpt, const model_config& cfg, graph_builder& g,
                                             const v4_options& opts) {
    return std::make_unique<deepseek_v4>(ckpt, cfg, g, opts);
}

}  // namespace mneme
