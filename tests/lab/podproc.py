"""The programs that run inside the lab's pods: servers and a client making real traffic.

Run as ``python podproc.py ROLE ARGS...`` inside a pod's network namespace. Each prints
``ready`` on stdout once it serves (or, for the client, once every kind of traffic has
succeeded once) and then runs until killed.

Roles:
  http PORT...          an HTTP server on each port (answers 200 with a short body)
  tcp-echo PORT         accepts connections and echoes; keeps them open
  udp-echo PORT         answers each datagram with the same bytes
  client SERVICE_URL REDIS_ADDR UDP_ADDR URL...
                        one long-lived TCP connection to REDIS_ADDR (a ping every 0.3 s), and
                        every 0.3 s an HTTP GET of SERVICE_URL and of each URL, and a UDP
                        request/response to UDP_ADDR
"""

from __future__ import annotations

import http.server
import socket
import socketserver
import sys
import threading
import time
import urllib.request


class _Quiet(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def http_servers(ports: list[int]) -> None:
    for port in ports:
        server = _Server(("0.0.0.0", port), _Quiet)
        threading.Thread(target=server.serve_forever, daemon=True).start()


def tcp_echo(port: int) -> None:
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("0.0.0.0", port))
    listener.listen()

    def serve(conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(4096):
                conn.sendall(data)

    def accept() -> None:
        while True:
            conn, _ = listener.accept()
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()


def udp_echo(port: int) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("0.0.0.0", port))

    def serve() -> None:
        while True:
            data, peer = sock.recvfrom(2048)
            sock.sendto(data, peer)

    threading.Thread(target=serve, daemon=True).start()


def _addr(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


def client(service_url: str, redis: str, udp: str, *urls: str) -> None:
    cache = socket.create_connection(_addr(redis), timeout=5)
    dgram = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dgram.settimeout(5)
    ready = False
    while True:
        cache.sendall(b"PING\n")
        assert cache.recv(16) == b"PING\n"
        for url in (service_url, *urls):
            with urllib.request.urlopen(url, timeout=5) as answer:
                assert answer.status == 200
        dgram.sendto(b"query", _addr(udp))
        assert dgram.recvfrom(2048)[0] == b"query"
        if not ready:
            print("ready", flush=True)
            ready = True
        time.sleep(0.3)


def main(argv: list[str]) -> None:
    role, args = argv[0], argv[1:]
    if role == "http":
        http_servers([int(p) for p in args])
    elif role == "tcp-echo":
        tcp_echo(int(args[0]))
    elif role == "udp-echo":
        udp_echo(int(args[0]))
    elif role == "client":
        client(*args)
        return
    else:
        raise SystemExit(f"unknown role {role!r}")
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main(sys.argv[1:])
