// V3.2's index keys leave the FP8 round trip as e4m3 values times a power of two, so the float32
// CPU path caches them in BF16. That must change nothing: the logits equal those of float32 keys
// bit for bit, through cache growth and decoding, and a saved state (keys saved as float32) moves
// between the two layouts unchanged.
#include <catch2/catch.hpp>

#include <span>
#include <string>
#include <vector>

#include "cpu-device.h"
#include "graph/deepseek-v3.h"
#include "model/checkpoint.h"
#include "model/config.h"

namespace {

const std::string k_dir = std::string(MNEME_TEST_DATA_DIR) + "/golden/v32-tiny";

struct model_on_cpu {
    mneme::test::cpu_device dev{MNEME_DTYPE_F32};
    std::unique_ptr<mneme::arch_model> arch;
    std::unique_ptr<mneme::arch_state> st;

    model_on_cpu(const mneme::model_config& cfg, const mneme::checkpoint& ckpt, bool bf16_keys, int64_t n_ctx) {
        mneme::v3_options o;
        o.bf16_index_keys = bf16_keys;
        arch = mneme::make_deepseek_v3(ckpt, cfg, dev.g(), o);
        st = arch->new_state(dev.g(), n_ctx);
    }
    std::vector<double> feed(std::span<const int32_t> tokens) { return arch->forward(dev.g(), *st, tokens, false); }
    // Logits of `n` tokens decoded one at a time.
    std::vector<double> decode(const mneme::model_config& cfg, int64_t n) {
        std::vector<double> out;
        for (int64_t i = 0; i < n; ++i) {
            const int32_t t = static_cast<int32_t>((i * 53 + 5) % cfg.vocab_size);
            const std::vector<double> l = feed(std::span<const int32_t>(&t, 1));
            out.insert(out.end(), l.begin(), l.end());
        }
        return out;
    }
};

std::vector<int32_t> prompt_tokens(const mneme::model_config& cfg, int64_t n) {
    std::vector<int32_t> t(static_cast<std::size_t>(n));
    for (int64_t i = 0; i < n; ++i)
        t[static_cast<std::size_t>(i)] = static_cast<int32_t>((i * 37 + 11) % cfg.vocab_size);
    return t;
}

}  // namespace

TEST_CASE("BF16 index keys give the logits of float32 keys bit for bit", "[v32][bf16-keys]") {
    const mneme::model_config cfg = mneme::load_model_config(k_dir + "/config.json");
    const auto ckpt = mneme::checkpoint::open(k_dir);
    REQUIRE(cfg.index_topk < 300);  // the selection is sparse, so the keys decide what is attended
    const int64_t prompt = 600, steps = 12;
    const auto tokens = prompt_tokens(cfg, prompt);
    model_on_cpu narrow(cfg, *ckpt, true, prompt + steps), wide(cfg, *ckpt, false, prompt + steps);
    REQUIRE(narrow.arch->cache_bytes_per_token(MNEME_DTYPE_F32) < wide.arch->cache_bytes_per_token(MNEME_DTYPE_F32));
    // Chunks of 64 grow the caches twice (a copy of the BF16 keys each time).
    std::vector<double> a, b;
    for (int64_t at = 0; at < prompt; at += 64) {
        const auto n = static_cast<std::size_t>(std::min<int64_t>(64, prompt - at));
        const std::span<const int32_t> chunk(tokens.data() + at, n);
        a = narrow.feed(chunk);
        b = wide.feed(chunk);
        REQUIRE(a == b);
    }
    CHECK(narrow.decode(cfg, steps) == wide.decode(cfg, steps));
}

TEST_CASE("a state saved with BF16 index keys loads into float32 keys and back", "[v32][bf16-keys][state]") {
    const mneme::model_config cfg = mneme::load_model_config(k_dir + "/config.json");
    const auto ckpt = mneme::checkpoint::open(k_dir);
    const int64_t prompt = 300, steps = 8, n_ctx = 400;
    const auto tokens = prompt_tokens(cfg, prompt);
    for (bool from_bf16 : {true, false}) {
        CAPTURE(from_bf16);
        model_on_cpu src(cfg, *ckpt, from_bf16, n_ctx), dst(cfg, *ckpt, !from_bf16, n_ctx);
        (void)src.feed(tokens);
        std::vector<unsigned char> blob;
        src.st->save(src.dev.g(), blob);
        // Saved as float32 whatever the cache holds: latents and index keys of every layer.
        const auto per_token =
            static_cast<std::size_t>(cfg.kv_lora_rank + cfg.qk_rope_head_dim + cfg.index_head_dim) * 4;
        CHECK(blob.size() == per_token * static_cast<std::size_t>(cfg.num_hidden_layers * prompt));
        dst.st->n_past = prompt;
        dst.st->load(dst.dev.g(), blob.data(), blob.size());
        CHECK(dst.decode(cfg, steps) == src.decode(cfg, steps));
    }
}
