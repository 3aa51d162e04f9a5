"""The messaging channels end to end: `muse serve` with WhatsApp, Messenger/Instagram and Telegram
switched on, the platforms' APIs played by a fake on loopback that records every reply.

Run by scripts/test (MUSE_BIN names the built binary, MUSE_TEST_MODEL the small model). Deliveries
are signed as Meta and Telegram sign them; what the server kept is read from its SQLite file.
"""
import hashlib
import hmac
import json
import os
import re
import sqlite3
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import processes
import pytest

MUSE = os.environ.get("MUSE_BIN", ".build-test/release/muse")
MODEL = os.environ.get("MUSE_TEST_MODEL", "smollm2-135m-instruct")
WA_SECRET, MS_SECRET, TG_SECRET = "wa-app-secret", "ms-app-secret", "tg-secret_token-1"
TG_TOKEN = "123456:ABC-def"


class FakePlatforms:
    """The Graph API (/graph/...) and the Bot API (/tg/...): records each POST; getUpdates serves
    queued updates to a polling server."""

    def __init__(self):
        self.sent = []
        self.updates = []
        self.polls = 0
        # Voice notes the platforms hold: media id or file id -> bytes.
        self.media = {}
        self.lock = threading.Condition()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                if self.path.endswith("/getUpdates"):
                    with fake.lock:
                        fake.polls += 1
                        offset = body.get("offset", 0)
                        ready = [u for u in fake.updates if u["update_id"] >= offset]
                    if not ready:
                        time.sleep(0.2)
                    answer = {"ok": True, "result": ready}
                else:
                    with fake.lock:
                        fake.sent.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
                        fake.lock.notify_all()
                    answer = {"ok": True, "result": {}} if self.path.startswith("/tg") else {"messages": [{"id": "wamid.out"}]}
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                # Only voice notes are fetched: the Graph API's media URL and the file, with the
                # token; the Bot API's getFile and the file. Every GET is recorded.
                with fake.lock:
                    fake.sent.append({"path": "GET " + self.path, "auth": self.headers.get("Authorization"), "body": {}})
                answer, kind = None, "application/json"
                media = re.fullmatch(r"/graph/([A-Za-z0-9_-]+)", self.path)
                if media and media.group(1) in fake.media and self.headers.get("Authorization") == "Bearer wa-token":
                    answer = json.dumps({"url": fake.base + "/cdn/" + media.group(1), "mime_type": "audio/ogg"}).encode()
                elif self.path.startswith("/cdn/") and self.headers.get("Authorization") == "Bearer wa-token":
                    answer, kind = fake.media.get(self.path[5:]), "audio/ogg"
                elif self.path.startswith(f"/tg/bot{TG_TOKEN}/getFile?file_id="):
                    file_id = self.path.split("=", 1)[1]
                    if file_id in fake.media:
                        answer = json.dumps({"ok": True, "result": {"file_id": file_id, "file_path": "voice/" + file_id + ".oga"}}).encode()
                elif self.path.startswith(f"/tg/file/bot{TG_TOKEN}/voice/"):
                    answer, kind = fake.media.get(self.path.rsplit("/", 1)[1][:-4]), "audio/ogg"
                self.send_response(200 if answer is not None else 404)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(answer or b"")))
                self.end_headers()
                self.wfile.write(answer or b"")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, count, timeout=120):
        """The first `count` replies, once that many have come."""
        deadline = time.time() + timeout
        with self.lock:
            while len(self.sent) < count and time.time() < deadline:
                self.lock.wait(timeout=1)
            return list(self.sent)

    def to(self, recipient):
        with self.lock:
            return [s for s in self.sent if recipient in (s["body"].get("to"), s["body"].get("chat_id"),
                                                          s["body"].get("recipient", {}).get("id"))]


