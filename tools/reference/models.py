"""Pick the reference model class from a checkpoint's config.json."""

import json
import os

from checkpoint import Checkpoint


def load(directory):
    with open(os.path.join(directory, "config.json")) as f:
        model_type = json.load(f)["model_type"]
    ckpt = Checkpoint(directory)
    if model_type in ("deepseek_v3", "deepseek_v32"):
        from model_v3 import V3Model
        return V3Model(ckpt)
    if model_type == "deepseek_v4":
        from model_v4 import V4Model
        return V4Model(ckpt)
    raise ValueError(f"no reference for model_type {model_type}")


def reference_logits(directory, tokens):
    return load(directory).forward(tokens)


def parse_tokens(text):
    """Comma-separated ids, or the path of a file holding them."""
    if os.path.exists(text):
        with open(text) as f:
            text = f.read()
    return [int(v) for v in text.replace("\n", ",").split(",") if v.strip()]
