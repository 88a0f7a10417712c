"""config.json contents of tiny DeepSeek-V4 (and V4 + Engram) checkpoints.

Shapes follow FORMATS §4 at toy size. Choices that matter for coverage:
  * hidden_size 160 (plain V4): > 128 and not a multiple of 128 (ragged FP8
    scale grids and a partial activation block) but a multiple of 32, which
    FP4 experts need (one e8m0 scale per 32 inputs);
  * compress_ratios mixes 0 (window only), 4 (overlapping compressor +
    indexer) and a small "large" ratio (16, standing in for 128) so every
    kind of layer produces compressed entries within ~100 tokens; the MTP
    entry is 0 as in the releases;
  * sliding_window and index_topk are far below the sequence length, so the
    window ring wraps and the indexer really drops blocks;
  * swiglu_limit is small enough that the clamp actually fires on random
    weights (the releases use 10 with trained activations).
"""

YARN_V4 = {
    "beta_fast": 32,
    "beta_slow": 1,
    "factor": 16,
    "original_max_position_embeddings": 65536,
    "type": "yarn",
}

V4_SHAPES = {
    # Plain V4: three layers (window / CSA ratio 4 / HCA ratio 16) + one MTP block.
    "a": dict(vocab_size=256, hidden_size=160, num_hidden_layers=3, num_attention_heads=4,
              head_dim=96, qk_rope_head_dim=32, q_lora_rank=64, o_groups=2, o_lora_rank=32,
              n_routed_experts=8, num_experts_per_tok=2, moe_intermediate_size=32,
              num_hash_layers=1, index_n_heads=2, index_head_dim=64, index_topk=4,
              sliding_window=16, compress_ratios=[0, 4, 16, 0], num_nextn_predict_layers=1),
    # V4 + Engram: two layers (CSA ratio 4 / window), Engram at both, no MTP
    # block (the format allows num_nextn_predict_layers = 0). hidden_size 96
    # (one partial 128-block) keeps these fixtures small; "a" covers ragged
    # multi-block grids.
    "e": dict(vocab_size=256, hidden_size=96, num_hidden_layers=2, num_attention_heads=4,
              head_dim=96, qk_rope_head_dim=32, q_lora_rank=64, o_groups=2, o_lora_rank=32,
              n_routed_experts=8, num_experts_per_tok=2, moe_intermediate_size=32,
              num_hash_layers=1, index_n_heads=2, index_head_dim=64, index_topk=4,
              sliding_window=16, compress_ratios=[4, 0], num_nextn_predict_layers=0,
              engram_layer_ids=[0, 1], engram_max_ngram_size=3, engram_n_heads=2,
              engram_head_dim=32, engram_vocab_size=[31, 37], engram_pad_token_id=2,
              engram_seed=0),
    # "e" with production-shaped Engram tables (256-wide rows, 264 bytes with scales) big enough to
    # dwarf a cache: ~400k rows, ~100 MiB at the deeper layer, so an Engram store's cache, prefetch
    # and overhead can be measured (mneme-cli bench engram). Generate it in a temporary directory.
    "e-big": dict(vocab_size=256, hidden_size=96, num_hidden_layers=2, num_attention_heads=4,
                  head_dim=96, qk_rope_head_dim=32, q_lora_rank=64, o_groups=2, o_lora_rank=32,
                  n_routed_experts=8, num_experts_per_tok=2, moe_intermediate_size=32,
                  num_hash_layers=1, index_n_heads=2, index_head_dim=64, index_topk=4,
                  sliding_window=16, compress_ratios=[4, 0], num_nextn_predict_layers=0,
                  engram_layer_ids=[1], engram_max_ngram_size=3, engram_n_heads=2,
                  engram_head_dim=256, engram_vocab_size=[100000, 100000], engram_pad_token_id=2,
                  engram_seed=0),
    # The Engram store benchmark's model: V4.1-Flash's layout scaled down (Engram at the second layer
    # and deeper, 256-wide rows, ~210 MiB of tables) with the demo model's 8192-token vocabulary, so
    # its tokenizer can be copied in and real text decoded. Random weights: the rows a step reads
    # depend on token ids only. tools/bench/engram-store-bench.sh makes and uses it.
    "e-bench": dict(vocab_size=8192, hidden_size=512, num_hidden_layers=8, num_attention_heads=8,
                    head_dim=128, qk_rope_head_dim=64, q_lora_rank=256, o_groups=4, o_lora_rank=128,
                    n_routed_experts=16, num_experts_per_tok=4, moe_intermediate_size=256,
                    num_hash_layers=1, index_n_heads=4, index_head_dim=64, index_topk=64,
                    sliding_window=128, compress_ratios=[0, 4, 16, 4, 0, 4, 16, 4], num_nextn_predict_layers=0,
                    engram_layer_ids=[1, 5], engram_max_ngram_size=3, engram_n_heads=2,
                    engram_head_dim=256, engram_vocab_size=[100000, 100000], engram_pad_token_id=2,
                    engram_seed=0),
}