class Server:
    def __init__(self, fake, data, telegram_webhook=True):
        env = dict(os.environ,
                   MUSE_WHATSAPP_VERIFY_TOKEN="verify-me", MUSE_WHATSAPP_APP_SECRET=WA_SECRET,
                   MUSE_WHATSAPP_ACCESS_TOKEN="wa-token", MUSE_WHATSAPP_API_BASE=fake.base + "/graph",
                   MUSE_MESSENGER_VERIFY_TOKEN="verify-ms", MUSE_MESSENGER_APP_SECRET=MS_SECRET,
                   MUSE_MESSENGER_PAGE_TOKEN="page-token", MUSE_MESSENGER_API_BASE=fake.base + "/graph",
                   MUSE_TELEGRAM_BOT_TOKEN=TG_TOKEN, MUSE_TELEGRAM_API_BASE=fake.base + "/tg")
        if telegram_webhook:
            env["MUSE_TELEGRAM_SECRET_TOKEN"] = TG_SECRET
        self.process = subprocess.Popen([MUSE, "serve", "--port", "0", "--model", MODEL, "--data-dir", data,
                                         "--reply-tokens", "16"],
                                        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.url, self.log = None, []
        for line in self.process.stderr:
            self.log.append(line)
            match = re.search(r"at (http://[0-9.:]+)/v1", line)
            if match:
                self.url = match.group(1)
                break
        assert self.url, "muse serve did not start: " + "".join(self.log)
        threading.Thread(target=lambda: [self.log.append(l) for l in self.process.stderr], daemon=True).start()
        self.people = os.path.join(data, "people.sqlite")

    def post(self, path, body, headers=None):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method="POST",
                                         headers={"Content-Type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def get(self, path):
        try:
            with urllib.request.urlopen(self.url + path, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def rows(self, sql, *args):
        with sqlite3.connect(self.people) as db:
            return db.execute(sql, args).fetchall()

    def stop(self):
        processes.stop(self.process)


def signed(body, secret):
    raw = json.dumps(body).encode()
    return raw, {"X-Hub-Signature-256": "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()}


def whatsapp(sender, text, message_id, kind="text", media="MEDIA"):
    message = {"from": sender, "id": message_id, "timestamp": "1700000000", "type": kind}
    message.update({"text": {"body": text}} if kind == "text" else {kind: {"id": media, "mime_type": "image/jpeg"}})
    return {"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550001111", "phone_number_id": "PNID"},
        "contacts": [{"profile": {"name": "Someone"}, "wa_id": sender}], "messages": [message]}}]}]}


def telegram(chat, text, update_id):
    return {"update_id": update_id, "message": {"message_id": update_id, "from": {"id": chat, "is_bot": False, "first_name": "T"},
                                                "chat": {"id": chat, "type": "private"}, "date": 1700000000, "text": text}}


@pytest.fixture(scope="module")
def fake():
    return FakePlatforms()


@pytest.fixture(scope="module")
def server(fake):
    with tempfile.TemporaryDirectory() as data:
        s = Server(fake, data)
        yield s
        s.stop()


def test_handshake_answers_only_the_verify_token(server):
    assert server.get("/channels/whatsapp?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=verify-me") == (200, "1158201444")
    assert server.get("/channels/whatsapp?hub.mode=subscribe&hub.challenge=1&hub.verify_token=wrong")[0] == 403
    assert server.get("/channels/messenger?hub.mode=subscribe&hub.challenge=7&hub.verify_token=verify-ms") == (200, "7")


def test_a_signed_whatsapp_message_is_answered_through_the_graph_api(server, fake):
    raw, headers = signed(whatsapp("15550000001", "Say hello.", "wamid.A1"), WA_SECRET)
    assert server.post("/channels/whatsapp", raw, headers)[0] == 200
    replies = [s for s in fake.wait(1) if s["body"].get("to") == "15550000001"]
    deadline = time.time() + 120
    while not replies and time.time() < deadline:
        time.sleep(0.2)
        replies = fake.to("15550000001")
    assert len(replies) == 1
    reply = replies[0]
    assert reply["path"] == "/graph/PNID/messages" and reply["auth"] == "Bearer wa-token"
    assert reply["body"]["messaging_product"] == "whatsapp" and reply["body"]["type"] == "text"
    assert reply["body"]["text"]["body"].strip()
    kept = server.rows("SELECT role, content FROM message WHERE person = ? ORDER BY id", "whatsapp:15550000001")
    assert kept[0] == ("user", "Say hello.") and kept[1][0] == "assistant"


