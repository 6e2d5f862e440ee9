"""Pure decisions: no I/O, no kopf, no clock (callers pass `now`)."""