def v4_config(family, shapes="a", index_topk=None, num_hidden_layers=None, engram_conv=None):
    """config.json dict for family 'v4' or 'v4e' (V4 + Engram).

    engram_num_embeddings and engram_compressed_vocab_size depend on the
    generated tables; gen_v4 fills them in.
    """
    s = dict(V4_SHAPES[shapes])
    if family == "v4e" and "engram_layer_ids" not in s:
        raise ValueError(f"shape set {shapes!r} has no Engram fields; use 'e'")
    if num_hidden_layers is not None:
        s["num_hidden_layers"] = num_hidden_layers
        pattern = [0, 4, 16]  # window, CSA, HCA, repeating
        s["compress_ratios"] = ([pattern[i % 3] for i in range(num_hidden_layers)]
                                + [0] * s["num_nextn_predict_layers"])
    cfg = {
        "architectures": ["DeepseekV4ForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": 0,
        "compress_ratios": s["compress_ratios"],
        "compress_rope_theta": 160000,
        "eos_token_id": 1,
        "expert_dtype": "fp4",
        "hc_eps": 1e-06,
        "hc_mult": 4,
        "hc_sinkhorn_iters": 20,
        "head_dim": s["head_dim"],
        "hidden_act": "silu",
        "hidden_size": s["hidden_size"],
        "index_head_dim": s["index_head_dim"],
        "index_n_heads": s["index_n_heads"],
        "index_topk": s["index_topk"] if index_topk is None else index_topk,
        "initializer_range": 0.02,
        "max_position_embeddings": 1048576,
        "model_type": "deepseek_v4",
        "moe_intermediate_size": s["moe_intermediate_size"],
        "n_routed_experts": s["n_routed_experts"],
        "n_shared_experts": 1,
        "norm_topk_prob": True,
        "num_attention_heads": s["num_attention_heads"],
        "num_experts_per_tok": s["num_experts_per_tok"],
        "num_hash_layers": s["num_hash_layers"],
        "num_hidden_layers": s["num_hidden_layers"],
        "num_key_value_heads": 1,
        "num_nextn_predict_layers": s["num_nextn_predict_layers"],
        "o_groups": s["o_groups"],
        "o_lora_rank": s["o_lora_rank"],
        "q_lora_rank": s["q_lora_rank"],
        "qk_rope_head_dim": s["qk_rope_head_dim"],
        "quantization_config": {
            "activation_scheme": "dynamic",
            "fmt": "e4m3",
            "quant_method": "fp8",
            "scale_fmt": "ue8m0",
            "weight_block_size": [128, 128],
        },
        "rms_norm_eps": 1e-06,
        "rope_scaling": dict(YARN_V4),
        "rope_theta": 10000,
        "routed_scaling_factor": 1.5,
        "scoring_func": "sqrtsoftplus",
        "sliding_window": s["sliding_window"],
        "swiglu_limit": 2.0,
        "tie_word_embeddings": False,
        "topk_method": "noaux_tc",
        "torch_dtype": "bfloat16",
        "transformers_version": "4.57.1",
        "use_cache": True,
        "vocab_size": s["vocab_size"],
    }
    if family == "v4e":
        for key in ("engram_layer_ids", "engram_max_ngram_size", "engram_n_heads", "engram_head_dim",
                    "engram_vocab_size", "engram_pad_token_id", "engram_seed"):
            cfg[key] = s[key]
        cfg["engram_conv_kernel"] = 0 if engram_conv is None else engram_conv
        if cfg["engram_conv_kernel"] > 0:
            cfg["engram_conv_dilation"] = s["engram_max_ngram_size"]
            cfg["engram_conv_norm_eps"] = 1e-05
    return dict(sorted(cfg.items()))
