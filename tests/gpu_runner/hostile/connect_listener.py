# Tries to reach a listener on the host's loopback, over TCP (v4 and v6) and UDP.
import socket

PORT = int("__PORT__")
errors = []
for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(2)
            s.connect((host, PORT))
            s.sendall(b"LEAKED")
            errors.append(f"{host}: connected")
    except OSError as exc:
        errors.append(f"{host}: {exc}")
try:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"LEAKED", ("127.0.0.1", PORT))
        errors.append("udp: sent")
except OSError as exc:
    errors.append(f"udp: {exc}")


def total(values):
    raise ConnectionError("; ".join(errors))
