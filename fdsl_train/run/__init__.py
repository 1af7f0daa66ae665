"""The run side of fdsl_train: a model trained on batches, and the run folder it leaves.

session (what pretrain and finetune share) -> engine (steps, epochs, top-1)
-> checkpoint (weights timm loads, the resumable state) and monitor -> sinks
(log.jsonl, TensorBoard, W&B, curves.png, the model card); folder.RunFolder
names every file of a run folder; report sums runs up. Nothing here imports
the commands.
"""
