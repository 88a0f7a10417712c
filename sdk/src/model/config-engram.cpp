#include "model/config-engram.h"

#include <vector>

#include "model/config-limits.h"
#include "model/json-parse.h"

namespace mneme {

namespace lim = config_limits;

namespace {

// engram_vocab_size: one int for every order, or a list with one entry per order 2..N.
std::vector<int64_t> read_vocab_sizes(const config_reader& r, int64_t orders) {
    const char* name = "engram_vocab_size";
    const nlohmann::json* v = r.find(name);
    if (v == nullptr) return {r.int_field(name, 1, lim::engram_vocab)};  // reports "missing"
    if (v->is_array()) {
        std::vector<int64_t> sizes =
            r.int_list_field(name, static_cast<std::size_t>(lim::engram_ngram), 1, lim::engram_vocab);
        if (static_cast<int64_t>(sizes.size()) != orders) {
            r.fail_field(name, "has ", sizes.size(), " entries, expected engram_max_ngram_size - 1 = ", orders);
        }
        return sizes;
    }
    if (!v->is_number_integer())
        r.fail_field(name, "must be an integer or a list of integers, got ", json_type_words(*v));
    return std::vector<int64_t>(static_cast<std::size_t>(orders), r.checked_int(name, *v, 1, lim::engram_vocab));
}

}  // namespace

engram_config read_engram_config(const config_reader& r, const model_config& cfg) {
    engram_config e;
    if (!r.has("engram_layer_ids")) return e;
    e.layer_ids =
        r.int_list_field("engram_layer_ids", static_cast<std::size_t>(lim::layers), 0, cfg.num_hidden_layers - 1);
    if (e.layer_ids.empty()) return e;
    std::vector<bool> seen(static_cast<std::size_t>(cfg.num_hidden_layers), false);
    for (int64_t id : e.layer_ids) {
        if (seen[static_cast<std::size_t>(id)]) r.fail_field("engram_layer_ids", "lists layer ", id, " twice");
        seen[static_cast<std::size_t>(id)] = true;
    }

    e.max_ngram_size = r.int_field("engram_max_ngram_size", 2, lim::engram_ngram);
    e.n_heads = r.int_field("engram_n_heads", 1, lim::engram_heads);
    e.head_dim = r.int_field("engram_head_dim", 1, lim::engram_head_dim);
    // One e8m0 scale per 32 values of a table row.
    if (e.head_dim % 32 != 0) r.fail_field("engram_head_dim", "is ", e.head_dim, ", must be a multiple of 32");
    const int64_t orders = e.max_ngram_size - 1;
    const int64_t width = e.embedding_width();
    // The projection input is FP8-quantised per 128 channels.
    if (width % 128 != 0) {
        r.fail_field("engram_head_dim", "gives (N-1)·K·d_e = ", orders, "·", e.n_heads, "·", e.head_dim, " = ", width,
                     ", which must be a multiple of 128");
    }
    if (width > lim::engram_width) {
        r.fail_field("engram_head_dim", "gives (N-1)·K·d_e = ", width, ", more than the limit of ", lim::engram_width);
    }

    e.vocab_size = read_vocab_sizes(r, orders);
    int64_t min_rows = 0;  // each table is a prime strictly above vocab_size - 1, so at least vocab_size
    for (int64_t v : e.vocab_size) min_rows += e.n_heads * v;

    e.num_embeddings =
        r.int_list_field("engram_num_embeddings", static_cast<std::size_t>(lim::layers), 1, lim::engram_rows);
    if (e.num_embeddings.size() != e.layer_ids.size()) {
        r.fail_field("engram_num_embeddings", "has ", e.num_embeddings.size(),
                     " entries, expected one per Engram layer (", e.layer_ids.size(), ")");
    }
    // The exact value needs the prime walk of the hashing code; this catches a wrong config early.
    for (std::size_t i = 0; i < e.num_embeddings.size(); ++i) {
        if (e.num_embeddings[i] < min_rows) {
            r.fail_field(cat("engram_num_embeddings[", i, "]"), "is ", e.num_embeddings[i], ", less than the ",
                         min_rows, " rows that K tables per order of engram_vocab_size need");
        }
    }

    e.pad_token_id = r.int_field("engram_pad_token_id", 0, cfg.vocab_size - 1);
    e.seed = r.int_field("engram_seed", 0, lim::engram_seed);
    e.compressed_vocab_size = r.int_field("engram_compressed_vocab_size", 1, cfg.vocab_size);
    e.conv_kernel = r.int_field("engram_conv_kernel", 0, lim::engram_conv_kernel);
    e.conv_dilation = r.int_field_or("engram_conv_dilation", e.max_ngram_size, 1, lim::engram_conv_dilation);
    e.conv_norm_eps = r.number_field_or("engram_conv_norm_eps", 1e-5);
    r.require_positive("engram_conv_norm_eps", e.conv_norm_eps);
    return e;
}

}  // namespace mneme
