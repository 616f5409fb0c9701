"""A private little internet for the address-guard tests (tests/e2e/test_address_guard.py).

Run as ``unshare --mount --net python -m tests.e2e.guardworld SPEC.json`` (as root): in its own
network namespace, with its own ``/etc/hosts`` and ``/etc/resolv.conf`` bind-mounted over the
real ones (nothing outside the namespaces changes), it

- brings ``lo`` up and adds the spec's "public" addresses to it (say ``93.184.215.14``), so a
  name can resolve to an address the guard must allow *and* be served on this machine;
- serves HTTP on the spec's ``(address, port)`` pairs, logging every request on arrival
  (server, ``Host`` header, path, time) — the proof of what was or was not requested;
- answers DNS on ``127.0.0.53:53`` (the resolv.conf nameserver) from a script: a fixed
  address, an address that changes after a number of look-ups or once a given request was
  served (TTL 0: DNS rebinding), or NXDOMAIN after rewriting ``/etc/hosts`` (a name that fails
  to resolve once and resolves from the hosts file afterwards). Every query is logged;
- runs the spec's commands (the real ``heed crawl`` / ``heed check``) one after the other,
  and writes a JSON report: the request log, the DNS log and each command's output.

Spec (JSON): ``hosts`` (initial hosts file text), ``public`` (addresses to add to ``lo``),
``servers`` ({name: {"address", "port", "pages": {path: {"status", "body", "type",
"headers"}}}}), ``dns`` ({name: rule}), ``commands`` (argv lists, run from the repository
root), ``report`` (path). A rule is ``{"a": [addr, ...], "switch_after": n, "then": [addr]}``,
``{"a": [...], "switch_on": [host, path], "then": [...]}`` or ``{"nxdomain": true,
"write_hosts": text}``. AAAA queries get an empty answer unless the rule is NXDOMAIN.
"""

from __future__ import annotations

import json
import socket
import struct
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

NAMESERVER = "127.0.0.53"
_HOSTS = Path("/etc/hosts")
_RESOLV = Path("/etc/resolv.conf")
_NOT_FOUND = {"status": 404, "body": "not found\n", "type": "text/plain"}


class World:
    def __init__(self, spec: dict[str, Any], folder: Path) -> None:
        self.spec = spec
        self.folder = folder
        self.lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        self.queries: list[dict[str, Any]] = []
        self.served: set[tuple[str, str]] = set()
        self.lookups: dict[str, int] = {}
        self.hosts_file = folder / "hosts"
        self.hosts_file.write_text(spec.get("hosts", "127.0.0.1 localhost\n"), encoding="utf-8")

    # ------------------------------------------------------------------ namespace set-up

    def setup(self) -> None:
        resolv = self.folder / "resolv.conf"
        resolv.write_text(f"nameserver {NAMESERVER}\noptions timeout:2 attempts:1\n")
        commands = [["ip", "link", "set", "lo", "up"]]
        commands += [["ip", "addr", "add", f"{a}/32", "dev", "lo"] for a in self.spec["public"]]
        commands += [
            ["mount", "--bind", str(self.hosts_file), str(_HOSTS)],
            ["mount", "--bind", str(resolv), str(_RESOLV)],
        ]
        for argv in commands:
            subprocess.run(argv, check=True)

    # ------------------------------------------------------------------ HTTP

    def serve(self) -> None:
        for name, server in self.spec["servers"].items():
            httpd = ThreadingHTTPServer((server["address"], server["port"]), _handler(self, name))
            httpd.daemon_threads = True
            threading.Thread(target=httpd.serve_forever, daemon=True).start()

    # ------------------------------------------------------------------ DNS

    def answer(self, name: str, qtype: int) -> tuple[bool, list[str]]:
        """(nxdomain, addresses) for one query."""
        rule = self.spec["dns"].get(name.lower())
        if rule is None:
            return True, []
        if rule.get("nxdomain"):
            if "write_hosts" in rule:  # in place: the bind mount follows the same inode
                with self.hosts_file.open("w", encoding="utf-8") as f:
                    f.write(rule["write_hosts"])
            return True, []
        if qtype != 1:
            return False, []
        with self.lock:
            count = self.lookups.get(name, 0)
            self.lookups[name] = count + 1
            switched = ("switch_after" in rule and count >= rule["switch_after"]) or (
                "switch_on" in rule and tuple(rule["switch_on"]) in self.served
            )
        return False, list(rule["then"] if switched else rule["a"])

    def dns(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((NAMESERVER, 53))

        def loop() -> None:
            while True:
                data, peer = sock.recvfrom(4096)
                try:
                    name, qtype, question = _question(data)
                except (IndexError, struct.error, UnicodeError):
                    continue
                nxdomain, addresses = self.answer(name, qtype)
                with self.lock:
                    self.queries.append(
                        {"name": name, "type": qtype, "time": time.monotonic(), "answer": addresses}
                    )
                sock.sendto(_response(data[:2], question, nxdomain, addresses), peer)

        threading.Thread(target=loop, daemon=True).start()

    # ------------------------------------------------------------------ run

    def run(self) -> dict[str, Any]:
        results = []
        for argv in self.spec["commands"]:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=180, check=False)
            results.append(
                {"argv": argv, "rc": done.returncode, "stdout": done.stdout, "stderr": done.stderr}
            )
        with self.lock:
            return {"commands": results, "requests": self.requests, "queries": self.queries}


def _handler(world: World, server: str) -> type[BaseHTTPRequestHandler]:
    pages = world.spec["servers"][server]["pages"]

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """The world's request log replaces the default stderr lines."""

        def do_GET(self) -> None:
            host = (self.headers.get("Host") or "").split(":", 1)[0].lower()
            with world.lock:
                world.requests.append(
                    {"server": server, "host": host, "path": self.path, "time": time.monotonic()}
                )
                world.served.add((host, self.path))
            page = pages.get(self.path, _NOT_FOUND)
            body = page.get("body", "").encode("utf-8")
            self.send_response(page.get("status", 200))
            self.send_header("Content-Type", page.get("type", "text/html; charset=utf-8"))
            for key, value in page.get("headers", {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def _question(data: bytes) -> tuple[str, int, bytes]:
    pos, labels = 12, []
    while data[pos]:
        length = data[pos]
        labels.append(data[pos + 1 : pos + 1 + length].decode("ascii"))
        pos += 1 + length
    qtype = struct.unpack("!H", data[pos + 1 : pos + 3])[0]
    return ".".join(labels), qtype, data[12 : pos + 5]


def _response(qid: bytes, question: bytes, nxdomain: bool, addresses: list[str]) -> bytes:
    flags = 0x8183 if nxdomain else 0x8180  # response, recursion desired+available, rcode
    header = qid + struct.pack("!HHHHH", flags, 1, len(addresses), 0, 0)
    answers = b"".join(
        struct.pack("!HHHIH", 0xC00C, 1, 1, 0, 4) + socket.inet_aton(a) for a in addresses
    )  # a pointer to the question's name, type A, class IN, TTL 0 (rebinding), 4 bytes
    return header + question + answers


def main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    world = World(spec, Path(spec_path).parent)
    world.setup()
    world.serve()
    world.dns()
    report = world.run()
    Path(spec["report"]).write_text(json.dumps(report, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1])
