"""The reference implementations the tests hold fdsl equal to, in NumPy/PIL: test oracles, not baselines."""
