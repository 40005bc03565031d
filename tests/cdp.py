"""A minimal Chrome DevTools Protocol client for the headless-Chromium map test.

Starts Debian's ``chromium`` headless with a throwaway profile and every background service
off, opens one page over the DevTools websocket, and records what the page requested, the
HTTP statuses, console errors and exceptions.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websocket

NETWORK_CUT = ("--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",)
"""Flags that cut the network: every host name but 127.0.0.1 fails to resolve."""
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--metrics-recording-only",
    "--remote-allow-origins=*",
    "--remote-debugging-port=0",
    "--window-size=1200,800",
]


def chromium_path() -> str | None:
    """The Debian chromium binary, if installed."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class PageRecord:
    """What happened while a page loaded."""

    requests: list[str] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    screenshot_png: bytes = b""


def _group_running(pgid: int) -> bool:
    """Whether a process of group ``pgid`` still runs (zombies, already ended, do not count)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # ended while we looked
        if fields[0] != "Z" and int(fields[2]) == pgid:
            return True
    return False


class Browser:
    """One headless Chromium process with one page."""

    def __init__(self, profile_dir: Path, extra_flags: Sequence[str] | None = None) -> None:
        binary = chromium_path()
        if binary is None:
            raise RuntimeError("chromium is not installed")
        flags = [*CHROMIUM_FLAGS, *(extra_flags or [])]
        self.proc = subprocess.Popen(
            [binary, *flags, f"--user-data-dir={profile_dir}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its helper processes share the group: close() ends all
        )
        port_file = profile_dir / "DevToolsActivePort"
        for _ in range(300):
            if port_file.exists() and port_file.read_text().strip():
                break
            time.sleep(0.1)
        else:
            self.close()
            raise RuntimeError("chromium did not open its DevTools port")
        port = int(port_file.read_text().splitlines()[0])
        req = urllib.request.Request(f"http://127.0.0.1:{port}/json/new?about:blank", method="PUT")
        with urllib.request.urlopen(req, timeout=10) as resp:
            ws_url = json.load(resp)["webSocketDebuggerUrl"]
        self.ws = websocket.create_connection(ws_url, timeout=30, suppress_origin=True)
        self._id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """Call a CDP method and wait for its result (events seen meanwhile are kept)."""
        self._id += 1
        my_id = self._id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def load(self, url: str, settle_s: float = 2.0, max_s: float = 60.0) -> PageRecord:
        """Open ``url``; wait for the load event and ``settle_s`` without network activity."""
        for domain in ("Page", "Network", "Runtime", "Log"):
            self.send(f"{domain}.enable")
        self.send(
            "Emulation.setDeviceMetricsOverride",
            width=1200,
            height=800,
            deviceScaleFactor=1,
            mobile=False,
        )
        self.send("Page.navigate", url=url)
        loaded = False
        pending: set[str] = set()
        last_activity = time.monotonic()
        deadline = time.monotonic() + max_s
        self.ws.settimeout(0.25)
        while time.monotonic() < deadline:
            try:
                self.events.append(json.loads(self.ws.recv()))
            except websocket.WebSocketTimeoutException:
                if loaded and not pending and time.monotonic() - last_activity > settle_s:
                    break
                continue
            ev = self.events[-1]
            method, p = ev.get("method"), ev.get("params", {})
            if method == "Page.loadEventFired":
                loaded = True
            elif method == "Network.requestWillBeSent":
                pending.add(p["requestId"])
                last_activity = time.monotonic()
            elif method in ("Network.loadingFinished", "Network.loadingFailed"):
                pending.discard(p["requestId"])
                last_activity = time.monotonic()
        self.ws.settimeout(30)
        shot = self.send("Page.captureScreenshot", format="png")
        return self._record(base64.b64decode(shot["data"]))

    def evaluate(self, expression: str) -> Any:
        """Evaluate a JavaScript expression in the page and return its JSON value."""
        res = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in res:
            raise RuntimeError(json.dumps(res["exceptionDetails"])[:500])
        return res["result"].get("value")

    def click(self, x: int, y: int) -> None:
        """A left mouse click at CSS pixel (x, y)."""
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def settle(self, seconds: float) -> None:
        """Keep reading events for ``seconds`` (requests started by clicks, fetches)."""
        end = time.monotonic() + seconds
        self.ws.settimeout(0.2)
        while time.monotonic() < end:
            try:
                self.events.append(json.loads(self.ws.recv()))
            except websocket.WebSocketTimeoutException:
                continue
        self.ws.settimeout(30)

    def wait_for(self, expression: str, timeout_s: float = 30.0) -> Any:
        """Poll a JavaScript expression until it is truthy (or ``timeout_s`` passes); its value.

        For what a page does after several requests (a popup filled from the API): on a
        loaded machine a fixed wait is too short one time in a few.
        """
        end = time.monotonic() + timeout_s
        value = self.evaluate(expression)
        while not value and time.monotonic() < end:
            self.settle(0.25)
            value = self.evaluate(expression)
        return value

    def record(self) -> PageRecord:
        """Everything recorded so far, with a fresh screenshot."""
        shot = self.send("Page.captureScreenshot", format="png")
        return self._record(base64.b64decode(shot["data"]))

    def _record(self, png: bytes) -> PageRecord:
        rec = PageRecord(screenshot_png=png)
        for ev in self.events:
            method, p = ev.get("method"), ev.get("params", {})
            if method == "Network.requestWillBeSent":
                rec.requests.append(p["request"]["url"])
            elif method == "Network.responseReceived":
                rec.statuses[p["response"]["url"]] = p["response"]["status"]
            elif method == "Network.loadingFailed":
                rec.failures.append(f"{p.get('errorText')} {p.get('requestId')}")
            elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                rec.console_errors.append(
                    " ".join(str(a.get("value", a.get("description"))) for a in p["args"])
                )
            elif method == "Runtime.exceptionThrown":
                rec.console_errors.append(json.dumps(p["exceptionDetails"])[:500])
            elif method == "Log.entryAdded" and p["entry"]["level"] == "error":
                rec.console_errors.append(f"{p['entry'].get('text')} {p['entry'].get('url')}")
        return rec

    def close(self) -> None:
        """Close the websocket and end the browser process."""
        ws = getattr(self, "ws", None)
        if ws is not None:
            ws.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        # Chromium's zygote and GPU processes can outlive the browser for a moment and still
        # write to the profile, so a caller removing it would race them: end the whole group,
        # and wait until none is left (at most 10 s, then they are killed).
        for sig, wait_s in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                return
            until = time.monotonic() + wait_s
            while time.monotonic() < until:
                if not _group_running(self.proc.pid):
                    return
                time.sleep(0.05)
