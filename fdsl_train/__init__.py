"""fdsl_train: pre-train timm models on formula-driven shards, then fine-tune or probe them.

Reads the shards of `shards/<name>/` through the shard contract only
(manifest.json, _info.json and the png/cls/json sample keys).
"""

__version__ = "0.1.0"
