"""fdsl_gen: render formula-driven datasets into WebDataset shards."""
__version__ = "0.1.0"
