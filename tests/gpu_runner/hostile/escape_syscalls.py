# Tries the calls a container escape starts with: new namespaces, ptrace, mount, bpf.
import ctypes
import errno
import os

libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWUSER, CLONE_NEWNS = 0x10000000, 0x00020000
results = []


def attempt(name, fn):
    ret = fn()
    err = ctypes.get_errno()
    results.append(f"{name}={'ok' if ret == 0 else errno.errorcode.get(err, err)}")


attempt("unshare", lambda: libc.unshare(CLONE_NEWUSER | CLONE_NEWNS))
attempt("ptrace", lambda: libc.ptrace(0, 0, None, None))
attempt("mount", lambda: libc.mount(b"none", b"/tmp", b"tmpfs", 0, None))
attempt("setuid0", lambda: libc.setuid(0))
results.append(f"uid={os.getuid()}")


def total(values):
    raise PermissionError(" ".join(results))
