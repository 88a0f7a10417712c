#include "graph/deepseek-v3.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <iterator>

#include "graph/expert-inputs.h"
#include "graph/moe-routing.h"
#include "graph/rope-table.h"
#include "graph/weights.h"

namespace mneme {
namespace {

struct expert_weights {
    linear_weight gate, up, down;
};

struct v3_layer {
    mneme_tensor attn_norm{}, ffn_norm{};
    // MLA
    bool q_lora = false;
    linear_weight q_a, q_b, q, kv_a, o;
    mneme_tensor q_a_norm{}, kv_a_norm{};
    // Absorbed kv_b_proj per head: W_UK^T [kv_lora outputs, nope inputs] and W_UV [v outputs,
    // kv_lora inputs], in the stored format where the head's rows start on a scale block.
    std::vector<linear_weight> w_uk_t, w_uv;
    // DSA indexer (V3.2)
    linear_weight idx_wq_b, idx_wk, idx_weights;
    mneme_tensor idx_k_norm_w{}, idx_k_norm_b{};
    // FFN
    bool moe = false;
    expert_weights dense, shared;
    std::vector<expert_weights> experts;
    linear_weight router;
    std::vector<double> router_bias;
};

// Caches grow in pages of k_page_tokens as tokens arrive (grown_capacity), never beyond n_ctx: a
// session costs what its tokens need.
constexpr int64_t k_page_tokens = 256;
// Passes of at most this many tokens record MoE layers with the experts' products grouped (see
// moe_grouped): the rows the CPU backend's decode-sized products take.
constexpr int64_t k_grouped_expert_rows = 16;

// Index keys leave the FP8 round trip as e4m3 values times a power of two, which BF16 holds
// exactly: where the device can score BF16 keys and write them, the cache keeps them so (half
// the bytes each decoding step scans at long context). Saved states hold them as float32 either
// way, so a state moves between devices and builds unchanged.
bool device_takes_bf16_keys(device& dev) {
    auto probe = [&](mneme_op_type type, std::initializer_list<mneme_dtype> srcs, mneme_dtype dst) {
        mneme_op op{};
        op.struct_size = sizeof(op);
        op.type = type;
        op.dst = make_tensor(nullptr, 0, dst, {1});
        for (const mneme_dtype t : srcs) op.src[op.n_src++] = make_tensor(nullptr, 0, t, {1});
        return dev.supports(op);
    };
    return probe(MNEME_OP_INDEXER_SCORES, {MNEME_DTYPE_F32, MNEME_DTYPE_F32, MNEME_DTYPE_BF16}, MNEME_DTYPE_F32) &&
           probe(MNEME_OP_COPY, {MNEME_DTYPE_F32}, MNEME_DTYPE_BF16) &&
           probe(MNEME_OP_COPY, {MNEME_DTYPE_BF16}, MNEME_DTYPE_BF16) &&
           probe(MNEME_OP_COPY, {MNEME_DTYPE_BF16}, MNEME_DTYPE_F32) &&
           probe(MNEME_OP_GET_ROWS, {MNEME_DTYPE_BF16, MNEME_DTYPE_I32}, MNEME_DTYPE_F32);
}

// Bytes of one cached row as saved: BF16 rows widen to float32.
int64_t saved_row_bytes(const mneme_tensor& t) {
    return t.dtype == MNEME_DTYPE_BF16 ? t.ne[0] * 4 : t.nb[1];
}

class v3_state final : public arch_state {
public:
    int64_t capacity = 0;                  // tokens the current buffers hold
    std::vector<buffer_ptr> buffers;
    std::vector<mneme_tensor> latent;      // per layer [kv_lora + rope, capacity]
    std::vector<mneme_tensor> index_keys;  // per layer [index_head_dim, capacity] (V3.2)
    // The optional coarse stage (v3_options::coarse_block = B): per layer [index_head_dim,
    // ceil(capacity / B)], the mean of each complete block's index keys; blocks_done are pooled.
    int64_t coarse_block = 0;
    std::vector<mneme_tensor> block_keys;
    int64_t blocks_done = 0;

    // Makes room for `needed` tokens, keeping the first n_past.
    void reserve(graph_builder& g, int64_t needed) {
        if (needed <= capacity) return;
        const int64_t cap = grown_capacity(needed, capacity, n_ctx, k_page_tokens);
        auto grow = [&](std::vector<mneme_tensor>& ts) {
            for (auto& t : ts) {
                auto b = g.dev().alloc(static_cast<uint64_t>(t.nb[1] * cap));
                mneme_tensor bigger = make_tensor(b->raw(), 0, t.dtype, {t.ne[0], cap});
                if (n_past > 0) g.copy(rows_of(bigger, 0, n_past), rows_of(t, 0, n_past));
                replace_buffer(g, buffers, t, bigger, std::move(b));
            }
        };
        grow(latent);
        grow(index_keys);
        if (coarse_block > 0) {
            const int64_t rows = (cap + coarse_block - 1) / coarse_block;
            for (auto& t : block_keys) {
                auto b = g.dev().alloc(static_cast<uint64_t>(t.nb[1] * rows));
                mneme_tensor bigger = make_tensor(b->raw(), 0, t.dtype, {t.ne[0], rows});
                if (blocks_done > 0) g.copy(rows_of(bigger, 0, blocks_done), rows_of(t, 0, blocks_done));
                replace_buffer(g, buffers, t, bigger, std::move(b));
            }
        }
        capacity = cap;
    }

    void save(graph_builder& g, std::vector<unsigned char>& out) override {
        auto put = [&](const mneme_tensor& t) {
            const uint64_t bytes = static_cast<uint64_t>(t.nb[1] * n_past);
            const std::size_t at = out.size();
            if (t.dtype != MNEME_DTYPE_BF16) {
                out.resize(at + bytes);
                if (bytes) g.dev().download(t.buffer, t.offset, out.data() + at, bytes);
                return;
            }
            std::vector<uint16_t> half(bytes / 2);
            if (bytes) g.dev().download(t.buffer, t.offset, half.data(), bytes);
            out.resize(at + half.size() * 4);
            for (std::size_t i = 0; i < half.size(); ++i) {
                const uint32_t bits = static_cast<uint32_t>(half[i]) << 16;  // exact
                std::memcpy(out.data() + at + 4 * i, &bits, 4);
            }
        };
        for (const auto& t : latent) put(t);
        for (const auto& t : index_keys) put(t);
    }