@pytest.mark.parametrize("headers, status", [
    ({}, 401),
    ({"X-Hub-Signature-256": ""}, 401),
    ({"X-Hub-Signature-256": "sha256=" + "0" * 64}, 403),
    ({"X-Hub-Signature-256": "sha1=abc"}, 403),
])
def test_bad_or_missing_signatures_are_refused_and_nothing_is_kept(server, fake, headers, status):
    body = whatsapp("15550000099", "let me in", f"wamid.BAD{status}{len(headers)}")
    assert server.post("/channels/whatsapp", body, headers)[0] == status
    # A signature made for another body (a replayed header) does not fit this one.
    _, other = signed(whatsapp("15550000099", "something else", "wamid.OTHER"), WA_SECRET)
    assert server.post("/channels/whatsapp", body, other)[0] == 403
    # Signed with the other product's secret.
    raw, wrong = signed(body, MS_SECRET)
    assert server.post("/channels/whatsapp", raw, wrong)[0] == 403
    time.sleep(0.5)
    assert server.rows("SELECT * FROM person WHERE id = 'whatsapp:15550000099'") == []
    assert fake.to("15550000099") == []


def test_malformed_payloads_get_400_and_nothing_is_kept(server, fake):
    for body in [b"{", b"[]", b'{"object": "whatsapp_business_account"}',
                 json.dumps({"object": "whatsapp_business_account", "entry": [{"changes": [{"value": {
                     "metadata": {"phone_number_id": "PNID"}, "messages": [{"from": "15550000098"}]}}]}]}).encode()]:
        signature = {"X-Hub-Signature-256": "sha256=" + hmac.new(WA_SECRET.encode(), body, hashlib.sha256).hexdigest()}
        assert server.post("/channels/whatsapp", body, signature)[0] == 400
    assert server.rows("SELECT * FROM person WHERE id = 'whatsapp:15550000098'") == []


def test_a_redelivered_message_is_answered_once(server, fake):
    raw, headers = signed(whatsapp("15550000002", "Count to three.", "wamid.DUP"), WA_SECRET)
    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(lambda _: server.post("/channels/whatsapp", raw, headers)[0], range(4)))
    assert statuses == [200] * 4
    deadline = time.time() + 120
    while not fake.to("15550000002") and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(2)  # room for a second answer, which must not come
    assert len(fake.to("15550000002")) == 1
    assert server.rows("SELECT COUNT(*) FROM message WHERE person = 'whatsapp:15550000002' AND role = 'user'") == [(1,)]


def test_an_image_gets_a_clear_sentence(server, fake):
    raw, headers = signed(whatsapp("15550000003", None, "wamid.IMG", kind="image"), WA_SECRET)
    assert server.post("/channels/whatsapp", raw, headers)[0] == 200
    deadline = time.time() + 60
    while not fake.to("15550000003") and time.time() < deadline:
        time.sleep(0.1)
    assert "cannot take in this image" in fake.to("15550000003")[0]["body"]["text"]["body"]


SPEECH = os.path.join(os.path.dirname(__file__), "..", "MuseEngineTests", "Fixtures", "speech", "clip05.wav")


def voice_note(path):
    """The clip as a voice note is sent: OGG/Opus, by ffmpeg."""
    return subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-i", path, "-c:a", "libopus", "-b:a", "32k",
                           "-f", "ogg", "-"], check=True, capture_output=True).stdout


