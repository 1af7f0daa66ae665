"""The data side of fdsl_train: a `--data` source to batches, one module per stage.

datasets (the front door: a source resolved, its reader chosen) -> shards or
live (what a split holds) -> reading and cache (a shard's samples, from its
file or a local copy) or live (rendered) -> loader (plan, shuffle, batches
per rank) -> decode -> transforms; tally counts what was lost on the way.
Nothing here imports the run side (fdsl_train.run) or the commands.
"""
