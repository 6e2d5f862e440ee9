"""`python -m paved` is the `paved` command."""

from paved.cli import main

main()
