"""The demo model's config.json (every field FORMATS §4 and ENGRAM_FORMAT §1 list).

Dims are chosen for a CPU-trainable model whose FP8/FP4 checkpoint stays well
under 30 MB: hidden 256 (two 128-wide FP8 blocks, a multiple of 32 for FP4),
four layers covering every V4 attention kind (window-only, CSA ratio 4 with
the indexer, HCA ratio 16), Engram at layers 0 and 1.
"""

import copy

import refpath  # noqa: F401
from engram_hash import table_primes  # tools/reference

DEMO = {
    "architectures": ["DeepseekV4ForCausalLM"],
    "attention_bias": False,
    "attention_dropout": 0.0,
    "bos_token_id": 0,
    "eos_token_id": 1,
    "compress_ratios": [0, 4, 16, 4],
    "compress_rope_theta": 160000,
    "expert_dtype": "fp4",
    "hc_eps": 1e-06,
    "hc_mult": 4,
    "hc_sinkhorn_iters": 20,
    "head_dim": 128,
    "hidden_act": "silu",
    "hidden_size": 256,
    "index_head_dim": 64,
    "index_n_heads": 4,
    "index_topk": 32,
    "initializer_range": 0.02,
    "max_position_embeddings": 8192,
    "model_type": "deepseek_v4",
    "moe_intermediate_size": 256,
    "n_routed_experts": 4,
    "n_shared_experts": 1,
    "norm_topk_prob": True,
    "num_attention_heads": 4,
    "num_experts_per_tok": 2,
    "num_hash_layers": 1,
    "num_hidden_layers": 4,
    "num_key_value_heads": 1,
    "num_nextn_predict_layers": 0,
    "o_groups": 2,
    "o_lora_rank": 128,
    "q_lora_rank": 128,
    "qk_rope_head_dim": 32,
    "quantization_config": {"activation_scheme": "dynamic", "fmt": "e4m3", "quant_method": "fp8",
                            "scale_fmt": "ue8m0", "weight_block_size": [128, 128]},
    "rms_norm_eps": 1e-06,
    "rope_scaling": {"beta_fast": 32, "beta_slow": 1, "factor": 16,
                     "original_max_position_embeddings": 65536, "type": "yarn"},
    "rope_theta": 10000,
    "routed_scaling_factor": 1.5,
    "scoring_func": "sqrtsoftplus",
    "sliding_window": 128,
    "swiglu_limit": 10.0,
    "tie_word_embeddings": False,
    "topk_method": "noaux_tc",
    "torch_dtype": "bfloat16",
    "transformers_version": "4.57.1",
    "use_cache": True,
    "vocab_size": 8192,
    "engram_layer_ids": [0, 1],
    "engram_max_ngram_size": 3,
    "engram_n_heads": 2,
    "engram_head_dim": 64,
    "engram_vocab_size": [8192, 8192],
    "engram_pad_token_id": 2,
    "engram_seed": 0,
    "engram_conv_kernel": 0,
}


def make_config(compressed_vocab, **overrides):
    """A complete config: the demo values, overrides, and the derived Engram fields."""
    cfg = copy.deepcopy(DEMO)
    cfg.update(overrides)
    if cfg.get("engram_layer_ids"):
        primes = table_primes(cfg["engram_layer_ids"], cfg["engram_max_ngram_size"], cfg["engram_n_heads"],
                              cfg["engram_vocab_size"])
        cfg["engram_num_embeddings"] = [int(sum(primes[l])) for l in cfg["engram_layer_ids"]]
        cfg["engram_compressed_vocab_size"] = int(compressed_vocab)
    return dict(sorted(cfg.items()))
