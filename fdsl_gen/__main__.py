from fdsl_gen.cli import main

main(prog_name="fdsl-gen")
