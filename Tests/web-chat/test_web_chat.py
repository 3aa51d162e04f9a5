"""The web chat in headless Chromium, driven over the DevTools protocol: the page loads from
`muse serve`, a message gets a streamed answer, Contemplating shows its agents live, Stop stops, and
a reload shows the conversation kept by the server. Screenshots go to test-output/.
"""
import base64
import itertools
import json
import os
import pathlib
import shutil
import subprocess
import tempfile
import time
import urllib.request

import processes
import pytest
import websocket

sys_path = pathlib.Path(__file__).resolve().parent.parent / "openai-client"
import sys  # noqa: E402
sys.path.insert(0, str(sys_path))
from test_openai_client import Server  # noqa: E402

OUTPUT = pathlib.Path(os.environ.get("MUSE_TEST_OUTPUT", "test-output"))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class Browser:
    """One headless Chromium page, commanded over its DevTools websocket."""

    def __init__(self):
        self.profile = tempfile.mkdtemp(prefix="muse-chromium-")
        self.process = subprocess.Popen(
            [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
             "--window-size=1280,900", f"--user-data-dir={self.profile}", "--remote-debugging-port=0", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = pathlib.Path(self.profile) / "DevToolsActivePort"
        deadline = time.time() + 60
        while not port_file.exists() or not port_file.read_text().strip():
            assert time.time() < deadline, "Chromium did not open its DevTools port"
            time.sleep(0.1)
        port = port_file.read_text().split()[0]
        pages = []
        while not pages:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list") as r:
                pages = [t for t in json.load(r) if t["type"] == "page"]
            time.sleep(0.1)
        self.socket = websocket.create_connection(pages[0]["webSocketDebuggerUrl"], timeout=60)
        self.ids = itertools.count(1)
        self.call("Page.enable")
        self.call("Runtime.enable")

    def call(self, method, **params):
        id = next(self.ids)
        self.socket.send(json.dumps({"id": id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == id:
                assert "error" not in message, message["error"]
                return message.get("result", {})

    def js(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    def wait(self, expression, timeout=120, what=None):
        deadline = time.time() + timeout
        while True:
            value = self.js(expression)
            if value:
                return value
            assert time.time() < deadline, f"timed out waiting for {what or expression}"
            time.sleep(0.1)

    def open(self, url):
        self.call("Page.navigate", url=url)
        self.wait("document.readyState === 'complete' && document.querySelector('#model').textContent !== ''",
                  what="the page to load")

    def send(self, text):
        self.js(f"document.querySelector('#input').value = {json.dumps(text)}; "
                "document.querySelector('#composer').requestSubmit(); true")

    def screenshot(self, name):
        OUTPUT.mkdir(parents=True, exist_ok=True)
        data = self.call("Page.captureScreenshot", format="png")["data"]
        (OUTPUT / name).write_bytes(base64.b64decode(data))

    def close(self):
        self.socket.close()
        processes.stop(self.process)
        shutil.rmtree(self.profile, ignore_errors=True)


@pytest.fixture(scope="module")
def server():
    data = tempfile.mkdtemp(prefix="muse-web-")
    s = Server("--data-dir", data)
    yield s
    s.stop()
    shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM:
        pytest.fail("chromium is not installed (scripts/bootstrap --test installs it)")
    b = Browser()
    yield b
    b.close()


ANSWERS = "[...document.querySelectorAll('.message.assistant .answer')]"
BUSY = "!document.querySelector('#stop').hidden"


def test_chat_in_all_modes_and_the_conversation_is_kept(server, browser):
    browser.open(server.url + "/")
    assert browser.js("document.title") == "Muse"

    # Instant: the answer streams in and ends.
    browser.send("What is the capital of France?")
    browser.wait(f"{ANSWERS}.length === 1 && {ANSWERS}[0].textContent.trim().length > 0", what="streamed text")
    browser.wait(f"!({BUSY}) && !{ANSWERS}[0].classList.contains('pending')", what="the answer to finish")
    first = browser.js(f"{ANSWERS}[0].textContent")
    assert first.strip()

    # Thinking: a reasoning panel and an answer.
    browser.js("document.querySelector('[data-mode=thinking]').click(); true")
    browser.send("Is 17 a prime number?")
    browser.wait(f"!({BUSY}) && {ANSWERS}.length === 2", what="the thinking answer")
    assert browser.js("document.querySelectorAll('.message.assistant')[1].querySelector('details.reasoning') !== null")

    # Contemplating with 3 agents: their cards appear while they work, then one answer.
    browser.js("document.querySelector('[data-mode=contemplating]').click(); "
               "document.querySelector('#agents').value = '3'; true")
    assert browser.js("!document.querySelector('#agents-field').hidden")
    browser.send("What is 3 + 4?")
    browser.wait("document.querySelectorAll('.message.assistant')[2]?.querySelectorAll('.agent').length === 3",
                 what="three agent cards")
    browser.wait(f"!({BUSY})", what="the contemplating answer")
    cards = browser.js("[...document.querySelectorAll('.message.assistant')[2].querySelectorAll('.agent .text')]"
                       ".map(e => e.textContent)")
    assert len(cards) == 3 and all(text.strip() for text in cards)
    assert browser.js(f"{ANSWERS}[2].textContent.trim().length > 0")
    browser.screenshot("web-chat-contemplating.png")

    # A reload shows the conversation as the server kept it, agents included.
    conversation = browser.js("location.hash.slice(1)")
    browser.open(server.url + "/#" + conversation)
    browser.wait("document.querySelectorAll('.message').length === 6", what="the kept conversation")
    assert browser.js(f"{ANSWERS}[0].textContent") == first
    assert browser.js("document.querySelectorAll('.message.assistant')[2].querySelectorAll('.agent').length") == 3
    assert browser.js("document.querySelectorAll('.conversation').length") >= 1


def test_stop_ends_a_reply_and_keeps_what_was_said(server, browser):
    browser.open(server.url + "/")
    browser.js("document.querySelector('#new-chat').click(); "
               "document.querySelector('[data-mode=contemplating]').click(); "
               "document.querySelector('#agents').value = '4'; true")
    browser.send("Write a long story about a dragon who learns to cook.")
    browser.wait("document.querySelectorAll('.agent').length > 0", what="agents to start")
    browser.js("document.querySelector('#stop').click(); true")
    browser.wait(f"!({BUSY})", timeout=30, what="Stop to take effect")
    assert browser.js("document.querySelector('.message.assistant .note')?.textContent") == "Stopped."
    statuses = browser.js("[...document.querySelectorAll('.agent .status')].map(e => e.textContent)")
    assert statuses and "working…" not in statuses, statuses
    # The server kept the stopped reply, marked as such.
    conversation = browser.js("location.hash.slice(1)")
    deadline = time.time() + 10
    while True:
        with urllib.request.urlopen(server.url + "/api/conversations/" + conversation) as r:
            messages = json.load(r)["messages"]
        if len(messages) == 2 or time.time() > deadline:
            break
        time.sleep(0.2)
    assert [m["role"] for m in messages] == ["user", "assistant"] and messages[1]["note"] == "stopped"
    browser.screenshot("web-chat-stopped.png")


def test_errors_are_told_in_words(server, browser):
    browser.open(server.url + "/#no-such-conversation")
    browser.wait("document.querySelector('.error') !== null", what="an error message")
    assert browser.js("document.querySelector('.error').textContent") == "That conversation no longer exists."