    void load(graph_builder& g, const unsigned char* data, std::size_t size) override {
        std::size_t expected = 0;
        for (const auto& t : latent) expected += static_cast<std::size_t>(saved_row_bytes(t) * n_past);
        for (const auto& t : index_keys) expected += static_cast<std::size_t>(saved_row_bytes(t) * n_past);
        if (expected != size) fail(MNEME_ERROR_INVALID_MODEL, "saved caches have ", size, " bytes, expected ", expected);
        const int64_t keep = n_past;
        n_past = 0;  // nothing of the old context is worth copying
        reserve(g, keep);
        n_past = keep;
        std::size_t at = 0;
        auto get = [&](const mneme_tensor& t) {
            const uint64_t bytes = static_cast<uint64_t>(saved_row_bytes(t) * n_past);
            if (at + bytes > size) fail(MNEME_ERROR_INVALID_MODEL, "saved state is shorter than its caches");
            if (t.dtype != MNEME_DTYPE_BF16) {
                if (bytes) g.dev().upload(t.buffer, t.offset, data + at, bytes);
            } else if (bytes) {
                // Saved from float32 keys that went through the same round trip: exact in BF16.
                std::vector<uint16_t> half(bytes / 4);
                for (std::size_t i = 0; i < half.size(); ++i) {
                    uint32_t bits;
                    std::memcpy(&bits, data + at + 4 * i, 4);
                    half[i] = static_cast<uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
                }
                g.dev().upload(t.buffer, t.offset, half.data(), half.size() * 2);
            }
            at += bytes;
        };
        for (const auto& t : latent) get(t);
        for (const auto& t : index_keys) get(t);
        if (at != size) fail(MNEME_ERROR_INVALID_MODEL, "saved state has ", size - at, " unexpected trailing bytes");
    }
};

class deepseek_v3 final : public arch_model {
public:
    deepseek_v3(const checkpoint& ckpt, const model_config& cfg, graph_builder& g, const v3_options& opts)
        : cfg_(cfg), ws_(ckpt, cfg, g) {
        v32_ = cfg.arch == model_arch::deepseek_v32;
        act_quant_ = v32_ && opts.act_quant;
        key_dtype_ = opts.bf16_index_keys && act_quant_ && g.act() == MNEME_DTYPE_F32 && device_takes_bf16_keys(g.dev())
                         ? MNEME_DTYPE_BF16
                         : g.act();
        coarse_block_ = v32_ ? opts.coarse_block : 0;
        coarse_recall_ = opts.recall;
        d_ = cfg.hidden_size;
        h_ = cfg.num_attention_heads;
        nope_ = cfg.qk_nope_head_dim;
        rope_ = cfg.qk_rope_head_dim;
        vdim_ = cfg.v_head_dim;
        kv_lora_ = cfg.kv_lora_rank;
        vocab_ = cfg.vocab_size;
        if (v32_) {
            hi_ = cfg.index_n_heads;
            di_ = cfg.index_head_dim;
            if (rope_ > di_) fail(MNEME_ERROR_INVALID_MODEL, "config.json: qk_rope_head_dim exceeds index_head_dim");
        }

        softmax_scale_ = 1.0 / std::sqrt(static_cast<double>(nope_ + rope_));
        if (cfg.rope_scaling.yarn) {
            yarn_params y{cfg.rope_scaling.factor, cfg.rope_scaling.original_max_position_embeddings,
                          cfg.rope_scaling.beta_fast, cfg.rope_scaling.beta_slow};
            inv_freq_ = yarn_inv_freq(rope_, cfg.rope_theta, y);
            const double m = yarn_mscale(cfg.rope_scaling.factor, cfg.rope_scaling.mscale_all_dim);
            softmax_scale_ *= m * m;
        } else {
            inv_freq_ = rope_inv_freq(rope_, cfg.rope_theta);
        }

        embed_ = ws_.raw("model.embed_tokens.weight", {vocab_, d_});
        final_norm_ = ws_.vector("model.norm.weight", d_);
        head_ = ws_.linear("lm_head", vocab_, d_);
        layers_.resize(static_cast<std::size_t>(cfg.num_hidden_layers));
        for (int64_t i = 0; i < cfg.num_hidden_layers; ++i) load_layer(g, i, layers_[static_cast<std::size_t>(i)]);
        g.flush();
    }

    std::unique_ptr<arch_state> new_state(graph_builder& g, int64_t n_ctx) override {
        auto st = std::make_unique<v3_state>();
        st->n_ctx = n_ctx;
        for (std::size_t i = 0; i < layers_.size(); ++i) {
            // Shapes only: reserve() allocates the first pages.
            st->latent.push_back(make_tensor(nullptr, 0, g.act(), {kv_lora_ + rope_, 0}));
            if (v32_) st->index_keys.push_back(make_tensor(nullptr, 0, key_dtype_, {di_, 0}));
            if (v32_ && coarse_block_ > 0) st->block_keys.push_back(make_tensor(nullptr, 0, g.act(), {di_, 0}));
        }
        if (v32_) st->coarse_block = coarse_block_;
        st->reserve(g, std::min<int64_t>(n_ctx, k_page_tokens));
        return st;
    }

    uint64_t cache_bytes_per_token(mneme_dtype act) const override {
        const int64_t keys = v32_ ? di_ * dtype_bytes(act == MNEME_DTYPE_F32 ? key_dtype_ : act) : 0;
        return static_cast<uint64_t>((kv_lora_ + rope_) * dtype_bytes(act) + keys) * layers_.size();
    }

