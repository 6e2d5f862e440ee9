"""`python -m paved` runs the operator, as `paved operator` does."""

from paved.cli import main

main(["operator"])