@pytest.mark.skipif(not os.path.isdir(os.environ.get("MUSE_TEST_WHISPER", "/nonexistent")), reason="needs the whisper-base model")
def test_a_voice_note_is_transcribed_and_answered(server, fake):
    """A WhatsApp voice note and a Telegram one: downloaded through each platform's media API,
    heard by Whisper, answered as text; the reply quotes what was heard and the kept turn is it."""
    fake.media["VOICE1"] = fake.media["tgvoice"] = voice_note(SPEECH)
    raw, headers = signed(whatsapp("15550000009", None, "wamid.VOICE", kind="audio", media="VOICE1"), WA_SECRET)
    assert server.post("/channels/whatsapp", raw, headers)[0] == 200
    update = telegram(4242, None, 7001)
    del update["message"]["text"]
    update["message"]["voice"] = {"file_id": "tgvoice", "duration": 4, "mime_type": "audio/ogg"}
    assert server.post("/channels/telegram", update, {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET})[0] == 200
    deadline = time.time() + 120
    while (not fake.to("15550000009") or not fake.to(4242)) and time.time() < deadline:
        time.sleep(0.2)
    for reply in (fake.to("15550000009")[0]["body"]["text"]["body"], fake.to(4242)[0]["body"]["text"]):
        assert reply.startswith("“") and "walked her dog around the park" in reply.split("”")[0], reply
    kept = server.rows("SELECT content FROM message WHERE person = ? AND role = 'user'", "whatsapp:15550000009")
    assert len(kept) == 1 and "walked her dog" in kept[0][0]
    with fake.lock:
        gets = [s for s in fake.sent if s["path"].startswith("GET ")]
    assert {g["path"] for g in gets} >= {"GET /graph/VOICE1", "GET /cdn/VOICE1", f"GET /tg/bot{TG_TOKEN}/getFile?file_id=tgvoice",
                                         f"GET /tg/file/bot{TG_TOKEN}/voice/tgvoice.oga"}
    assert all(g["auth"] == "Bearer wa-token" for g in gets if "/tg/" not in g["path"])


def test_statuses_are_acknowledged_and_ignored(server, fake):
    body = {"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"phone_number_id": "PNID"},
        "statuses": [{"id": "wamid.out", "status": "delivered", "recipient_id": "15550000004"}]}}]}]}
    raw, headers = signed(body, WA_SECRET)
    assert server.post("/channels/whatsapp", raw, headers)[0] == 200
    assert server.rows("SELECT * FROM person WHERE id = 'whatsapp:15550000004'") == []


def test_messenger_replies_through_the_send_api(server, fake):
    body = {"object": "page", "entry": [{"id": "PAGE1", "time": 1, "messaging": [
        {"sender": {"id": "PSID9"}, "recipient": {"id": "PAGE1"}, "timestamp": 1, "message": {"mid": "m_1", "text": "Hi!"}}]}]}
    raw, headers = signed(body, MS_SECRET)
    assert server.post("/channels/messenger", raw, headers)[0] == 200
    deadline = time.time() + 120
    while not fake.to("PSID9") and time.time() < deadline:
        time.sleep(0.2)
    reply = fake.to("PSID9")[0]
    assert reply["path"] == "/graph/PAGE1/messages" and reply["auth"] == "Bearer page-token"
    assert reply["body"]["messaging_type"] == "RESPONSE" and reply["body"]["message"]["text"].strip()


def test_telegram_webhook_checks_the_secret_token(server, fake):
    update = telegram(777001, "Hello bot", 5001)
    assert server.post("/channels/telegram", update)[0] == 401
    assert server.post("/channels/telegram", update, {"X-Telegram-Bot-Api-Secret-Token": "wrong"})[0] == 403
    assert server.rows("SELECT * FROM person WHERE id = 'telegram:777001'") == []
    assert server.post("/channels/telegram", update, {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET})[0] == 200
    deadline = time.time() + 120
    while not fake.to(777001) and time.time() < deadline:
        time.sleep(0.2)
    reply = fake.to(777001)[0]
    assert reply["path"] == f"/tg/bot{TG_TOKEN}/sendMessage" and reply["body"]["text"].strip()


def test_forget_removes_everything_of_one_person_and_nothing_of_anyone_else(server, fake):
    secret = {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}
    for chat, text, uid in [(880001, "My name is Ada.", 6001), (880002, "My name is Bob.", 6002)]:
        assert server.post("/channels/telegram", telegram(chat, text, uid), secret)[0] == 200
    deadline = time.time() + 120
    while (not fake.to(880001) or not fake.to(880002)) and time.time() < deadline:
        time.sleep(0.2)
    assert server.post("/channels/telegram", telegram(880001, "/export", 6003), secret)[0] == 200
    while len(fake.to(880001)) < 2 and time.time() < deadline:
        time.sleep(0.1)
    exported = json.loads(fake.to(880001)[1]["body"]["text"])
    assert exported["person"] == "telegram:880001" and exported["messages"][0]["content"] == "My name is Ada."
    assert server.post("/channels/telegram", telegram(880001, "/forget", 6004), secret)[0] == 200
    while len(fake.to(880001)) < 3 and time.time() < deadline:
        time.sleep(0.1)
    assert fake.to(880001)[2]["body"]["text"].startswith("Done: I erased everything")
    for table in ["person WHERE id", "message WHERE person", "delivery WHERE person"]:
        assert server.rows(f"SELECT COUNT(*) FROM {table} = 'telegram:880001'") == [(0,)]
    assert server.rows("SELECT content FROM message WHERE person = 'telegram:880002' AND role = 'user'") == [("My name is Bob.",)]
    with open(server.people, "rb") as f:
        assert b"My name is Ada." not in f.read()


