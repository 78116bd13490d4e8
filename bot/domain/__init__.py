"""Pure rules: no I/O, no await, no SQL."""
