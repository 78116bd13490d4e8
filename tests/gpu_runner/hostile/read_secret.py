# Tries to read a file of the host, directly and through /proc.
import os

findings = []
for path in ("__SECRET_PATH__", "/proc/1/root__SECRET_PATH__", "/proc/1/environ"):
    try:
        with open(path) as f:
            findings.append(f"{path}: {f.read()}")
    except OSError as exc:
        findings.append(f"{path}: {exc}")
findings.append("visible pids: " + " ".join(p for p in os.listdir("/proc") if p.isdigit()))


def total(values):
    raise PermissionError(" | ".join(findings))
