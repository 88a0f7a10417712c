// The decode state of one DeepSeek-V4 (+ Engram) sequence: per layer the sliding-window ring, the
// compressed entries, the indexer keys and the compressors' held rows; per Engram layer the short
// convolution's history; and the canonical ids of the last N-1 tokens for the n-gram hash.
#pragma once

#include <cstdint>
#include <vector>

#include "graph/arch-model.h"
#include "graph/v4-compressor.h"

namespace mneme {

struct v4_layer_cache {
    int64_t ratio = 0;
    mneme_tensor ring{};          // [head_dim, sliding_window]: position pos in slot pos % window
    mneme_tensor entries{};       // [head_dim, capacity / ratio] (ratio > 0)
    compressor_state comp;        // (ratio > 0)
    mneme_tensor index_keys{};    // [index_head_dim, capacity / 4] (ratio 4)
    compressor_state index_comp;  // (ratio 4)
};

class v4_state final : public arch_state {
public:
    int64_t capacity = 0;             // tokens the growing caches (entries, indexer keys) currently hold
    std::vector<buffer_ptr> buffers;  // fixed-size state
    std::vector<buffer_ptr> grown;    // the growing caches
    std::vector<v4_layer_cache> layers;
    std::vector<mneme_tensor> conv_history;  // per Engram layer [hc*D, (k-1)*dilation]; empty without conv
    std::vector<int64_t> engram_ids;         // canonical ids of the last N-1 tokens, oldest first

    // A zero-filled device tensor owned by the state.
    mneme_tensor alloc(graph_builder& g, int64_t ne0, int64_t ne1);

    // Makes room for `needed` tokens in the caches that grow with the context (in pages of 256
    // tokens, see grown_capacity), keeping what the first n_past tokens wrote.
    void reserve(graph_builder& g, int64_t needed);

    void save(graph_builder& g, std::vector<unsigned char>& out) override;
    void load(graph_builder& g, const unsigned char* data, std::size_t size) override;

private:
    struct segment {
        mneme_tensor t;
        int64_t rows;
    };
    // What depends on n_past, in save order.
    std::vector<segment> segments() const;
};

}  // namespace mneme
