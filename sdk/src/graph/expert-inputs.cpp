#include "graph/expert-inputs.h"

namespace mneme {

expert_inputs record_expert_inputs(graph_builder& g, const expert_rows& er, int64_t tokens, const mneme_tensor& xq) {
    const auto n = static_cast<int64_t>(er.rows.size());
    expert_inputs in{g.tensor_of(MNEME_DTYPE_I32, {n}), g.tensor({n}), xq};
    g.upload_i32(in.ids, er.rows);
    g.upload(in.weights, er.weights);
    if (n < tokens) {
        in.x = g.tensor({xq.ne[0], n});
        g.get_rows(in.x, xq, in.ids);
    }
    return in;
}

}  // namespace mneme
