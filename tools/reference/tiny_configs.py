"""config.json contents of the tiny checkpoints, in the published HF layout.

Every field a real DeepSeek config.json carries is present, including the
ones Mneme ignores, so a loader meets exactly what it meets on a release.
The dimensions are small but chosen to exercise every path:
  * hidden_size and several projection widths are > 128 and not multiples of
    128, so the 128×128 scale grids have ragged edge blocks and the activation
    quantisation has a partial last block;
  * n_group / topk_group really exclude groups, and the bias is nonzero;
  * the YaRN ramp is non-trivial (real rope_scaling values are kept).
"""

YARN_V3 = {
    "beta_fast": 32,
    "beta_slow": 1,
    "factor": 40,
    "mscale": 1.0,
    "mscale_all_dim": 1.0,
    "original_max_position_embeddings": 4096,
    "type": "yarn",
}

# Per-fixture shape sets for the V3 family. "a" is the default; "b" is a
# second shape set so that a runtime cannot pass with dimensions hard-coded.
V3_SHAPES = {
    "a": dict(vocab_size=256, hidden_size=144, intermediate_size=192, moe_intermediate_size=8,
              num_hidden_layers=3, first_k_dense_replace=1, num_attention_heads=4,
              q_lora_rank=96, kv_lora_rank=80, qk_nope_head_dim=16, qk_rope_head_dim=32,
              v_head_dim=32, n_routed_experts=16, n_shared_experts=1, num_experts_per_tok=4,
              n_group=4, topk_group=2),
    "b": dict(vocab_size=272, hidden_size=136, intermediate_size=160, moe_intermediate_size=24,
              num_hidden_layers=2, first_k_dense_replace=1, num_attention_heads=2,
              q_lora_rank=72, kv_lora_rank=144, qk_nope_head_dim=24, qk_rope_head_dim=16,
              v_head_dim=40, n_routed_experts=12, n_shared_experts=2, num_experts_per_tok=3,
              n_group=3, topk_group=2),
    # V3.2: index_head_dim must be a power of two (Hadamard); rope <= it.
    "dsa": dict(vocab_size=256, hidden_size=136, intermediate_size=176, moe_intermediate_size=16,
                num_hidden_layers=2, first_k_dense_replace=1, num_attention_heads=4,
                q_lora_rank=72, kv_lora_rank=136, qk_nope_head_dim=16, qk_rope_head_dim=64,
                v_head_dim=24, n_routed_experts=12, n_shared_experts=1, num_experts_per_tok=3,
                n_group=4, topk_group=2, index_n_heads=3, index_head_dim=128, index_topk=20),
    # Not tiny: ~0.1 GB of weights, so that a process's memory is dominated by the model (the
    # memory planner is checked against measured peak RSS with it).
    "plan": dict(vocab_size=8192, hidden_size=1024, intermediate_size=2048, moe_intermediate_size=256,
                 num_hidden_layers=4, first_k_dense_replace=1, num_attention_heads=8,
                 q_lora_rank=384, kv_lora_rank=256, qk_nope_head_dim=64, qk_rope_head_dim=64,
                 v_head_dim=64, n_routed_experts=32, n_shared_experts=1, num_experts_per_tok=4,
                 n_group=4, topk_group=2, index_n_heads=4, index_head_dim=128, index_topk=256),
}


def v3_config(family, shapes="a", index_topk=None, num_hidden_layers=None):
    """config.json dict for family 'v3' (deepseek_v3) or 'v32' (deepseek_v32)."""
    s = dict(V3_SHAPES[shapes])
    if num_hidden_layers is not None:
        s["num_hidden_layers"] = num_hidden_layers
    v32 = family == "v32"
    arch = "DeepseekV32ForCausalLM" if v32 else "DeepseekV3ForCausalLM"
    cfg = {
        "architectures": [arch],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "auto_map": {
            "AutoConfig": "configuration_deepseek.DeepseekV3Config",
            "AutoModel": "modeling_deepseek.DeepseekV3Model",
            "AutoModelForCausalLM": "modeling_deepseek.DeepseekV3ForCausalLM",
        },
        "aux_loss_alpha": 0.001,
        "bos_token_id": 0,
        "eos_token_id": 1,
        "ep_size": 1,
        "first_k_dense_replace": s["first_k_dense_replace"],
        "hidden_act": "silu",
        "hidden_size": s["hidden_size"],
        "initializer_range": 0.02,
        "intermediate_size": s["intermediate_size"],
        "kv_lora_rank": s["kv_lora_rank"],
        "max_position_embeddings": 163840,
        "model_type": "deepseek_v32" if v32 else "deepseek_v3",
        "moe_intermediate_size": s["moe_intermediate_size"],
        "moe_layer_freq": 1,
        "n_group": s["n_group"],
        "n_routed_experts": s["n_routed_experts"],
        "n_shared_experts": s["n_shared_experts"],
        "norm_topk_prob": True,
        "num_attention_heads": s["num_attention_heads"],
        "num_experts_per_tok": s["num_experts_per_tok"],
        "num_hidden_layers": s["num_hidden_layers"],
        "num_key_value_heads": s["num_attention_heads"],
        "num_nextn_predict_layers": 1,
        "pretraining_tp": 1,
        "q_lora_rank": s["q_lora_rank"],
        "qk_nope_head_dim": s["qk_nope_head_dim"],
        "qk_rope_head_dim": s["qk_rope_head_dim"],
        "quantization_config": {
            "activation_scheme": "dynamic",
            "fmt": "e4m3",
            "quant_method": "fp8",
            "weight_block_size": [128, 128],
        },
        "rms_norm_eps": 1e-06,
        "rope_scaling": dict(YARN_V3),
        "rope_theta": 10000,
        "routed_scaling_factor": 2.5,
        "scoring_func": "sigmoid",
        "seq_aux": True,
        "tie_word_embeddings": False,
        "topk_group": s["topk_group"],
        "topk_method": "noaux_tc",
        "torch_dtype": "bfloat16",
        "transformers_version": "4.44.2" if v32 else "4.33.1",
        "use_cache": True,
        "v_head_dim": s["v_head_dim"],
        "vocab_size": s["vocab_size"],
    }
    if v32:
        cfg["index_head_dim"] = s["index_head_dim"]
        cfg["index_n_heads"] = s["index_n_heads"]
        cfg["index_topk"] = s["index_topk"] if index_topk is None else index_topk
        cfg["quantization_config"]["scale_fmt"] = "ue8m0"
    return dict(sorted(cfg.items()))