    uint64_t scratch_bytes(int64_t chunk, int64_t context, mneme_dtype act) const override {
        scratch_tally t(dtype_bytes(act));
        const int64_t s = chunk;
        // Per pass: rotary tables, token ids, the residual h; at the end the last row's norm and logits.
        t.add(rope_ / 2 * s, 2).i32(s).add(d_ * s).add(d_).add(vocab_);
        int64_t largest = 0;
        for (const v3_layer& L : layers_) {
            scratch_tally l(t.es);
            const auto lin = [&](const linear_weight& w, int64_t in) {
                if (act_quant_ && w.quantised) l.add(in * s);
                l.add(w.out_features() * s);
            };
            l.add(d_ * s);  // x
            if (act_quant_ && L.kv_a.quantised) l.add(d_ * s);
            if (L.q_lora) {
                l.add(L.q_a.out_features() * s, 2);
                lin(L.q_b, L.q_a.out_features());
            } else {
                lin(L.q, d_);
            }
            l.add((kv_lora_ + rope_) * s).add((kv_lora_ + rope_) * h_ * s);  // kv, absorbed query
            if (v32_) {
                lin(L.idx_wq_b, L.q_a.out_features());
                l.add(hi_ * s).add(context * s).i32(std::min<int64_t>(cfg_.index_topk, context) * s);
                if (narrow_keys()) l.add(di_ * s);  // new keys before they are narrowed into the cache
                if (coarse_block_ > 0) {
                    l.add(di_ * (s + coarse_block_)).add(di_ * coarse_block_);  // block pooling
                    if (narrow_keys()) l.add(di_ * (s + coarse_block_));        // the pooled keys widened
                }
            }
            l.add(kv_lora_ * h_ * s).add(vdim_ * h_ * s);  // attention output, value up-projection
            lin(L.o, vdim_ * h_);
            l.add(d_ * s);  // x2
            const auto ffn = [&](const expert_weights& e, int64_t rows) {
                lin(e.gate, d_);
                if (e.up.quantised == e.gate.quantised) {
                    l.add(e.up.out_features() * s);  // the gate's rounded input serves (linear_input_as)
                } else {
                    lin(e.up, d_);
                }
                l.add(e.gate.out_features() * rows);
                lin(e.down, e.gate.out_features());
            };
            if (L.moe) {
                l.add(cfg_.n_routed_experts * s);
                ffn(L.shared, s);
                if (act_quant_) l.add(d_ * s);
                const expert_weights& e = L.experts[0];
                const int64_t inter = e.gate.out_features(), down_in = act_quant_ && e.down.quantised ? inter : 0;
                if (s <= k_grouped_expert_rows) {
                    // Every chosen expert's temporaries at once (moe_grouped): s * top_k rows in
                    // all, over at most that many experts, each tensor rounded up to 64 bytes.
                    const int64_t rows = s * cfg_.num_experts_per_tok, m = std::min(rows, cfg_.n_routed_experts);
                    const int64_t per_row = 4 + l.es * (1 + d_ + 3 * inter + down_in + d_);
                    l.bytes_add(per_row * rows + 63 * 8 * m);
                } else {
                    // One expert at a time; at most every token of the chunk routes to it.
                    l.i32(s).add(s).add(d_ * s).add(inter * s, 3);
                    if (down_in) l.add(down_in * s);
                    l.add(d_ * s);
                }
            } else {
                ffn(L.dense, s);
            }
            largest = std::max(largest, l.bytes);
        }
        return static_cast<uint64_t>(t.bytes + largest);
    }

    std::vector<double> forward(graph_builder& g, arch_state& base, std::span<const int32_t> tokens,
                                bool all_logits) override {
        auto& st = static_cast<v3_state&>(base);
        const int64_t s = static_cast<int64_t>(tokens.size()), p = st.n_past;
        if (p + s > st.n_ctx) fail(MNEME_ERROR_CONTEXT_FULL, "context holds ", st.n_ctx, " tokens");
        st.reserve(g, p + s);
        for (int32_t t : tokens) {
            if (t < 0 || t >= vocab_) fail(MNEME_ERROR_INVALID_ARGUMENT, "token id ", t, " outside the vocabulary");
        }
        g.scratch().reset();

        // Rotary tables for the new positions (same frequencies for MLA and the indexer).
        std::vector<double> cos_v, sin_v;
        rope_tables(inv_freq_, p, s, cos_v, sin_v);
        const mneme_tensor cos_t = g.tensor({rope_ / 2, s}), sin_t = g.tensor({rope_ / 2, s});
        g.upload(cos_t, cos_v);
        g.upload(sin_t, sin_v);

        const mneme_tensor ids = g.tensor_of(MNEME_DTYPE_I32, {s});
        g.upload_i32(ids, tokens);
        const mneme_tensor h = g.tensor({d_, s});
        g.get_rows(h, embed_, ids);

        for (std::size_t li = 0; li < layers_.size(); ++li) {
            const v3_layer& L = layers_[li];
            // The layer's temporaries are released once it is recorded; h and the caches persist.
            const scratch_arena::mark_t layer_mark = g.scratch().mark();
            const mneme_tensor x = g.tensor({d_, s});
            g.rms_norm(x, h, &L.attn_norm, cfg_.rms_norm_eps);
            const mneme_tensor attn = attention(g, st, li, L, x, cos_t, sin_t);
            g.add(h, h, attn);

            const mneme_tensor x2 = g.tensor({d_, s});
            g.rms_norm(x2, h, &L.ffn_norm, cfg_.rms_norm_eps);
            const mneme_tensor ffn_out =
                L.moe ? moe(g, L, x2, st.probe, static_cast<int64_t>(li)) : swiglu_ffn(g, L.dense, x2);
            g.add(h, h, ffn_out);
            g.scratch().release(layer_mark);
        }

        const mneme_tensor last = all_logits ? h : rows_of(h, s - 1, 1);
        const int64_t rows = all_logits ? s : 1;
        const mneme_tensor hn = g.tensor({d_, rows});
        g.rms_norm(hn, last, &final_norm_, cfg_.rms_norm_eps);
        const mneme_tensor logits = g.tensor({vocab_, rows});
        g.matmul(logits, hn, head_);
        std::vector<double> out = g.read(logits);
        st.n_past = p + s;
        return out;
    }

private:
    // The input of a linear layer: V3.2 rounds it through FP8 first (per token, per 128 channels).
    mneme_tensor linear_input(graph_builder& g, const mneme_tensor& x, const linear_weight& w) {
        if (!act_quant_ || !w.quantised) return x;
        const mneme_tensor q = g.tensor({x.ne[0], x.ne[1]});
        g.quant_roundtrip(q, x, MNEME_DTYPE_F8_E4M3, 128);
        return q;
    }

