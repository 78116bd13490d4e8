"""Faces: translate platform events into service calls and render what comes back."""
