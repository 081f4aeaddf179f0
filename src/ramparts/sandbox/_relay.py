"""Inside the sandbox (standard library only, run with -I -S): listen on 127.0.0.1:PORT, forward each
connection to the Unix socket that leads to the egress proxy, run the command, exit with its status.

usage: _relay.py PORT SOCKET -- CMD...
"""

import contextlib
import os
import socket
import subprocess
import sys
import threading


def pipe(src: socket.socket, dst: socket.socket) -> None:
    try:
        while True:
            chunk = src.recv(65536)
            if not chunk:
                break
            dst.sendall(chunk)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


def serve(server: socket.socket, path: str) -> None:
    while True:
        try:
            inside, _ = server.accept()
        except OSError:
            return
        try:
            outside = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            outside.connect(path)
        except OSError:
            inside.close()
            continue
        for a, b in ((inside, outside), (outside, inside)):
            threading.Thread(target=pipe, args=(a, b), daemon=True).start()


def main(argv: list[str]) -> int:
    if len(argv) < 4 or argv[2] != "--":
        print("usage: _relay.py PORT SOCKET -- CMD...", file=sys.stderr)
        return 2
    port, path, command = int(argv[0]), argv[1], argv[3:]
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    server.listen(64)
    threading.Thread(target=serve, args=(server, path), daemon=True).start()
    try:
        return subprocess.call(command)
    except OSError as exc:
        print(f"ramparts sandbox: cannot run {command[0]}: {exc.strerror}", file=sys.stderr)
        return 127


if __name__ == "__main__":
    os.umask(0o077)
    sys.exit(main(sys.argv[1:]))