    mneme_tensor apply(graph_builder& g, const mneme_tensor& x, const linear_weight& w, double alpha = 1.0) {
        const mneme_tensor y = g.tensor({w.out_features(), x.ne[1]});
        g.matmul(y, linear_input(g, x, w), w, alpha);
        return y;
    }

    // The input of a linear layer when `given` (x through w_given's linear_input) may serve:
    // quantised alike, it is the same tensor, so x is not rounded through FP8 a second time.
    mneme_tensor linear_input_as(graph_builder& g, const mneme_tensor& x, const linear_weight& w,
                                 const mneme_tensor& given, const linear_weight& w_given) {
        return w.quantised == w_given.quantised ? given : linear_input(g, x, w);
    }

    mneme_tensor swiglu_ffn(graph_builder& g, const expert_weights& e, const mneme_tensor& x) {
        const mneme_tensor x_gate = linear_input(g, x, e.gate), x_up = linear_input_as(g, x, e.up, x_gate, e.gate);
        const mneme_tensor gate = g.tensor({e.gate.out_features(), x.ne[1]});
        const mneme_tensor up = g.tensor({e.up.out_features(), x.ne[1]});
        g.matmul(gate, x_gate, e.gate);
        g.matmul(up, x_up, e.up);
        const mneme_tensor act = g.tensor({gate.ne[0], x.ne[1]});
        g.swiglu(act, gate, up, 0.0);
        return apply(g, act, e.down);
    }

    mneme_tensor moe(graph_builder& g, const v3_layer& L, const mneme_tensor& x, forward_probe* probe, int64_t li) {
        const int64_t s = x.ne[1];
        // Router logits in full precision (never activation-quantised), read back to choose experts.
        const mneme_tensor logits = g.tensor({cfg_.n_routed_experts, s});
        g.matmul(logits, x, L.router);
        const std::vector<double> z = g.read(logits);
        router_params rp;
        rp.score = router_score::sigmoid;
        rp.n_experts = cfg_.n_routed_experts;
        rp.top_k = cfg_.num_experts_per_tok;
        rp.n_group = cfg_.n_group;
        rp.topk_group = cfg_.topk_group;
        rp.normalise = cfg_.norm_topk_prob;
        rp.scale = cfg_.routed_scaling_factor;
        const routing r = route_tokens(rp, z, s, L.router_bias);
        if (probe) probe->count_experts(li, r.expert);

        const mneme_tensor xq = linear_input(g, x, L.experts[0].gate);  // the same for every expert
        if (s <= k_grouped_expert_rows) return moe_grouped(g, L, x, xq, r);
        mneme_tensor y = swiglu_ffn(g, L.shared, x);
        for (int64_t e = 0; e < cfg_.n_routed_experts; ++e) {
            const expert_rows er = rows_of_expert(r, s, e);
            if (er.rows.empty()) continue;
            const scratch_arena::mark_t expert_mark = g.scratch().mark();  // one expert's temporaries at a time
            const int64_t n = static_cast<int64_t>(er.rows.size());
            const mneme_tensor ids = g.tensor_of(MNEME_DTYPE_I32, {n});
            g.upload_i32(ids, er.rows);
            const mneme_tensor w = g.tensor({n});
            g.upload(w, er.weights);
            const mneme_tensor xe = g.tensor({d_, n});
            g.get_rows(xe, xq, ids);
            const expert_weights& ew = L.experts[static_cast<std::size_t>(e)];
            const mneme_tensor gate = g.tensor({ew.gate.out_features(), n}), up = g.tensor({ew.up.out_features(), n});
            g.matmul(gate, xe, ew.gate);
            g.matmul(up, xe, ew.up);
            const mneme_tensor act = g.tensor({gate.ne[0], n});
            g.swiglu(act, gate, up, 0.0);
            const mneme_tensor out = apply(g, act, ew.down);
            g.add_rows_scaled(y, out, ids, w);
            g.scratch().release(expert_mark);
        }
        return y;
    }