def test_fifty_people_at_once_each_get_their_own_answer(server, fake):
    def send(i):
        raw, headers = signed(whatsapp(f"1777000{i:04d}", f"Hello, I am number {i}.", f"wamid.MANY{i}"), WA_SECRET)
        return server.post("/channels/whatsapp", raw, headers)[0]
    with ThreadPoolExecutor(16) as pool:
        assert list(pool.map(send, range(50))) == [200] * 50
    deadline = time.time() + 300
    while time.time() < deadline and any(not fake.to(f"1777000{i:04d}") for i in range(50)):
        time.sleep(0.5)
    for i in range(50):
        assert len(fake.to(f"1777000{i:04d}")) == 1, f"person {i}"
        kept = server.rows("SELECT content FROM message WHERE person = ? AND role = 'user'", f"whatsapp:1777000{i:04d}")
        assert kept == [(f"Hello, I am number {i}.",)]


def test_telegram_long_polling_without_a_webhook(fake):
    fake.updates = [telegram(990001, "Polled hello", 7001)]
    with tempfile.TemporaryDirectory() as data:
        s = Server(fake, data, telegram_webhook=False)
        try:
            deadline = time.time() + 120
            while not fake.to(990001) and time.time() < deadline:
                time.sleep(0.2)
            assert len(fake.to(990001)) == 1
            assert s.post("/channels/telegram", telegram(990001, "x", 7002))[0] == 404, "no webhook route while polling"
            time.sleep(1)
            assert len(fake.to(990001)) == 1, "an update acknowledged is not taken again"
        finally:
            s.stop()


def test_muse_memory_lists_exports_and_forgets_one_person(server, fake):
    secret = {"X-Telegram-Bot-Api-Secret-Token": TG_SECRET}
    assert server.post("/channels/telegram", telegram(881001, "Remember that I like tea.", 8001), secret)[0] == 200
    assert server.post("/channels/telegram", telegram(881002, "I like coffee.", 8002), secret)[0] == 200
    deadline = time.time() + 120
    while (not fake.to(881001) or not fake.to(881002)) and time.time() < deadline:
        time.sleep(0.2)
    data = os.path.dirname(server.people)

    def memory(*args):
        done = subprocess.run([MUSE, "memory", *args, "--data-dir", data], capture_output=True, text=True, timeout=60)
        return done.returncode, done.stdout, done.stderr
    code, out, _ = memory("list")
    assert code == 0 and "telegram:881001" in out.split() and "telegram:881002" in out.split()
    code, out, _ = memory("export", "--user", "telegram:881001")
    exported = json.loads(out)
    assert code == 0 and exported["messages"][0]["content"] == "Remember that I like tea." and exported["facts"] == []
    code, _, err = memory("forget", "--user", "telegram:881001")
    assert code == 0 and "erased telegram:881001" in err
    assert memory("export", "--user", "telegram:881001")[0] != 0
    assert "telegram:881001" not in memory("list")[1].split()
    assert json.loads(memory("export", "--user", "telegram:881002")[1])["messages"][0]["content"] == "I like coffee."


def test_nothing_leaves_but_replies(server, fake):
    """Every request the server made to the platforms, over all the tests above, was a reply or the
    download of a voice note it was sent."""
    with fake.lock:
        sent = list(fake.sent)
    assert sent, "the tests above sent replies"
    replies = re.compile(r"^/graph/[A-Za-z0-9]+/messages$|^/tg/bot[^/]+/sendMessage$"
                         r"|^GET /graph/VOICE1$|^GET /cdn/VOICE1$|^GET /tg/(file/)?bot[^/]+/(getFile\?file_id=|voice/)tgvoice(\.oga)?$")
    assert [s["path"] for s in sent if not replies.match(s["path"])] == []
