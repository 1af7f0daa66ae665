"""`python -m fdsl_train` and `torchrun -m fdsl_train` enter here."""
from fdsl_train.cli import main

main()
