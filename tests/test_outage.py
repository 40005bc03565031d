"""The database goes away and comes back: 503 with the JSON error body, then recovery.

The server process reaches PostgreSQL through a TCP relay owned by the test, which can cut
every connection and refuse new ones (as a crashed or restarting database would) and then
accept them again. No restart of the app in between.
"""

from __future__ import annotations

import socket
import threading
import time
from contextlib import suppress

import httpx
import layers_data
from sqlalchemy.engine import make_url

small_db = layers_data.small_db


class Relay:
    """A TCP relay 127.0.0.1:<port> → the database, that can be cut and restored."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind(("127.0.0.1", self.port))
        srv.listen(64)
        self._listener = srv
        threading.Thread(target=self._accept, args=(srv,), daemon=True).start()

    def cut(self) -> None:
        """Close the listening socket (new connections are refused) and every open one."""
        if self._listener is not None:
            with suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            for c in self._conns:
                with suppress(OSError):
                    c.shutdown(socket.SHUT_RDWR)
                c.close()
            self._conns.clear()

    def _accept(self, srv: socket.socket) -> None:
        while True:
            try:
                client, _ = srv.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            with suppress(OSError):
                b.shutdown(socket.SHUT_RDWR)


def _wait_for(base: str, status: int, timeout_s: float = 60.0) -> httpx.Response:
    deadline = time.monotonic() + timeout_s
    while True:
        r = httpx.get(f"{base}/health", timeout=30)
        if r.status_code == status or time.monotonic() > deadline:
            return r
        time.sleep(0.5)


def test_database_outage_gives_503_json_and_recovers(small_db):
    url = make_url(small_db.url)
    relay = Relay((url.host or "127.0.0.1", url.port or 5432))
    relayed = url.set(host="127.0.0.1", port=relay.port).render_as_string(hide_password=False)
    try:
        with layers_data.server_process(relayed) as (base, _proc):
            ok = httpx.get(f"{base}/health")
            assert ok.status_code == 200 and ok.json()["status"] == "ok"
            assert httpx.get(f"{base}/collections/parcels/items?limit=1").status_code == 200
            relay.cut()
            down = _wait_for(base, 503)
            assert down.status_code == 503, down.text
            assert down.headers["content-type"] == "application/json"
            body = down.json()
            assert body["code"] == "unavailable" and body["status"] == "error"
            assert body["message_en"] and body["message_zh"]
            for path in (
                "/collections",
                "/collections/parcels/items?limit=5",
                "/collections/parcels/items/1",
                "/tiles/parcels/14/13371/7137.pbf",
                "/tiles/parcels.json",
                "/map",
            ):
                r = httpx.get(f"{base}{path}", timeout=30)
                assert r.status_code == 503, (path, r.status_code, r.text[:200])
                assert r.json()["code"] == "unavailable", path
                assert r.headers["retry-after"] == "5", path
            r = httpx.get(f"{base}/projects", headers={"Authorization": "Bearer tz_x"}, timeout=30)
            assert r.status_code == 503 and r.json()["code"] == "unavailable"
            relay.restore()
            back = _wait_for(base, 200)
            assert back.status_code == 200 and back.json()["counts"]["parcels"] == 105
            items = httpx.get(f"{base}/collections/parcels/items?limit=1", timeout=30)
            assert items.status_code == 200 and items.json()["numberMatched"] == 105
            tile = httpx.get(f"{base}/tiles/parcels/14/13371/7137.pbf", timeout=30)
            assert tile.status_code in (200, 204)
    finally:
        relay.cut()
