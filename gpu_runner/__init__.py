"""Runs members' drill code: drills, sandbox, harness, timing, the judge and its runners.

Importing the package is cheap and pulls in no chat, database or torch client; the judge lives
in `gpu_runner.judge`, the runner contract in `gpu_runner.protocol`.
"""