    // Decode-sized passes record the same ops as moe()'s loop, reordered so that the products
    // that do not depend on each other follow one another: the shared and every chosen expert's
    // gate and up products, then every down product. A backend can then run them side by side
    // (the CPU one gives each thread whole matrices, which small cold matrices need to be read at
    // full speed). The outputs are added to y in the same order as moe()'s loop, so the logits are
    // bit for bit the same; the temporaries of all chosen experts live at once, which for at most
    // k_grouped_expert_rows rows is small (see scratch_bytes).
    mneme_tensor moe_grouped(graph_builder& g, const v3_layer& L, const mneme_tensor& x, const mneme_tensor& xq,
                             const routing& r) {
        const int64_t s = x.ne[1];
        struct chosen {
            const expert_weights* w;
            mneme_tensor ids, weights, x, gate, up, act, out;
        };
        const std::vector<expert_inputs> inputs = record_expert_inputs(g, r, cfg_.n_routed_experts, s, xq);
        std::vector<chosen> experts;
        experts.reserve(inputs.size());
        for (const expert_inputs& in : inputs) {
            const expert_weights& ew = L.experts[static_cast<std::size_t>(in.expert)];
            const int64_t n = in.ids.ne[0];
            chosen c{&ew, in.ids, in.weights, in.x, {}, {}, {}, {}};
            c.gate = g.tensor({ew.gate.out_features(), n});
            c.up = g.tensor({ew.up.out_features(), n});
            c.act = g.tensor({ew.gate.out_features(), n});
            experts.push_back(c);
        }
        const expert_weights& sh = L.shared;
        const linear_weight& routed_gate = L.experts[0].gate;  // xq's (see moe)
        const mneme_tensor sx_gate = linear_input_as(g, x, sh.gate, xq, routed_gate);
        const mneme_tensor sx_up = linear_input_as(g, x, sh.up, xq, routed_gate);
        const mneme_tensor s_gate = g.tensor({sh.gate.out_features(), s}), s_up = g.tensor({sh.up.out_features(), s});
        g.matmul(s_gate, sx_gate, sh.gate);
        g.matmul(s_up, sx_up, sh.up);
        for (const chosen& c : experts) {
            g.matmul(c.gate, c.x, c.w->gate);
            g.matmul(c.up, c.x, c.w->up);
        }
        const mneme_tensor s_act = g.tensor({s_gate.ne[0], s});
        g.swiglu(s_act, s_gate, s_up, 0.0);
        for (const chosen& c : experts) g.swiglu(c.act, c.gate, c.up, 0.0);
        const mneme_tensor s_in = linear_input(g, s_act, sh.down);
        std::vector<mneme_tensor> down_in;
        down_in.reserve(experts.size());
        for (const chosen& c : experts) down_in.push_back(linear_input(g, c.act, c.w->down));
        mneme_tensor y = g.tensor({sh.down.out_features(), s});
        g.matmul(y, s_in, sh.down);
        for (std::size_t i = 0; i < experts.size(); ++i) {
            chosen& c = experts[i];
            c.out = g.tensor({c.w->down.out_features(), c.ids.ne[0]});
            g.matmul(c.out, down_in[i], c.w->down);
        }
        for (const chosen& c : experts) g.add_rows_scaled(y, c.out, c.ids, c.weights);
        return y;
    }

    mneme_tensor attention(graph_builder& g, v3_state& st, std::size_t li, const v3_layer& L, const mneme_tensor& x,
                           const mneme_tensor& cos_t, const mneme_tensor& sin_t) {
        const int64_t s = x.ne[1], p = st.n_past, total = p + s;
        const int64_t es = dtype_bytes(g.act());
        const mneme_tensor xq = linear_input(g, x, L.kv_a);

        // Query: [nope | rope] per head, rope part rotated (interleaved) in place.
        mneme_tensor qr{};
        mneme_tensor q;
        if (L.q_lora) {
            const mneme_tensor a = g.tensor({L.q_a.out_features(), s});
            g.matmul(a, xq, L.q_a);
            qr = g.tensor({a.ne[0], s});
            g.rms_norm(qr, a, &L.q_a_norm, cfg_.rms_norm_eps);
            q = apply(g, qr, L.q_b);
        } else {
            q = apply(g, x, L.q);
        }
        const mneme_tensor q3 = split_heads(q, h_);  // [nope+rope, H, S]
        g.rope(q3, q3, cos_t, sin_t, MNEME_ROPE_INTERLEAVED, static_cast<uint32_t>(nope_), static_cast<uint32_t>(rope_));

        // Latent: c = norm(kv[:kv_lora]) (FP8 round trip in V3.2) and the roped key, written into the cache.
        const mneme_tensor kv = g.tensor({kv_lora_ + rope_, s});
        g.matmul(kv, xq, L.kv_a);
        const mneme_tensor cache_new = rows_of(st.latent[li], p, s);
        const mneme_tensor c_new = cols_of(cache_new, 0, kv_lora_);
        g.rms_norm(c_new, cols_of(kv, 0, kv_lora_), &L.kv_a_norm, cfg_.rms_norm_eps);
        if (act_quant_) g.quant_roundtrip(c_new, c_new, MNEME_DTYPE_F8_E4M3, 128);
        g.rope(as_3d(cols_of(cache_new, kv_lora_, rope_), rope_, 1, s), as_3d(cols_of(kv, kv_lora_, rope_), rope_, 1, s),
               cos_t, sin_t, MNEME_ROPE_INTERLEAVED, 0, static_cast<uint32_t>(rope_));

        // Absorbed query: per head q~ = W_UK^T q_nope, followed by the roped part: [kv_lora + rope, H, S].
        const int64_t qd = kv_lora_ + rope_;
        const mneme_tensor qfull = g.tensor({qd, h_, s});
        for (int64_t hh = 0; hh < h_; ++hh) {
            mneme_tensor qn = make_tensor(q.buffer, q.offset + static_cast<uint64_t>(hh * (nope_ + rope_) * es), g.act(),
                                          {nope_, s});
            qn.nb[1] = q.nb[1];
            qn.nb[2] = qn.nb[3] = qn.nb[1] * s;
            mneme_tensor dst = make_tensor(qfull.buffer, qfull.offset + static_cast<uint64_t>(hh * qd * es), g.act(),
                                           {kv_lora_, s});
            dst.nb[1] = qfull.nb[2];
            dst.nb[2] = dst.nb[3] = dst.nb[1] * s;
            // Never activation-quantised: the reference absorbs the weights, not an FP8 linear layer.
            g.matmul(dst, qn, L.w_uk_t[static_cast<std::size_t>(hh)]);
        }
        g.copy(cols_of(qfull, kv_lora_, rope_), cols_of(q3, nope_, rope_));

        // Which cached positions each query may see: DSA's top-k (V3.2) or all causal ones.
        const mneme_tensor keys = rows_of(st.latent[li], 0, total);
        mneme_tensor selected{};
        bool sparse = false;
        if (v32_) {
            selected = index_select(g, st, li, L, x, xq, qr, cos_t, sin_t);
            sparse = true;
        }
        const mneme_tensor o_lat = g.tensor({kv_lora_, h_, s});
        mneme_op_attention ap{};
        ap.scale = softmax_scale_;
        ap.start_pos = p;
        g.attention(o_lat, qfull, keys, cols_of(keys, 0, kv_lora_), sparse ? &selected : nullptr, nullptr, ap);

        // Per-head value up-projection, then the output projection.
        const mneme_tensor o = g.tensor({vdim_ * h_, s});
        for (int64_t hh = 0; hh < h_; ++hh) {
            mneme_tensor src = make_tensor(o_lat.buffer, o_lat.offset + static_cast<uint64_t>(hh * kv_lora_ * es),
                                           g.act(), {kv_lora_, s});
            src.nb[1] = o_lat.nb[2];
            src.nb[2] = src.nb[3] = src.nb[1] * s;
            mneme_tensor dst = make_tensor(o.buffer, o.offset + static_cast<uint64_t>(hh * vdim_ * es), g.act(), {vdim_, s});
            dst.nb[1] = o.nb[1];
            dst.nb[2] = dst.nb[3] = dst.nb[1] * s;
            g.matmul(dst, src, L.w_uv[static_cast<std::size_t>(hh)]);
        }
        return apply(g, o, L.o);
    }

