"""The reference implementations the tests hold fdsl equal to, in NumPy/PIL; bench/ times them."""
