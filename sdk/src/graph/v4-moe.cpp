#include "graph/v4-moe.h"

#include <cstring>
#include <string>

#include "graph/expert-inputs.h"
#include "graph/moe-routing.h"

namespace mneme {
namespace {

std::vector<int32_t> read_tid2eid(const checkpoint& ckpt, const std::string& name, const model_config& cfg) {
    const int64_t vocab = cfg.vocab_size, k = cfg.num_experts_per_tok;
    const tensor_info& t = ckpt.expect(name, {st_dtype::i64, st_dtype::i32}, {vocab, k});
    std::vector<int32_t> ids(static_cast<std::size_t>(vocab * k));
    for (std::size_t i = 0; i < ids.size(); ++i) {
        int64_t v;
        if (t.dtype == st_dtype::i64) {
            std::memcpy(&v, t.data + 8 * i, 8);
        } else {
            int32_t v32;
            std::memcpy(&v32, t.data + 4 * i, 4);
            v = v32;
        }
        if (v < 0 || v >= cfg.n_routed_experts) {
            fail(MNEME_ERROR_INVALID_MODEL, t.file, ": tensor '", name, "' maps token ", static_cast<int64_t>(i) / k,
                 " to expert ", v, ", outside [0, ", cfg.n_routed_experts, ")");
        }
        ids[i] = static_cast<int32_t>(v);
    }
    return ids;
}

v4_expert_weights load_expert(weight_store& ws, const std::string& p, int64_t inter, int64_t d, bool fp4) {
    return {ws.linear(p + "w1", inter, d, fp4), ws.linear(p + "w3", inter, d, fp4), ws.linear(p + "w2", d, inter, fp4)};
}

mneme_tensor shared_expert(graph_builder& g, const v4_context& c, const v4_expert_weights& e, const mneme_tensor& x) {
    const mneme_tensor gate = apply_linear(g, c, x, e.w1), up = apply_linear(g, c, x, e.w3);
    const mneme_tensor act = g.tensor({gate.ne[0], x.ne[1]});
    g.swiglu(act, gate, up, c.cfg.swiglu_limit);
    return apply_linear(g, c, act, e.w2);
}

// Decode-sized passes: the same ops as v4_moe's loop, reordered so that the products that do not
// depend on each other follow one another: the shared and every chosen expert's gate and up, then
// every down. The CPU backend then runs them side by side, each thread streaming whole matrices,
// instead of one expert's down product at a time on one thread (v4-0.5g decode, 2 threads). The
// outputs are added to y in v4_moe's order, so the logits are the same bit for bit; the
// temporaries of all chosen experts live at once (see deepseek-v4.cpp's scratch_bytes). The shared
// expert's inputs are the routed experts' rounded input when their weights round alike (the same
// round trip of the same x).
mneme_tensor grouped_experts(graph_builder& g, const v4_context& c, const v4_moe_weights& w, const mneme_tensor& x,
                             const mneme_tensor& xq, const routing& r) {
    const int64_t s = x.ne[1];
    struct chosen {
        const v4_expert_weights* w;
        mneme_tensor ids, weights, ones, x, gate, up, act, out;
    };
    std::vector<chosen> experts;
    const std::vector<expert_inputs> inputs = record_expert_inputs(g, r, c.cfg.n_routed_experts, s, xq);
    experts.reserve(inputs.size());
    // Unit weights for the down products' row additions, as many as the most rows an expert takes.
    const mneme_tensor ones = g.tensor({s});
    if (!inputs.empty()) g.upload(ones, std::vector<double>(static_cast<std::size_t>(s), 1.0));
    for (const expert_inputs& in : inputs) {
        const v4_expert_weights& ew = w.experts[static_cast<std::size_t>(in.expert)];
        const int64_t n = in.ids.ne[0];
        chosen ch{&ew, in.ids, in.weights, slice_1d(ones, 0, n), in.x, {}, {}, {}, {}};
        ch.gate = g.tensor({ew.w1.out_features(), n});
        ch.up = g.tensor({ew.w3.out_features(), n});
        ch.act = g.tensor({ew.w1.out_features(), n});
        experts.push_back(ch);
    }
    const v4_expert_weights& sh = w.shared;
    const auto shared_input = [&](const linear_weight& lw) {
        return lw.quantised == w.experts[0].w1.quantised ? xq : linear_input(g, c, x, lw);
    };
    const mneme_tensor s_gate = g.tensor({sh.w1.out_features(), s}), s_up = g.tensor({sh.w3.out_features(), s});
    g.matmul(s_gate, shared_input(sh.w1), sh.w1);
    g.matmul(s_up, shared_input(sh.w3), sh.w3);
    for (const chosen& ch : experts) {
        g.matmul(ch.gate, ch.x, ch.w->w1);
        g.matmul(ch.up, ch.x, ch.w->w3);
    }
    const mneme_tensor s_act = g.tensor({s_gate.ne[0], s});
    g.swiglu(s_act, s_gate, s_up, c.cfg.swiglu_limit);
    // The routing weight scales the hidden before w2 (and before w2's activation round trip).
    for (const chosen& ch : experts) g.swiglu(ch.act, ch.gate, ch.up, c.cfg.swiglu_limit, &ch.weights);
    const mneme_tensor s_in = linear_input(g, c, s_act, sh.w2);
    std::vector<mneme_tensor> down_in;
    for (const chosen& ch : experts) down_in.push_back(linear_input(g, c, ch.act, ch.w->w2));
    const mneme_tensor y = g.tensor({sh.w2.out_features(), s});
    g.matmul(y, s_in, sh.w2);
    for (std::size_t i = 0; i < experts.size(); ++i) {
        chosen& ch = experts[i];
        ch.out = g.tensor({ch.w->w2.out_features(), ch.ids.ne[0]});
        g.matmul(ch.out, down_in[i], ch.w->w2);
    }
    for (const chosen& ch : experts) g.add_rows_scaled(y, ch.out, ch.ids, ch.ones);
    return y;
}

}  // namespace

v4_moe_weights load_v4_moe(const checkpoint& ckpt, weight_store& ws, const model_config& cfg, int64_t layer) {
    const std::string f = "layers." + std::to_string(layer) + ".ffn.";
    const int64_t d = cfg.hidden_size, e = cfg.n_routed_experts, inter = cfg.moe_intermediate_size;
    v4_moe_weights w;
    w.router = ws.linear(f + "gate", e, d);
    w.hashed = layer < cfg.num_hash_layers;
    if (w.hashed) {
        w.tid2eid = read_tid2eid(ckpt, f + "gate.tid2eid", cfg);
    } else {
        w.bias = ws.host_doubles(f + "gate.bias", e);
    }
    w.shared = load_expert(ws, f + "shared_experts.", cfg.n_shared_experts * inter, d, false);
    const bool fp4 = cfg.expert_dtype == expert_storage::fp4;
    for (int64_t i = 0; i < e; ++i)
        w.experts.push_back(load_expert(ws, f + "experts." + std::to_string(i) + ".", inter, d, fp4));
    return w;
}

mneme_tensor v4_moe(graph_builder& g, const v4_context& c, const v4_moe_weights& w, const mneme_tensor& x,
                    std::span<const int32_t> tokens, forward_probe* probe, int64_t layer) {
    const model_config& cfg = c.cfg;
    const int64_t s = x.ne[1], k = cfg.num_experts_per_tok;
    // Router logits in full precision, read back: which expert matmuls to issue is a host decision.
    const mneme_tensor logits = g.tensor({cfg.n_routed_experts, s});
    g.matmul(logits, x, w.router);
    const std::vector<double> z = g.read(logits);
    router_params rp;
    rp.score = router_score::sqrtsoftplus;
    rp.n_experts = cfg.n_routed_experts;
    rp.top_k = k;
    rp.normalise = cfg.norm_topk_prob;
    rp.scale = cfg.routed_scaling_factor;
    std::vector<int32_t> fixed;
    if (w.hashed) {
        for (int32_t t : tokens) {
            const auto* row = w.tid2eid.data() + static_cast<std::size_t>(t) * static_cast<std::size_t>(k);
            fixed.insert(fixed.end(), row, row + k);
        }
    }
    const routing r = route_tokens(rp, z, s, w.bias, fixed);
    if (probe) probe->count_experts(layer, r.expert);

    if (s <= k_v4_grouped_expert_rows) {
        return grouped_experts(g, c, w, x, linear_input(g, c, x, w.experts[0].w1), r);
    }
    mneme_tensor y = shared_expert(g, c, w.shared, x);
    const mneme_tensor xq = linear_input(g, c, x, w.experts[0].w1);  // the same for every expert
    for (int64_t e = 0; e < cfg.n_routed_experts; ++e) {
        const auto [rows, weights] = rows_of_expert(r, s, e);
        if (rows.empty()) continue;
        const scratch_arena::mark_t expert_mark = g.scratch().mark();  // one expert's temporaries at a time
        const int64_t n = static_cast<int64_t>(rows.size());
        const mneme_tensor ids = g.tensor_of(MNEME_DTYPE_I32, {n});
        g.upload_i32(ids, rows);
        const mneme_tensor wt = g.tensor({n}), ones = g.tensor({n});
        g.upload(wt, weights);
        g.upload(ones, std::vector<double>(static_cast<std::size_t>(n), 1.0));
        const mneme_tensor xe = g.tensor({cfg.hidden_size, n});
        g.get_rows(xe, xq, ids);
        const v4_expert_weights& ew = w.experts[static_cast<std::size_t>(e)];
        const mneme_tensor gate = g.tensor({ew.w1.out_features(), n}), up = g.tensor({ew.w3.out_features(), n});
        g.matmul(gate, xe, ew.w1);
        g.matmul(up, xe, ew.w3);
        // The routing weight scales the hidden before w2 (and before w2's activation round trip).
        const mneme_tensor act = g.tensor({gate.ne[0], n});
        g.swiglu(act, gate, up, cfg.swiglu_limit, &wt);
        g.add_rows_scaled(y, apply_linear(g, c, act, ew.w2), ids, ones);
        g.scratch().release(expert_mark);
    }
    return y;
}

}  // namespace mneme