    // The lightning indexer: keys for the new tokens go into the cache; returns I32 [k, S].
    mneme_tensor index_select(graph_builder& g, v3_state& st, std::size_t li, const v3_layer& L, const mneme_tensor& x,
                              const mneme_tensor& xq, const mneme_tensor& qr, const mneme_tensor& cos_t,
                              const mneme_tensor& sin_t) {
        const int64_t s = x.ne[1], p = st.n_past, total = p + s;
        const mneme_tensor q = apply(g, qr, L.idx_wq_b);  // [Hi*Di, S]
        const mneme_tensor q3 = split_heads(q, hi_);
        g.rope(q3, q3, cos_t, sin_t, MNEME_ROPE_HALF_SPLIT, 0, static_cast<uint32_t>(rope_));
        g.hadamard(q3, q3);
        if (act_quant_) g.quant_roundtrip(q3, q3, MNEME_DTYPE_F8_E4M3, static_cast<uint32_t>(di_));

        const mneme_tensor k_new = narrow_keys() ? g.tensor({di_, s}) : rows_of(st.index_keys[li], p, s);
        g.matmul(k_new, xq, L.idx_wk);
        g.layer_norm(k_new, k_new, &L.idx_k_norm_w, &L.idx_k_norm_b, 1e-6);
        g.rope(as_3d(k_new, di_, 1, s), as_3d(k_new, di_, 1, s), cos_t, sin_t, MNEME_ROPE_HALF_SPLIT, 0,
               static_cast<uint32_t>(rope_));
        g.hadamard(k_new, k_new);
        if (act_quant_) g.quant_roundtrip(k_new, k_new, MNEME_DTYPE_F8_E4M3, static_cast<uint32_t>(di_));
        if (narrow_keys()) g.copy(rows_of(st.index_keys[li], p, s), k_new);

        const mneme_tensor w = g.tensor({hi_, s});
        g.matmul(w, x, L.idx_weights, 1.0 / std::sqrt(static_cast<double>(hi_)) / std::sqrt(static_cast<double>(di_)));
        if (st.coarse_block > 0) {
            pool_blocks(g, st, li, total);
            if (s == 1) {
                if (mneme_tensor sel = coarse_select(g, st, li, q3, w, p); sel.buffer) return sel;
            }
        }
        const mneme_tensor scores = g.tensor({total, s});
        g.indexer_scores(scores, q3, w, rows_of(st.index_keys[li], 0, total), p, 1);
        const int64_t k = std::min<int64_t>(cfg_.index_topk, total);
        const mneme_tensor sel = g.tensor_of(MNEME_DTYPE_I32, {k, s});
        g.topk(sel, scores, static_cast<uint32_t>(k));
        // Opt-in statistics only: the read waits for the pass so far to finish.
        if (st.probe && st.probe->collect_selections) st.probe->count_selection(g.read(sel), k, s, p, 1);
        return sel;
    }

    // Coarse stage: the mean index key of every block that completed (layer li's share of the work;
    // blocks_done advances after the last layer has pooled).
    void pool_blocks(graph_builder& g, v3_state& st, std::size_t li, int64_t total) {
        const int64_t b = st.coarse_block, first = st.blocks_done, n = total / b - first;
        if (n > 0) {
            mneme_tensor a = rows_of(st.index_keys[li], first * b, n * b);
            if (narrow_keys()) {
                const mneme_tensor wide = g.tensor({di_, n * b});
                g.copy(wide, a);
                a = wide;
            }
            // Gated pooling with all-zero scores and position terms is the plain mean.
            const mneme_tensor zeros = g.tensor({di_, n * b}), ape = g.tensor({di_, b});
            g.scale(zeros, a, 0.0, 0.0);
            g.scale(ape, rows_of(a, 0, b), 0.0, 0.0);
            g.compress_pool(rows_of(st.block_keys[li], first, n), a, zeros, ape,
                            mneme_op_compress{b, first * b, first, MNEME_FALSE, 0});
        }
        if (li + 1 == layers_.size()) {
            g.on_abort([&st, before = st.blocks_done] { st.blocks_done = before; });
            st.blocks_done = total / b;
        }
    }

