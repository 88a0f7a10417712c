#include "graph/engram.h"

#include <algorithm>
#include <cstring>
#include <string>

namespace mneme {
namespace {

std::vector<int64_t> read_ints(const tensor_info& t) {
    const std::size_t n = static_cast<std::size_t>(t.numel());
    std::vector<int64_t> out(n);
    for (std::size_t i = 0; i < n; ++i) {
        if (t.dtype == st_dtype::i64) {
            std::memcpy(&out[i], t.data + 8 * i, 8);
        } else {
            int32_t v;
            std::memcpy(&v, t.data + 4 * i, 4);
            out[i] = v;
        }
    }
    return out;
}

}  // namespace

engram_module::engram_module(const checkpoint& ckpt, const model_config& cfg, graph_builder& g, weight_store& ws,
                             std::vector<buffer_ptr>& owned, const v4_options& opts)
    : e_(cfg.engram), hc_(cfg.hc_mult), d_(cfg.hidden_size) {
    const int64_t n_max = e_.max_ngram_size, vprime = e_.compressed_vocab_size;

    // Canonical ids: dense in [0, V'), V' = max + 1.
    const tensor_info& canon = ckpt.expect("engram.canonical_ids", {st_dtype::i32, st_dtype::i64}, {cfg.vocab_size});
    canonical_ = read_ints(canon);
    int64_t top = -1;
    for (std::size_t i = 0; i < canonical_.size(); ++i) {
        if (canonical_[i] < 0 || canonical_[i] >= vprime) {
            fail(MNEME_ERROR_INVALID_MODEL, canon.file, ": tensor 'engram.canonical_ids' maps token ", i, " to ",
                 canonical_[i], ", outside [0, engram_compressed_vocab_size = ", vprime, ")");
        }
        top = std::max(top, canonical_[i]);
    }
    if (top + 1 != vprime) {
        fail(MNEME_ERROR_INVALID_MODEL, "config.json: engram_compressed_vocab_size is ", vprime,
             ", but engram.canonical_ids has ", top + 1, " distinct ids");
    }
    pad_canonical_ = canonical_[static_cast<std::size_t>(e_.pad_token_id)];

    // Multipliers: derived from engram_seed, and the shipped table must agree.
    const int64_t n_layers = static_cast<int64_t>(e_.layer_ids.size());
    const tensor_info& mt = ckpt.expect("engram.hash_multipliers", {st_dtype::i64}, {n_layers, n_max});
    const std::vector<int64_t> shipped = read_ints(mt);
    const auto primes = engram_table_primes(e_.layer_ids, n_max, e_.n_heads, e_.vocab_size);
    std::vector<int64_t> rows;
    for (int64_t i = 0; i < n_layers; ++i) {
        engram_layer_hash h;
        h.layer_id = e_.layer_ids[static_cast<std::size_t>(i)];
        h.multipliers = engram_multipliers(e_.seed, h.layer_id, n_max, vprime);
        for (int64_t k = 0; k < n_max; ++k) {
            if (shipped[static_cast<std::size_t>(i * n_max + k)] != h.multipliers[static_cast<std::size_t>(k)]) {
                fail(MNEME_ERROR_INVALID_MODEL, mt.file, ": tensor 'engram.hash_multipliers' row ", i, " (layer ",
                     h.layer_id, ") entry ", k, " is ", shipped[static_cast<std::size_t>(i * n_max + k)],
                     ", but engram_seed ", e_.seed, " gives ", h.multipliers[static_cast<std::size_t>(k)]);
            }
        }
        h.primes = primes[static_cast<std::size_t>(i)];
        h.offsets = engram_offsets(h.primes);
        int64_t total = 0;
        for (int64_t p : h.primes) total += p;
        if (total != e_.num_embeddings[static_cast<std::size_t>(i)]) {
            fail(MNEME_ERROR_INVALID_MODEL, "config.json: engram_num_embeddings[", i, "] is ",
                 e_.num_embeddings[static_cast<std::size_t>(i)], ", but the primes of Engram layer ", h.layer_id,
                 " sum to ", total);
        }
        rows.push_back(total);
        hash_.push_back(std::move(h));
    }
    if (opts.engram_tables) {
        table_ = opts.engram_tables(rows);
    } else {
        table_ = make_mapped_engram_table(ckpt, cfg, rows);
    }

    const int64_t width = e_.embedding_width();
    for (int64_t id : e_.layer_ids) {
        const std::string p = "layers." + std::to_string(id) + ".engram.";
        layer_weights w;
        w.wkv = ws.linear(p + "wkv", (hc_ + 1) * d_, width);
        w.q_weight = activation_matrix(g, ws, owned, p + "q_weight", {hc_, d_});
        w.k_weight = activation_matrix(g, ws, owned, p + "k_weight", {hc_, d_});
        if (e_.conv_kernel > 0) {
            // torch Conv1d layout [channels, 1, k]: as rows of k taps per channel.
            w.conv_weight = activation_matrix(g, ws, owned, p + "conv.weight", {hc_ * d_, 1, e_.conv_kernel});
            const mneme_tensor norm = activation_matrix(g, ws, owned, p + "conv_norm.weight", {hc_, d_});
            w.conv_norm = make_tensor(norm.buffer, norm.offset, norm.dtype, {hc_ * d_, 1});
        }
        layers_.push_back(w);
    }
}

int64_t engram_module::slot(int64_t layer) const {
    for (std::size_t i = 0; i < e_.layer_ids.size(); ++i) {
        if (e_.layer_ids[i] == layer) return static_cast<int64_t>(i);
    }
    return -1;
}

std::vector<int64_t> engram_module::initial_history() const {
    return std::vector<int64_t>(static_cast<std::size_t>(e_.max_ngram_size - 1), pad_canonical_);
}

int64_t engram_module::conv_history_rows() const {
    return e_.conv_kernel > 0 ? (e_.conv_kernel - 1) * e_.conv_dilation : 0;
}

std::vector<mneme_tensor> engram_module::gather(graph_builder& g, std::span<const int64_t> history,
                                                std::span<const int32_t> tokens) const {
    std::vector<mneme_tensor> out;
    for (int64_t i = 0; i < n_layers(); ++i) out.push_back(gather_layer(g, i, history, tokens));
    return out;
}

void engram_module::prefetch(std::span<const int64_t> history, std::span<const int32_t> tokens) const {
    std::vector<int64_t> canon(tokens.size());
    for (std::size_t t = 0; t < tokens.size(); ++t) canon[t] = canonical(tokens[t]);
    for (const auto& h : hash_) {
        table_->prefetch(h.layer_id, engram_row_ids(h, e_.max_ngram_size, e_.n_heads, history, canon));
    }
}

std::vector<std::pair<int64_t, std::vector<int64_t>>> engram_module::sequence_rows(std::span<const int32_t> tokens) const {
    std::vector<int64_t> canon(tokens.size());
    for (std::size_t t = 0; t < tokens.size(); ++t) canon[t] = canonical(tokens[t]);
    const std::vector<int64_t> history = initial_history();
    std::vector<std::pair<int64_t, std::vector<int64_t>>> out;
    for (const auto& h : hash_) out.emplace_back(h.layer_id, engram_row_ids(h, e_.max_ngram_size, e_.n_heads, history, canon));
    return out;
}

mneme_tensor engram_module::gather_layer(graph_builder& g, int64_t slot, std::span<const int64_t> history,
                                         std::span<const int32_t> tokens) const {
    const int64_t s = static_cast<int64_t>(tokens.size()), de = e_.head_dim;
    const int64_t cols = (e_.max_ngram_size - 1) * e_.n_heads, n_rows = s * cols;
    std::vector<int64_t> canon(tokens.size());
    for (std::size_t t = 0; t < tokens.size(); ++t) canon[t] = canonical(tokens[t]);
    std::vector<uint8_t> codes(static_cast<std::size_t>(n_rows * de)),
        scales(static_cast<std::size_t>(n_rows * de / 32));
    const auto& h = hash_[static_cast<std::size_t>(slot)];
    const std::vector<int64_t> ids = engram_row_ids(h, e_.max_ngram_size, e_.n_heads, history, canon);
    // Run the ops recorded so far (the layers before this one) while the table's reads finish.
    g.flush();
    table_->gather(h.layer_id, ids, codes, scales);
    linear_weight stored;
    stored.w = g.tensor_of(MNEME_DTYPE_F8_E4M3, {de, n_rows});
    stored.scale = g.tensor_of(MNEME_DTYPE_F8_E8M0, {de / 32, n_rows});
    stored.block_k = 32;
    stored.block_n = 1;
    g.upload_bytes(stored.w, codes);
    g.upload_bytes(stored.scale, scales);
    // Row r of token t lands at [t, r*d_e .. (r+1)*d_e): the concatenation e_t of the spec.
    const mneme_tensor e = g.tensor({de, n_rows});
    g.dequantise(e, stored);
    return make_tensor(e.buffer, e.offset, e.dtype, {cols * de, s});
}

int64_t engram_module::scratch_bytes(int64_t chunk, int64_t elem_bytes, bool act_quant) const {
    const int64_t cols = (e_.max_ngram_size - 1) * e_.n_heads, de = e_.head_dim, n_rows = chunk * cols;
    scratch_tally t(elem_bytes);
    t.raw(de * n_rows, 1).raw(de / 32 * n_rows, 1).add(de * n_rows);  // stored codes, scales, decoded rows
    const linear_weight& wkv = layers_.front().wkv;
    if (act_quant && wkv.quantised) t.add(cols * de * chunk);
    t.add(wkv.out_features() * chunk).add(d_ * hc_ * chunk);
    if (e_.conv_kernel > 0) t.add(hc_ * d_ * (conv_history_rows() + chunk)).add(hc_ * d_ * chunk);
    return t.bytes;
}

void engram_module::apply(graph_builder& g, const v4_context& c, int64_t slot, const mneme_tensor& x,
                          const mneme_tensor& e, const mneme_tensor& conv_history) const {
    const layer_weights& w = layers_[static_cast<std::size_t>(slot)];
    const int64_t s = x.ne[2], channels = hc_ * d_;
    const mneme_tensor kv = apply_linear(g, c, e, w.wkv);  // FP8 linear: e gets its activation round trip
    const mneme_tensor v = g.tensor({d_, hc_, s});
    g.engram_gate(v, x, kv, w.q_weight, w.k_weight, mneme_op_engram_gate{c.cfg.rms_norm_eps, 1e-6});
    const mneme_tensor v_flat = make_tensor(v.buffer, v.offset, v.dtype, {channels, s});
    if (e_.conv_kernel > 0) {
        // The convolution runs over [history | new] rows of u = RMSNorm_m(v_m) * conv_norm_m.
        const int64_t hist = conv_history_rows();
        const mneme_tensor ext = g.tensor({channels, hist + s});
        if (hist) g.copy(rows_of(ext, 0, hist), conv_history);
        const mneme_tensor u = rows_of(ext, hist, s);
        g.rms_norm(make_tensor(u.buffer, u.offset, u.dtype, {d_, hc_ * s}),
                   make_tensor(v.buffer, v.offset, v.dtype, {d_, hc_ * s}), nullptr, e_.conv_norm_eps);
        g.mul(u, u, w.conv_norm);
        const mneme_tensor y = g.tensor({channels, s});
        g.causal_conv(y, ext, w.conv_weight, static_cast<uint32_t>(e_.conv_dilation), true);
        if (hist) {
            g.preserve(conv_history);  // read again by a pass that is abandoned and run again
            g.copy(conv_history, rows_of(ext, s, hist));
        }
        g.add(v_flat, v_flat, y);
    }
    const mneme_tensor x_flat = make_tensor(x.buffer, x.offset, x.dtype, {channels, s});
    g.add(x_flat, x_flat, v_flat);
}

}  // namespace mneme
