"""fdsl_train: pre-train timm models on formula-driven shards, then fine-tune or probe them.

Reads the shards of `shards/<name>/` through the shard contract only
(manifest.json, _info.json and the png/cls/json sample keys). Two packages
and the commands on top: `data/` (a --data source to batches), `run/` (a
model trained on them, and the run folder it leaves), then `pretrain`,
`finetune`, `probe` and `cli` (docs/architecture.md).
"""

__version__ = "0.1.0"
