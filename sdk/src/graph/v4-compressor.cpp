#include "graph/v4-compressor.h"

#include <algorithm>

namespace mneme {

compressor_weights load_compressor(graph_builder& g, weight_store& ws, std::vector<buffer_ptr>& owned,
                                   const std::string& prefix, int64_t ratio, int64_t width, int64_t d) {
    compressor_weights w;
    w.ratio = ratio;
    w.width = width;
    w.overlap = ratio == 4;
    const int64_t c = w.overlap ? 2 : 1;
    w.wkv = ws.linear(prefix + "wkv", c * width, d);
    w.wgate = ws.linear(prefix + "wgate", c * width, d);
    w.ape = activation_matrix(g, ws, owned, prefix + "ape", {ratio, c * width});
    w.norm = ws.vector(prefix + "norm.weight", width);
    return w;
}

int64_t compressor_first_held(int64_t ratio, bool overlap, int64_t n_past) {
    return std::max<int64_t>(0, (n_past / ratio) * ratio - (overlap ? ratio : 0));
}

int64_t compressor_state_rows(int64_t ratio, bool overlap) {
    return overlap ? 2 * ratio : ratio;
}

compressor_plan plan_compressor(int64_t ratio, bool overlap, int64_t n_past, int64_t n_new) {
    compressor_plan pl;
    const int64_t end = n_past + n_new;
    pl.held_first = compressor_first_held(ratio, overlap, n_past);
    pl.held = n_past - pl.held_first;
    // A block is complete once its last token is in: blocks before n_past / ratio were emitted earlier.
    pl.first_block = n_past / ratio;
    pl.n_blocks = end / ratio - pl.first_block;
    pl.keep_first = compressor_first_held(ratio, overlap, end);
    pl.keep = end - pl.keep_first;
    return pl;
}

compressor_plan run_compressor(graph_builder& g, const compressor_weights& w, const compressor_state& st,
                               const mneme_tensor& x, int64_t p, const mneme_tensor& entries, double eps) {
    const int64_t s = x.ne[1];
    const compressor_plan pl = plan_compressor(w.ratio, w.overlap, p, s);
    const int64_t cw = w.wkv.out_features(), rows = pl.held + s;
    // Held rows followed by the new ones: positions held_first .. p+s-1.
    const mneme_tensor a = g.tensor({cw, rows}), b = g.tensor({cw, rows});
    if (pl.held) {
        g.copy(rows_of(a, 0, pl.held), rows_of(st.a, 0, pl.held));
        g.copy(rows_of(b, 0, pl.held), rows_of(st.b, 0, pl.held));
    }
    g.matmul(rows_of(a, pl.held, s), x, w.wkv);
    g.matmul(rows_of(b, pl.held, s), x, w.wgate);
    if (pl.n_blocks) {
        const mneme_tensor out = rows_of(entries, pl.first_block, pl.n_blocks);
        g.compress_pool(
            out, a, b, w.ape,
            mneme_op_compress{w.ratio, pl.held_first, pl.first_block, w.overlap ? MNEME_TRUE : MNEME_FALSE, 0});
        g.rms_norm(out, out, &w.norm, eps);
    }
    if (pl.keep) {
        // The held rows shift when a block completes; otherwise rows 0..held are rewritten with
        // their own values and an abandoned pass leaves nothing to put back.
        if (pl.held && pl.keep_first != pl.held_first) {
            g.preserve(rows_of(st.a, 0, pl.held));
            g.preserve(rows_of(st.b, 0, pl.held));
        }
        g.copy(rows_of(st.a, 0, pl.keep), rows_of(a, pl.keep_first - pl.held_first, pl.keep));
        g.copy(rows_of(st.b, 0, pl.keep), rows_of(b, pl.keep_first - pl.held_first, pl.keep));
    }
    return pl;
}

}  // namespace mneme
