from fdsl_gen.recipes import fractaldb  # noqa: F401  (registers)
