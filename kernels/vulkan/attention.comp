#version 450
// ATTENTION (MQA, optional index list, sink and compressed second source), one invocation per
// (query, head). Two passes over the visible keys: the maximum score, then exp-weighted values
// accumulated in the output row and divided by the denominator (sink included) at the end.
// Op words: 0 scale, 1 start_pos, 2 window, 3 key_start, 4 ratio, 5 has indices (src3),
// 6 has sink (src4), 7 has compressed entries (src5); positions are int32.
#extension GL_GOOGLE_include_directive : enable
#include "common.glsl"

uint q_addr, o_addr;
float run_max, run_den;
uint n_seen;

// Byte address of element 0 of query/output row (h, s) of a [D, H, S(, ...)] tensor.
uint head_addr(uint off, uint nb1, uint nb2, uint nb3, uint ne2, uint h, uint s) {
    return off + h * nb1 + (s % ne2) * nb2 + (s / ne2) * nb3;
}

float score(uint binding_is_comp, uint k_addr) {
    float dot = 0.0;
    const uint dk = T_NE(SRC0, 0);
    if (binding_is_comp != 0u) {
        for (uint c = 0u; c < dk; ++c) dot += LDF(SRC0, q_addr + 4u * c) * LDF(SRC5, k_addr + 4u * c);
    } else {
        for (uint c = 0u; c < dk; ++c) dot += LDF(SRC0, q_addr + 4u * c) * LDF(SRC1, k_addr + 4u * c);
    }
    return dot * PF(0);
}

// Pass 0 finds the maximum; pass 1 accumulates. Key j: a window row (comp == 0) or an entry.
void visit(uint pass, uint comp, uint j) {
    const uint k_addr = comp != 0u ? ROW_ADDR(SRC5, j) : ROW_ADDR(SRC1, j);
    const float sc = score(comp, k_addr);
    if (pass == 0u) {
        run_max = max(run_max, sc);
        ++n_seen;
        return;
    }
    const float e = exp(sc - run_max);
    run_den += e;
    const uint dv = T_NE(DST, 0);
    const uint v_addr = comp != 0u ? k_addr : ROW_ADDR(SRC2, j);
    for (uint c = 0u; c < dv; ++c) {
        const float v = comp != 0u ? LDF(SRC5, v_addr + 4u * c) : LDF(SRC2, v_addr + 4u * c);
        STF(DST, o_addr + 4u * c, LDF(DST, o_addr + 4u * c) + e * v);
    }
}

void visit_all(uint pass, uint s, int pos) {
    const bool has_idx = PU(5) != 0u, has_comp = PU(7) != 0u;
    const int n_keys = int(ROWS(SRC1)), key_start = PI(3);
    const uint n_idx = has_idx ? T_NE(SRC3, 0) : 0u;
    const uint idx_row = has_idx ? T_OFF(SRC3) + 4u * s * n_idx : 0u;
    if (has_idx && !has_comp) {
        // The causal mask is applied again after selection (top-k may pick future slots).
        for (uint j = 0u; j < n_idx; ++j) {
            const int i = LDI(SRC3, idx_row + 4u * j);
            if (i >= 0 && i < n_keys && key_start + i <= pos) visit(pass, 0u, uint(i));
        }
    } else {
        int first = PI(2) > 0 ? max(0, pos - PI(2) + 1) : 0;
        first = max(first, key_start);
        const int last = min(pos, key_start + n_keys - 1);
        for (int p = first; p <= last; ++p) visit(pass, 0u, uint(p - key_start));
    }
    if (!has_comp) return;
    // Only complete entries: entry j needs position (j + 1) * ratio - 1.
    const int done = min(int(ROWS(SRC5)), (pos + 1) / PI(4));
    if (has_idx) {
        for (uint j = 0u; j < n_idx; ++j) {
            const int i = LDI(SRC3, idx_row + 4u * j);
            if (i >= 0 && i < done) visit(pass, 1u, uint(i));
        }
    } else {
        for (int j = 0; j < done; ++j) visit(pass, 1u, uint(j));
    }
}

void main() {
    const uint id = item_id();
    if (id >= n_items()) return;
    const uint heads = T_NE(SRC0, 1);
    const uint h = id % heads, s = id / heads;
    const int pos = PI(1) + int(s);
    q_addr = head_addr(T_OFF(SRC0), T_NB(SRC0, 1), T_NB(SRC0, 2), T_NB(SRC0, 3), T_NE(SRC0, 2), h, s);
    o_addr = head_addr(T_OFF(DST), T_NB(DST, 1), T_NB(DST, 2), T_NB(DST, 3), T_NE(DST, 2), h, s);
    const uint dv = T_NE(DST, 0);
    for (uint c = 0u; c < dv; ++c) STF(DST, o_addr + 4u * c, 0.0);
    run_max = NEG_INF;
    n_seen = 0u;
    visit_all(0u, s, pos);
    if (n_seen == 0u) return;
    run_den = PU(6) != 0u ? exp(LDF(SRC4, T_OFF(SRC4) + 4u * h) - run_max) : 0.0;  // the sink: denominator only
    visit_all(1u, s, pos);
    for (uint c = 0u; c < dv; ++c) STF(DST, o_addr + 4u * c, LDF(DST, o_addr + 4u * c) / run_den);
}
