# Tries to kill its parent, the judge, a process of the same uid outside, and everything else.
import os
import signal

results = []
for name, pid in (
    ("parent", os.getppid()),
    ("judge", int("__JUDGE_PID__")),
    ("canary", int("__CANARY_PID__")),
    ("everyone", -1),
):
    try:
        os.kill(pid, signal.SIGKILL)
        results.append(f"{name}: sent")
    except OSError as exc:
        results.append(f"{name}: {exc.strerror}")
print(results)


def total(values):
    return sum(values)