    // Two-stage selection for one decoding query at position p: the index queries score the block
    // means, the best candidate blocks (four times the blocks top-k tokens could fill) and the
    // current partial block become the candidates, and the token-level indexer picks top-k among
    // them. An approximation (off by default): it equals the exact selection whenever every block
    // is a candidate. Returns an empty tensor when there are too few blocks for it to save work.
    mneme_tensor coarse_select(graph_builder& g, v3_state& st, std::size_t li, const mneme_tensor& q3,
                               const mneme_tensor& w, int64_t p) {
        const int64_t b = st.coarse_block, complete = (p + 1) / b;
        const int64_t k = std::min<int64_t>(cfg_.index_topk, p + 1);
        const int64_t kb = 4 * ((k + b - 1) / b);
        if (complete <= kb) return {};
        const mneme_tensor block_scores = g.tensor({complete, 1});
        g.indexer_scores(block_scores, q3, w, rows_of(st.block_keys[li], 0, complete), p, b);
        const mneme_tensor best = g.tensor_of(MNEME_DTYPE_I32, {kb, 1});
        g.topk(best, block_scores, static_cast<uint32_t>(kb));
        std::vector<int32_t> blocks;
        for (double v : g.read(best)) blocks.push_back(static_cast<int32_t>(v));
        std::sort(blocks.begin(), blocks.end());
        std::vector<int32_t> cand;
        for (int32_t j : blocks) {
            for (int64_t t = 0; t < b; ++t) cand.push_back(static_cast<int32_t>(j * b + t));
        }
        for (int64_t t = complete * b; t <= p; ++t) cand.push_back(static_cast<int32_t>(t));
        const auto n = static_cast<int64_t>(cand.size());
        const mneme_tensor ids = g.tensor_of(MNEME_DTYPE_I32, {n});
        g.upload_i32(ids, cand);
        const mneme_tensor keys = g.tensor({di_, n});
        g.get_rows(keys, rows_of(st.index_keys[li], 0, p + 1), ids);
        // Candidates are all causal, so the indexer's mask (j <= p) keeps every one of them.
        const mneme_tensor scores = g.tensor({n, 1});
        g.indexer_scores(scores, q3, w, keys, p, 1);
        const int64_t kk = std::min(k, n);
        const mneme_tensor picked = g.tensor_of(MNEME_DTYPE_I32, {kk, 1});
        g.topk(picked, scores, static_cast<uint32_t>(kk));
        std::vector<int32_t> positions;
        for (double v : g.read(picked)) positions.push_back(cand[static_cast<std::size_t>(v)]);
        const mneme_tensor sel = g.tensor_of(MNEME_DTYPE_I32, {kk, 1});
        g.upload_i32(sel, positions);
        if (coarse_recall_) measure_recall(g, st, li, q3, w, p, k, positions);
        if (st.probe && st.probe->collect_selections) {
            st.probe->count_selection(std::vector<double>(positions.begin(), positions.end()), kk, 1, p, 1);
        }
        return sel;
    }

    // Recall of the coarse selection against the exact top-k (measurement only: runs both).
    void measure_recall(graph_builder& g, v3_state& st, std::size_t li, const mneme_tensor& q3, const mneme_tensor& w,
                        int64_t p, int64_t k, const std::vector<int32_t>& chosen) {
        const mneme_tensor scores = g.tensor({p + 1, 1});
        g.indexer_scores(scores, q3, w, rows_of(st.index_keys[li], 0, p + 1), p, 1);
        const mneme_tensor exact = g.tensor_of(MNEME_DTYPE_I32, {k, 1});
        g.topk(exact, scores, static_cast<uint32_t>(k));
        std::vector<int32_t> a;
        for (double v : g.read(exact)) a.push_back(static_cast<int32_t>(v));
        std::vector<int32_t> c = chosen;
        std::sort(a.begin(), a.end());
        std::sort(c.begin(), c.end());
        std::vector<int32_t> both;
        std::set_intersection(a.begin(), a.end(), c.begin(), c.end(), std::back_inserter(both));
        coarse_recall_->selections += static_cast<uint64_t>(a.size());
        coarse_recall_->found += static_cast<uint64_t>(both.size());
    }

    void load_layer(graph_builder& g, int64_t i, v3_layer& L) {
        const std::string p = "model.layers." + std::to_string(i) + ".";
        const std::string a = p + "self_attn.";
        L.attn_norm = ws_.vector(p + "input_layernorm.weight", d_);
        L.ffn_norm = ws_.vector(p + "post_attention_layernorm.weight", d_);
        L.q_lora = cfg_.q_lora_rank > 0;
        if (L.q_lora) {
            L.q_a = ws_.linear(a + "q_a_proj", cfg_.q_lora_rank, d_);
            L.q_a_norm = ws_.vector(a + "q_a_layernorm.weight", cfg_.q_lora_rank);
            L.q_b = ws_.linear(a + "q_b_proj", h_ * (nope_ + rope_), cfg_.q_lora_rank);
        } else {
            L.q = ws_.linear(a + "q_proj", h_ * (nope_ + rope_), d_);
        }
        L.kv_a = ws_.linear(a + "kv_a_proj_with_mqa", kv_lora_ + rope_, d_);
        L.kv_a_norm = ws_.vector(a + "kv_a_layernorm.weight", kv_lora_);
        L.o = ws_.linear(a + "o_proj", d_, h_ * vdim_);

        load_absorbed_kv_b(g, a + "kv_b_proj", L);

        if (v32_) {
            const std::string ix = a + "indexer.";
            const int64_t q_in = L.q_lora ? cfg_.q_lora_rank : d_;
            L.idx_wq_b = ws_.linear(ix + "wq_b", hi_ * di_, q_in);
            L.idx_wk = ws_.linear(ix + "wk", di_, d_);
            L.idx_k_norm_w = ws_.vector(ix + "k_norm.weight", di_);
            L.idx_k_norm_b = ws_.vector(ix + "k_norm.bias", di_);
            L.idx_weights = ws_.linear(ix + "weights_proj", hi_, d_);
        }

        L.moe = i >= cfg_.first_k_dense_replace && i % std::max<int64_t>(cfg_.moe_layer_freq, 1) == 0;
        const std::string m = p + "mlp.";
        if (!L.moe) {
            L.dense = {ws_.linear(m + "gate_proj", cfg_.intermediate_size, d_),
                       ws_.linear(m + "up_proj", cfg_.intermediate_size, d_),
                       ws_.linear(m + "down_proj", d_, cfg_.intermediate_size)};
            return;
        }
        const int64_t inter = cfg_.moe_intermediate_size, shared = cfg_.n_shared_experts * inter;
        L.router = ws_.linear(m + "gate", cfg_.n_routed_experts, d_);
        L.router_bias = ws_.host_doubles(m + "gate.e_score_correction_bias", cfg_.n_routed_experts);
        L.shared = {ws_.linear(m + "shared_experts.gate_proj", shared, d_),
                    ws_.linear(m + "shared_experts.up_proj", shared, d_),
                    ws_.linear(m + "shared_experts.down_proj", d_, shared)};
        for (int64_t e = 0; e < cfg_.n_routed_experts; ++e) {
            const std::string ep = m + "experts." + std::to_string(e) + ".";
            L.experts.push_back({ws_.linear(ep + "gate_proj", inter, d_), ws_.linear(ep + "up_proj", inter, d_),
                                 ws_.linear(ep + "down_proj", d_, inter)});
        }
    }

