// Engram conditional memory on the V4 residual streams (ENGRAM_FORMAT.md): hashed n-gram rows
// gathered from the tables, a gated value per stream, the optional short causal convolution, added
// into every stream before the layer's attention.
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "graph/engram-hash.h"
#include "graph/engram-table.h"
#include "graph/v4-common.h"
#include "model/checkpoint.h"

namespace mneme {

class engram_module {
public:
    // Derives the hash setup from the config and checks it against the checkpoint: canonical ids,
    // hash_multipliers (against numpy's generator), engram_num_embeddings (against the primes) and
    // the table shapes. Errors name the tensor or config field.
    engram_module(const checkpoint& ckpt, const model_config& cfg, graph_builder& g, weight_store& ws,
                  std::vector<buffer_ptr>& owned, const v4_options& opts = {});

    // Index into engram_layer_ids of decoder layer `layer`, or -1.
    int64_t slot(int64_t layer) const;
    int64_t n_layers() const { return static_cast<int64_t>(hash_.size()); }
    // The N-1 canonical ids a sequence starts with (the canonical pad id).
    std::vector<int64_t> initial_history() const;
    int64_t canonical(int32_t token) const { return canonical_[static_cast<std::size_t>(token)]; }
    // Channels x rows of one layer's convolution history ((k-1)*dilation rows), or 0 rows without conv.
    int64_t conv_history_rows() const;
    // Upper bound of the scratch bytes one Engram layer's gather + apply allocates for `chunk` tokens.
    int64_t scratch_bytes(int64_t chunk, int64_t elem_bytes, bool act_quant) const;

    // Hashes the new tokens (history: canonical ids of the N-1 tokens before them, oldest first),
    // gathers their rows from the table and dequantises them: one [(N-1)*K*d_e, s] tensor per Engram
    // layer. Runs before the layers, because the rows depend on token ids only.
    std::vector<mneme_tensor> gather(graph_builder& g, std::span<const int64_t> history,
                                     std::span<const int32_t> tokens) const;
    // The same for one Engram layer, so a pass can gather each layer's rows just before it needs them.
    mneme_tensor gather_layer(graph_builder& g, int64_t slot, std::span<const int64_t> history,
                              std::span<const int32_t> tokens) const;
    // Hands every layer's rows for these tokens to the table's prefetch, as soon as the ids are known.
    void prefetch(std::span<const int64_t> history, std::span<const int32_t> tokens) const;
    // The rows a sequence starting with `tokens` reads, per Engram layer (decoder layer id, rows).
    std::vector<std::pair<int64_t, std::vector<int64_t>>> sequence_rows(std::span<const int32_t> tokens) const;

    // X [D, hc, s] += Y for Engram layer `slot`, with its embeddings e; conv_history [hc*D, rows] is read
    // and advanced (ignored without conv).
    void apply(graph_builder& g, const v4_context& c, int64_t slot, const mneme_tensor& x, const mneme_tensor& e,
               const mneme_tensor& conv_history) const;

    const engram_table& table() const { return *table_; }

private:
    struct layer_weights {
        linear_weight wkv;                    // [(hc+1)*D, width] keys first
        mneme_tensor q_weight{}, k_weight{};  // [D, hc]
        mneme_tensor conv_weight{};           // [k, hc*D]
        mneme_tensor conv_norm{};             // [hc*D, 1]
    };

    const engram_config& e_;
    int64_t hc_, d_;
    std::vector<int64_t> canonical_;
    int64_t pad_canonical_ = 0;
    std::vector<engram_layer_hash> hash_;
    std::shared_ptr<engram_table> table_;
    std::vector<layer_weights> layers_;
};

}  // namespace mneme
