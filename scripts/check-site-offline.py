#!/usr/bin/env python3
"""Open every HTML page of a published site in headless Chromium, over file:// with the network cut off, and fail
unless each one loads nothing from the network and draws every plot it holds.

    python scripts/check-site-offline.py public/          # after `python -m pipeline publish`

Chromium runs with its proxy set to a port on 127.0.0.1 that refuses connections (loopback included), so nothing
it asks for can arrive. The script drives it through the DevTools protocol (--remote-debugging-pipe): it opens
each page in its own tab, records every request that tab makes and every uncaught JavaScript error, and once the
page has loaded, waits for its plots. Requests Chromium makes for itself (component updates and the like) belong
to no tab and are not counted. A page fails when it:

- asked for anything over the network (a CDN script, a web font, an image, a fetch), whether or not it needed it;
- holds a plot (a ``vegaEmbed('#id', ...)`` call, as in DVC's plots pages) whose element has no ``<svg>`` or
  ``<canvas>`` of class ``marks`` within the wait: Vega did not draw it;
- threw an uncaught JavaScript error, or shows an image that did not load.

Exit 0: every page passed; 1: some did not (each reason on its own line); 2: bad arguments or no Chromium
(install Debian's ``chromium``, or point CHROMIUM at a Chrome or Chromium binary). Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:", "javascript:")
PLOT_CALL = re.compile(r"""vegaEmbed\(\s*['"]#([^'"]+)['"]""")
# Run in the page: which plots are drawn, which images failed or are still loading.
STATE = """(() => {
  const drawn = %s.filter(id => { const e = document.getElementById(id);
                                  return e !== null && e.querySelector('svg.marks, canvas.marks') !== null; });
  const images = [...document.images];
  return {drawn,
          broken: images.filter(i => i.complete && i.naturalWidth === 0).map(i => (i.getAttribute('src') || '')),
          loading: images.filter(i => !i.complete).length};
})()"""


def find_chromium() -> str | None:
    """CHROMIUM if set, else the first Chrome or Chromium on PATH."""
    if os.environ.get("CHROMIUM"):
        return shutil.which(os.environ["CHROMIUM"])
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


class BrowserError(RuntimeError):
    pass


class Browser:
    """Headless Chromium driven over --remote-debugging-pipe (fd 3: commands in, fd 4: answers and events out)."""

    def __init__(self, chromium: str, profile: str, timeout: float) -> None:
        self.timeout = timeout
        self.refusing = socket.socket()  # bound, never listening: every connection to it is refused
        self.refusing.bind(("127.0.0.1", 0))
        command = [
            chromium,
            "--headless",
            "--remote-debugging-pipe",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            f"--user-data-dir={profile}",
            f"--proxy-server=http://127.0.0.1:{self.refusing.getsockname()[1]}",
            "--proxy-bypass-list=<-loopback>",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--no-first-run",
            "--no-default-browser-check",
            "about:blank",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox (CI containers)
        chrome_reads, self._write = os.pipe()
        self._read, chrome_writes = os.pipe()

        def pipes_on_3_and_4() -> None:
            os.dup2(chrome_reads, 3)
            os.dup2(chrome_writes, 4)

        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - Chromium's stderr, closed in close()
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
            pass_fds=(3, 4),
            preexec_fn=pipes_on_3_and_4,
        )  # noqa: PLW1509 - before our reader thread
        os.close(chrome_reads)
        os.close(chrome_writes)
        self.messages: queue.Queue = queue.Queue()
        self.events: list[dict] = []
        self._next_id = 0
        threading.Thread(target=self._reader, daemon=True).start()

    def _reader(self) -> None:
        buffer = b""
        while chunk := os.read(self._read, 1 << 16):
            buffer += chunk
            *complete, buffer = buffer.split(b"\0")
            for message in complete:
                self.messages.put(json.loads(message))
        self.messages.put(None)

    def _receive(self, deadline: float) -> dict | None:
        try:
            message = self.messages.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            return None
        if message is None:
            raise BrowserError(f"Chromium stopped: {self.last_log_line()}")
        return message

    def send(self, method: str, session: str | None = None, **params) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            answer = self._receive(deadline)
            if answer is None:
                break
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise BrowserError(f"{method}: {answer['error'].get('message')}")
                return answer.get("result", {})
            self.events.append(answer)
        raise BrowserError(f"{method}: no answer from Chromium within {self.timeout:g} s")

    def wait_for(self, method: str, session: str, seconds: float) -> bool:
        """Whether event ``method`` came (or had come) from ``session`` within ``seconds``."""
        if any(event.get("method") == method and event.get("sessionId") == session for event in self.events):
            return True
        deadline = time.monotonic() + seconds
        while (event := self._receive(deadline)) is not None:
            self.events.append(event)
            if event.get("method") == method and event.get("sessionId") == session:
                return True
        return False

    def collect(self, seconds: float) -> None:
        """Keep the events that arrive within ``seconds``."""
        deadline = time.monotonic() + seconds
        while (event := self._receive(deadline)) is not None:
            self.events.append(event)

    def last_log_line(self) -> str:
        self.log.seek(0)
        lines = [line for line in self.log.read().decode(errors="replace").splitlines() if "dbus" not in line]
        return lines[-1] if lines else "no message"

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (BrowserError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for handle in (self._write, self._read):
            try:
                os.close(handle)
            except OSError:
                pass
        self.refusing.close()
        self.log.close()


def check_page(browser: Browser, page: Path, plot_wait: float) -> list[str]:
    """Why ``page`` fails offline; empty when it passes."""
    plots = sorted(set(PLOT_CALL.findall(page.read_text(encoding="utf-8", errors="replace"))))
    target = browser.send("Target.createTarget", url="about:blank")["targetId"]
    session = browser.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    first_event = len(browser.events)
    for domain in ("Page", "Network", "Runtime"):
        browser.send(f"{domain}.enable", session)
    browser.send("Page.navigate", session, url=page.resolve().as_uri())
    problems = [] if browser.wait_for("Page.loadEventFired", session, browser.timeout) else ["the page never loaded"]
    deadline = time.monotonic() + plot_wait
    while True:
        state = browser.send("Runtime.evaluate", session, expression=STATE % json.dumps(plots), returnByValue=True)[
            "result"
        ]["value"]
        settled = len(state["drawn"]) == len(plots) and not state["loading"]
        if settled or time.monotonic() > deadline:
            break
        browser.collect(0.1)
    browser.send("Target.closeTarget", targetId=target)
    events = [event for event in browser.events[first_event:] if event.get("sessionId") == session]
    requested = [
        event["params"]["request"]["url"] for event in events if event.get("method") == "Network.requestWillBeSent"
    ]
    requested += [event["params"]["url"] for event in events if event.get("method") == "Network.webSocketCreated"]
    problems += [
        f"requested {url} over the network" for url in dict.fromkeys(requested) if not url.startswith(LOCAL_SCHEMES)
    ]
    errors = Counter()
    for event in events:
        if event.get("method") == "Runtime.exceptionThrown":
            details = event["params"]["exceptionDetails"]
            message = (details.get("exception") or {}).get("description") or details.get("text", "?")
            errors[message.splitlines()[0]] += 1
    problems += [
        f"JavaScript error: {message}" + (f" ({count} times)" if count > 1 else "") for message, count in errors.items()
    ]
    problems += [
        f"plot #{plot} was not drawn (no <svg> or <canvas> of class 'marks' in it)"
        for plot in plots
        if plot not in state["drawn"]
    ]
    problems += [f"image {source[:80]} did not load" for source in state["broken"]]
    if state["loading"]:
        problems.append(f"{state['loading']} images still loading after {plot_wait:g} s")
    return problems


def check_site(site: Path, chromium: str, plot_wait: float = 15, timeout: float = 30) -> dict[str, list[str]]:
    """Every HTML page under ``site`` -> why it fails offline (empty list: it passes)."""
    with tempfile.TemporaryDirectory(prefix="check-site-") as profile:
        browser = Browser(chromium, profile, timeout)
        try:
            return {
                page.relative_to(site).as_posix(): check_page(browser, page, plot_wait)
                for page in sorted(site.rglob("*.html"))
            }
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("site", type=Path, help="the published folder (`python -m pipeline publish` writes public/)")
    parser.add_argument("--plot-wait", type=float, default=15, help="seconds a page's plots get to draw (default 15)")
    arguments = parser.parse_args(argv)
    chromium = find_chromium()
    if chromium is None:
        print("error: no Chromium or Chrome found (apt-get install chromium, or set CHROMIUM)", file=sys.stderr)
        return 2
    if not arguments.site.is_dir() or not any(arguments.site.rglob("*.html")):
        print(f"error: {arguments.site} holds no HTML page", file=sys.stderr)
        return 2
    try:
        results = check_site(arguments.site, chromium, arguments.plot_wait)
    except BrowserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for page, problems in results.items():
        print(f"{'FAIL' if problems else 'ok'}   {page}")
        for problem in problems:
            print(f"       {problem}")
    failed = sum(1 for problems in results.values() if problems)
    print(f"{len(results) - failed} of {len(results)} pages work offline")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