    // kv_b_proj is used absorbed (no activation round trip, SPEC §2.4): per head, W_UK^T maps the
    // query's nope part into the latent space and W_UV the attention output back to values. Both
    // stay in the stored format with its block scales: a decode step then reads FP8 bytes instead
    // of float copies four (float64: eight) times larger, and the products use the same values.
    // W_UV is a row slice of the weight; W_UK^T a transposed copy of the head's nope rows, made
    // once here. Block scales cover block_n rows, so a head whose rows do not start on a block
    // (nope or nope + v not a multiple of block_n, as in the tiny test models) cannot share them:
    // it uses a copy dequantised into the activation type instead. Unscaled (BF16/F32) weights
    // slice anywhere.
    void load_absorbed_kv_b(graph_builder& g, const std::string& prefix, v3_layer& L) {
        const int64_t rows = h_ * (nope_ + vdim_);
        const linear_weight kv_b = ws_.linear(prefix, rows, kv_lora_);
        const auto on_block = [&](int64_t row) { return !kv_b.scale.buffer || row % kv_b.block_n == 0; };
        const auto uk_row = [&](int64_t hh) { return hh * (nope_ + vdim_); };
        const auto uv_row = [&](int64_t hh) { return hh * (nope_ + vdim_) + nope_; };
        std::vector<int64_t> uk_stored, uk_dense;  // first rows / heads
        bool uv_dense = false;
        for (int64_t hh = 0; hh < h_; ++hh) {
            if (on_block(uk_row(hh))) {
                uk_stored.push_back(uk_row(hh));
            } else {
                uk_dense.push_back(hh);
            }
            uv_dense = uv_dense || !on_block(uv_row(hh));
        }
        mneme_tensor wkv{};  // [kv_lora, H*(nope+v)] dequantised, only for heads off the blocks
        std::vector<double> wkv_host;
        if (uv_dense || !uk_dense.empty()) {
            buffer_ptr b = g.dev().alloc(static_cast<uint64_t>(rows * kv_lora_ * dtype_bytes(g.act())));
            wkv = make_tensor(b->raw(), 0, g.act(), {kv_lora_, rows});
            g.dequantise(wkv, kv_b);
            if (uv_dense) owned_.push_back(b);
            if (!uk_dense.empty()) wkv_host = g.read(wkv);
        }
        mneme_tensor uk_t{};  // the dense W_UK^T of uk_dense's heads, stacked [nope, kv_lora] each
        if (!uk_dense.empty()) {
            const auto n = static_cast<int64_t>(uk_dense.size());
            std::vector<double> t(static_cast<std::size_t>(n * kv_lora_ * nope_));
            for (int64_t i = 0; i < n; ++i) {
                for (int64_t r = 0; r < nope_; ++r) {
                    const double* row = wkv_host.data() + (uk_row(uk_dense[static_cast<std::size_t>(i)]) + r) * kv_lora_;
                    for (int64_t c = 0; c < kv_lora_; ++c) t[static_cast<std::size_t>((i * kv_lora_ + c) * nope_ + r)] = row[c];
                }
            }
            buffer_ptr b = g.dev().alloc(static_cast<uint64_t>(n * kv_lora_ * nope_ * dtype_bytes(g.act())));
            uk_t = make_tensor(b->raw(), 0, g.act(), {nope_, n * kv_lora_});
            owned_.push_back(b);
            g.upload(uk_t, t);
        }
        const std::vector<linear_weight> stored = ws_.transposed_rows(prefix, kv_b, uk_stored, nope_);
        std::size_t next_stored = 0, next_dense = 0;
        for (int64_t hh = 0; hh < h_; ++hh) {
            linear_weight uk, uv;
            if (on_block(uk_row(hh))) {
                uk = stored[next_stored++];
            } else {
                uk.w = rows_of(uk_t, static_cast<int64_t>(next_dense++) * kv_lora_, kv_lora_);
            }
            if (on_block(uv_row(hh))) {
                uv = row_slice(kv_b, uv_row(hh), vdim_);
            } else {
                uv.w = rows_of(wkv, uv_row(hh), vdim_);
            }
            L.w_uk_t.push_back(uk);
            L.w_uv.push_back(uv);
        }
    }

    const model_config& cfg_;
    weight_store ws_;
    std::vector<buffer_ptr> owned_;
    bool v32_ = false, act_quant_ = false;
    mneme_dtype key_dtype_ = MNEME_DTYPE_F32;  // of the index-key cache (device_takes_bf16_keys)
    bool narrow_keys() const noexcept { return v32_ && key_dtype_ == MNEME_DTYPE_BF16; }
    int64_t coarse_block_ = 0;
    coarse_recall* coarse_recall_ = nullptr;
    int64_t d_ = 0, h_ = 0, nope_ = 0, rope_ = 0, vdim_ = 0, kv_lora_ = 0, vocab_ = 0, hi_ = 0, di_ = 0;
    double softmax_scale_ = 1.0;
    std::vector<double> inv_freq_;
    mneme_tensor embed_{}, final_norm_{};
    linear_weight head_;
    std::vector<v3_layer> layers_;
};

}  // namespace

std::unique_ptr<arch_model> make_deepseek_v3(const checkpoint& ckpt, const model_config& cfg, graph_builder& g,
                                             const v3_options& opts) {
    return std::make_unique<deepseek_v3>(ckpt, cfg, g, opts);
}

}  // namespace mneme
