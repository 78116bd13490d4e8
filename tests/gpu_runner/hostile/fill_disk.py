# Writes everywhere it can think of until the disk is full.

errors = []
for path in ("__MARKER_PATH__", "/job/junk", "/junk", "/work/junk"):
    try:
        with open(path, "w") as f:
            f.write("junk")
        errors.append(f"{path}: written")
    except OSError as exc:
        errors.append(f"{path}: {exc.strerror}")
chunk = b"\0" * (4 << 20)
try:
    for i in range(10_000):
        with open(f"/tmp/fill-{i}", "wb") as f:
            for _ in range(2):
                f.write(chunk)
except OSError as exc:
    errors.append(f"/tmp: {exc.strerror}")


def total(values):
    raise OSError("; ".join(errors))
