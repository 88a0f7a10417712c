// The memory planner's scratch term (arch_model::scratch_bytes) against the scratch arena's
// measured high-water mark, for every family, in several chunk sizes and contexts: the estimate
// must never be below what a forward pass really used (the planner's promise), and not far above.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "cpu-device.h"
#include "graph/deepseek-v3.h"
#include "graph/deepseek-v4.h"
#include "model/checkpoint.h"
#include "model/config.h"

namespace {

const std::string k_golden = std::string(MNEME_TEST_DATA_DIR) + "/golden/";

std::unique_ptr<mneme::arch_model> open_arch(const mneme::checkpoint& ckpt, const mneme::model_config& cfg,
                                             mneme::graph_builder& g, bool act_quant) {
    if (cfg.is_v4()) {
        mneme::v4_options o;
        o.act_quant = act_quant;
        return mneme::make_deepseek_v4(ckpt, cfg, g, o);
    }
    mneme::v3_options o;
    o.act_quant = act_quant;
    return mneme::make_deepseek_v3(ckpt, cfg, g, o);
}

}  // namespace

TEST_CASE("cache bytes per token follow the documented formula of each family", "[planner]") {
    // docs/MEMORY.md: V3 keeps kv_lora_rank + qk_rope_head_dim values per layer and token, V3.2 adds
    // index_head_dim (BF16 where exact); V4 keeps head_dim / ratio per compressed layer, + index_head_dim / 4 at
    // ratio 4.
    for (const char* fixture : {"v3-tiny", "v32-tiny", "v4-tiny", "v4e-tiny"}) {
        CAPTURE(fixture);
        const std::string dir = k_golden + fixture;
        const mneme::model_config cfg = mneme::load_model_config(dir + "/config.json");
        const auto ckpt = mneme::checkpoint::open(dir);
        for (mneme_dtype act : {MNEME_DTYPE_F32, MNEME_DTYPE_F64}) {
            mneme::test::cpu_device dev(act);
            const auto arch = open_arch(*ckpt, cfg, dev.g(), true);
            const double es = act == MNEME_DTYPE_F32 ? 4.0 : 8.0;
            double want = 0;
            if (cfg.is_v4()) {
                for (int64_t i = 0; i < cfg.num_hidden_layers; ++i) {  // not the MTP layers' entries
                    const int64_t r = cfg.compress_ratios[static_cast<std::size_t>(i)];
                    if (r > 0) want += static_cast<double>(cfg.head_dim) / static_cast<double>(r);
                    if (r == 4) want += static_cast<double>(cfg.index_head_dim) / 4.0;
                }
                want = std::ceil(want * es);
            } else {
                const bool v32 = cfg.arch == mneme::model_arch::deepseek_v32;
                // With the FP8 round trip on, a float32 CPU device keeps index keys in BF16 (exact).
                const double key_es = act == MNEME_DTYPE_F32 ? 2.0 : es;
                want = (static_cast<double>(cfg.kv_lora_rank + cfg.qk_rope_head_dim) * es +
                        (v32 ? static_cast<double>(cfg.index_head_dim) * key_es : 0.0)) *
                       static_cast<double>(cfg.num_hidden_layers);
            }
            CHECK(arch->cache_bytes_per_token(act) == static_cast<uint64_t>(want));
        }
    }
}

TEST_CASE("scratch estimate bounds the measured high-water mark of every forward pass", "[planner]") {
    const std::string fixture = GENERATE("v3-tiny", "v32-tiny", "v4-tiny", "v4e-tiny", "v4e-conv-tiny");
    const bool act_quant = GENERATE(true, false);
    const int64_t chunk = GENERATE(1, 7, 32);
    CAPTURE(fixture, act_quant, chunk);

    const std::string dir = k_golden + fixture;
    const mneme::model_config cfg = mneme::load_model_config(dir + "/config.json");
    const auto ckpt = mneme::checkpoint::open(dir);
    mneme::test::cpu_device dev(MNEME_DTYPE_F32);
    const auto arch = open_arch(*ckpt, cfg, dev.g(), act_quant);

    // The loader's own allocations are not the forward pass's.
    dev.g().scratch().reset();
    const int64_t n_ctx = 96;
    auto state = arch->new_state(dev.g(), n_ctx);
    std::vector<int32_t> tokens(static_cast<std::size_t>(chunk));
    for (int64_t done = 0; done + chunk <= n_ctx; done += chunk) {
        for (int64_t i = 0; i < chunk; ++i) tokens[static_cast<std::size_t>(i)] = static_cast<int32_t>((done + i * 7) % cfg.vocab_size);
        dev.g().scratch().reset();
        const uint64_t before = dev.g().scratch().high_water();
        (void)arch->forward(dev.g(), *state, tokens, false);
        const uint64_t used = dev.g().scratch().high_water();
        const uint64_t estimate = arch->scratch_bytes(chunk, done + chunk, MNEME_DTYPE_F32);
        CAPTURE(done, used, estimate);
        // high_water() is the largest pass so far; each pass must fit its own estimate.
        if (used > before) {
            REQUIRE(used <= estimate);
            REQUIRE(static_cast<double>(estimate) <= 1.5 * static_cast<double>(used) + 64 * 1024);
        }
    }
}
