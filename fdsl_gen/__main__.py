from fdsl_gen.cli import run

run()
