#include "graph/v4-state.h"

#include <algorithm>
#include <cstring>

namespace mneme {

mneme_tensor v4_state::alloc(graph_builder& g, int64_t ne0, int64_t ne1) {
    ne1 = std::max<int64_t>(ne1, 1);  // a zero-row cache still needs a valid view
    const uint64_t bytes = static_cast<uint64_t>(ne0 * ne1 * dtype_bytes(g.act()));
    buffer_ptr b = g.dev().alloc(bytes);
    const std::vector<unsigned char> zeros(bytes, 0);
    g.dev().upload(b->raw(), 0, zeros.data(), bytes);
    mneme_tensor t = make_tensor(b->raw(), 0, g.act(), {ne0, ne1});
    buffers.push_back(std::move(b));
    return t;
}

void v4_state::reserve(graph_builder& g, int64_t needed) {
    constexpr int64_t page_tokens = 256;
    if (needed <= capacity) return;
    const int64_t cap = grown_capacity(needed, capacity, n_ctx, page_tokens);
    auto grow = [&](mneme_tensor& t, int64_t ratio) {
        const int64_t rows = std::max<int64_t>(1, cap / ratio), keep = n_past / ratio;
        buffer_ptr b = g.dev().alloc(static_cast<uint64_t>(t.nb[1] * rows));
        const mneme_tensor bigger = make_tensor(b->raw(), 0, t.dtype, {t.ne[0], rows});
        if (keep > 0) g.copy(rows_of(bigger, 0, keep), rows_of(t, 0, keep));
        replace_buffer(g, grown, t, bigger, std::move(b));
    };
    for (auto& c : layers) {
        if (c.ratio > 0) grow(c.entries, c.ratio);
        if (c.ratio == 4) grow(c.index_keys, 4);
    }
    capacity = cap;
}

std::vector<v4_state::segment> v4_state::segments() const {
    std::vector<segment> out;
    for (const auto& c : layers) {
        out.push_back({c.ring, c.ring.ne[1]});
        if (c.ratio > 0) {
            out.push_back({c.entries, n_past / c.ratio});
            const int64_t held = n_past - compressor_first_held(c.ratio, c.ratio == 4, n_past);
            out.push_back({c.comp.a, held});
            out.push_back({c.comp.b, held});
        }
        if (c.ratio == 4) {
            out.push_back({c.index_keys, n_past / 4});
            const int64_t held = n_past - compressor_first_held(4, true, n_past);
            out.push_back({c.index_comp.a, held});
            out.push_back({c.index_comp.b, held});
        }
    }
    for (const auto& h : conv_history) out.push_back({h, h.ne[1]});
    return out;
}

void v4_state::save(graph_builder& g, std::vector<unsigned char>& out) {
    g.flush();
    for (const segment& s : segments()) {
        const uint64_t bytes = static_cast<uint64_t>(s.t.nb[1] * s.rows);
        const std::size_t at = out.size();
        out.resize(at + bytes);
        if (bytes) g.dev().download(s.t.buffer, s.t.offset, out.data() + at, bytes);
    }
    const std::size_t at = out.size();
    out.resize(at + engram_ids.size() * sizeof(int64_t));
    if (!engram_ids.empty()) std::memcpy(out.data() + at, engram_ids.data(), engram_ids.size() * sizeof(int64_t));
}

void v4_state::load(graph_builder& g, const unsigned char* data, std::size_t size) {
    // Check every size before anything is written: a bad file leaves the state as it was.
    std::size_t expected = engram_ids.size() * sizeof(int64_t);
    for (const segment& s : segments()) expected += static_cast<std::size_t>(s.t.nb[1] * s.rows);
    if (expected != size) fail(MNEME_ERROR_INVALID_MODEL, "saved caches have ", size, " bytes, expected ", expected);
    const int64_t keep = n_past;
    n_past = 0;  // nothing of the old context is worth copying
    reserve(g, keep);
    n_past = keep;
    g.flush();
    g.dev().sync();
    std::size_t at = 0;
    for (const segment& s : segments()) {
        const std::size_t bytes = static_cast<std::size_t>(s.t.nb[1] * s.rows);
        if (bytes) g.dev().upload(s.t.buffer, s.t.offset, data + at, bytes);
        at += bytes;
    }
    if (!engram_ids.empty()) std::memcpy(engram_ids.data(), data + at, engram_ids.size() * sizeof(int64_t));
}

}  // namespace mneme
