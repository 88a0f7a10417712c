// The interface between the runtime (model, session) and one architecture's forward pass.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "graph/forward-probe.h"
#include "graph/graph-builder.h"

namespace mneme {

// The decode state of one sequence: every cache the architecture keeps between forward passes.
class arch_state {
public:
    virtual ~arch_state() = default;
    int64_t n_past = 0;  // tokens already in the caches
    int64_t n_ctx = 0;   // capacity
    forward_probe* probe = nullptr;  // set by a session while it gathers per-answer statistics

    // Serialises / restores the caches of the first n_past tokens (for session save/load).
    virtual void save(graph_builder& g, std::vector<unsigned char>& out) = 0;
    virtual void load(graph_builder& g, const unsigned char* data, std::size_t size) = 0;
};

class arch_model {
public:
    virtual ~arch_model() = default;

    virtual std::unique_ptr<arch_state> new_state(graph_builder& g, int64_t n_ctx) = 0;

    // Evaluates `tokens` at positions state.n_past.. and appends them to the caches. Returns the
    // logits of every token (all_logits) or of the last one, row-major [rows, vocab], as doubles.
    virtual std::vector<double> forward(graph_builder& g, arch_state& state, std::span<const int32_t> tokens,
                                        bool all_logits) = 0;

    // Bytes of decode state each token adds (all layers).
    virtual uint64_t cache_bytes_per_token(mneme_dtype act) const = 0;

    // Upper bound of the scratch memory one forward pass of `chunk` new tokens needs when the
    // context then holds `context` tokens and only the last token's logits are read (the memory
    // planner's scratch term). Counted from the tensors the forward pass allocates: the per-pass
    // tensors, plus the largest layer (layers release their temporaries). Tested against the arena's
    // measured high-water mark.
    virtual uint64_t scratch_bytes(int64_t chunk, int64_t context, mneme_dtype act) const = 0;

    // The Engram table rows a sequence starting with `tokens` reads, per Engram layer (decoder layer
    // id, rows); empty without Engram. Rows depend on token ids only: no forward pass is needed.
    virtual std::vector<std::pair<int64_t, std::vector<int64_t>>> engram_rows(std::span<const int32_t> tokens) const {
        (void)tokens;
        return {};
    }
};

}  // namespace mneme
