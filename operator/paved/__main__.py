"""`python -m paved` is the `paved` command; with no arguments it runs the operator."""

import sys

from paved.cli import main

main(sys.argv[1:] or ["operator"], prog_name="paved")
