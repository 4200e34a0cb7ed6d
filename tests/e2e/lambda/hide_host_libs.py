"""Runs a program with this machine's shared-library folders hidden: `python3 hide_host_libs.py
[--hide DIR]... PROGRAM [ARGS...]` (--hide covers more folders the same way, e.g. the fonts).

Why a Python script and not `unshare --mount sh -c 'mount ...; exec bootstrap'`: once the library
folders are covered, nothing dynamically linked can start any more -- not the shell, not
mount(8). Python is already loaded when it makes the private mount namespace (unshare(2)
CLONE_NEWNS through ctypes) and covers every library folder with an empty directory (bind
mounts, mount(2)); then it execs PROGRAM, which must itself need no library: the package's static
`bootstrap`, which in turn execs the package's own dynamic loader. The namespace is private, so
the mounts are seen by PROGRAM and its children only, never by the rest of the machine, and they
vanish with the process. Needs root (CAP_SYS_ADMIN).

The folders hidden are every one the dynamic loader may search by default (its built-in paths
and what /etc/ld.so.cache points into): /usr/lib/x86_64-linux-gnu, /lib/x86_64-linux-gnu,
/usr/lib64, /lib64, /usr/lib, /lib, /usr/local/lib -- each that exists, once per real directory
(Debian's merged /usr makes /lib a link to /usr/lib). Before exec it checks that they are empty.
"""
import ctypes
import os
import sys
import tempfile

CLONE_NEWNS = 0x00020000
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18

LIBRARY_DIRS = ["/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64", "/lib64",
                "/usr/local/lib", "/usr/lib", "/lib"]


def _check(rc: int, what: str, libc) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def hide_dirs(extra: list[str]) -> list[str]:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                           ctypes.c_void_p]
    _check(libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)", libc)
    # Nothing done here may propagate back to the machine's mount namespace.
    _check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /",
           libc)
    empty = tempfile.mkdtemp(prefix="pf-empty-libdir-")
    hidden: list[str] = []
    # Deepest first: covering /usr/lib before /usr/lib/x86_64-linux-gnu would hide the latter's
    # mount point, and vice versa is fine.
    real_dirs = []
    for d in LIBRARY_DIRS + extra:
        if os.path.isdir(d):
            real = os.path.realpath(d)
            if real not in real_dirs:
                real_dirs.append(real)
    for real in sorted(real_dirs, key=lambda p: -p.count("/")):
        _check(libc.mount(empty.encode(), real.encode(), None, MS_BIND, None),
               f"bind-mount an empty directory over {real}", libc)
        hidden.append(real)
    for d in LIBRARY_DIRS + extra:
        if os.path.isdir(d) and os.listdir(d):
            raise RuntimeError(f"{d} is still visible after hiding: {os.listdir(d)[:5]}")
    return hidden


def main() -> None:
    args = sys.argv[1:]
    extra: list[str] = []
    while len(args) >= 2 and args[0] == "--hide":
        extra.append(args[1])
        args = args[2:]
    if not args:
        sys.exit("usage: hide_host_libs.py [--hide DIR]... PROGRAM [ARGS...]")
    hidden = hide_dirs(extra)
    if os.environ.get("PF_HIDE_LIBS_VERBOSE"):
        print("hidden: " + " ".join(hidden), file=sys.stderr, flush=True)
    os.execv(args[0], args)


if __name__ == "__main__":
    main()
