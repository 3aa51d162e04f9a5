"""`muse --backend openai` against a running `muse serve`: the remote backend gives what the local
engine gives, runs the modes and the tool loop, and reports failures clearly.

Run by scripts/test (MUSE_BIN names the built binary, MUSE_TEST_MODEL the model file). The server
is a real process on a free port; each command is a real `muse` process.
"""
import http.server
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.request

import pytest

from test_openai_client import MODEL as MODEL_ID, MUSE, Server

MODEL_PATH = os.environ.get("MUSE_TEST_MODEL")
LOCAL = ["--model", MODEL_PATH] if MODEL_PATH else []
QUESTION = "Name three colors of the rainbow."
GREEDY = ["--temperature", "0", "--max-tokens", "24"]


def muse(*args, env=None):
    return subprocess.run([MUSE, *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def server():
    s = Server(*LOCAL)
    yield s
    s.stop()


def remote(server):
    return ["--backend", "openai", "--base-url", server.url + "/v1"]


def test_ask_through_the_server_answers_as_the_local_engine_does(server):
    local = muse("ask", *LOCAL, *GREEDY, QUESTION)
    far = muse("ask", *remote(server), *GREEDY, QUESTION)
    assert local.returncode == 0, local.stderr
    assert far.returncode == 0, far.stderr
    assert far.stdout.strip()
    assert far.stdout == local.stdout


def test_complete_through_the_server_continues_as_the_local_engine_does(server):
    prompt = "The capital of France is"
    local = muse("complete", *LOCAL, *GREEDY, prompt)
    far = muse("complete", *remote(server), *GREEDY, prompt)
    assert local.returncode == 0, local.stderr
    assert far.returncode == 0, far.stderr
    assert len(far.stdout.strip()) > len(prompt)
    assert far.stdout == local.stdout


def test_ask_json_reports_the_servers_usage(server):
    r = muse("ask", *remote(server), *GREEDY, "--json", QUESTION)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["answer"]
    assert out["usage"]["prompt_tokens"] > 0
    assert 0 < out["usage"]["completion_tokens"] <= 24


def test_contemplating_with_three_agents_through_the_server(server):
    r = muse("ask", *remote(server), "--mode", "contemplating", "--agents", "3", "--max-tokens", "32",
             "--json", "What is 2 + 2?")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["mode"] == "contemplating"
    assert len(out["agents"]) == 3
    assert all(agent.get("error") is None for agent in out["agents"]), out["agents"]
    assert out["answer"].strip()


def test_thinking_through_the_server(server):
    r = muse("ask", *remote(server), "--mode", "thinking", "--budget", "32", "--max-tokens", "24", "--json",
             "What is 6 times 7?")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["mode"] == "thinking" and out["answer"].strip()


def test_the_tool_loop_runs_the_servers_tool_calls(server):
    r = muse("ask", *remote(server), "--tools", "calculator", "--tool-choice", "required", "--temperature", "0",
             "--max-tokens", "48", "--json", "What is 12.5% of 3480?")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    calls = out["tool_calls"]
    assert calls and calls[0]["name"] == "calculator"
    assert calls[0]["result"] is not None


def test_models_list_shows_the_servers_models(server):
    r = muse("models", "list", *remote(server), "--json")
    assert r.returncode == 0, r.stderr
    names = [m["name"] for m in json.loads(r.stdout)]
    assert names
    named = muse("ask", *remote(server), "--model", names[0], *GREEDY, QUESTION)
    assert named.returncode == 0, named.stderr


def test_an_unknown_model_is_the_servers_404(server):
    r = muse("ask", *remote(server), "--model", "no-such-model", *GREEDY, QUESTION)
    assert r.returncode != 0
    assert "404" in r.stderr and "no-such-model" in r.stderr


def test_the_api_key_is_sent():
    s = Server(*LOCAL, "--api-key", "sk-remote-test-1234")
    try:
        base = ["--backend", "openai", "--base-url", s.url + "/v1"]
        refused = muse("ask", *base, *GREEDY, QUESTION, env={"MUSE_API_KEY": "", "OPENAI_API_KEY": ""})
        assert refused.returncode != 0
        assert "401" in refused.stderr
        by_option = muse("ask", *base, "--api-key", "sk-remote-test-1234", *GREEDY, QUESTION)
        assert by_option.returncode == 0, by_option.stderr
        by_environment = muse("ask", *base, *GREEDY, QUESTION, env={"MUSE_API_KEY": "sk-remote-test-1234"})
        assert by_environment.returncode == 0, by_environment.stderr
    finally:
        s.stop()


def test_openai_backend_needs_a_base_url():
    r = muse("ask", "--backend", "openai", QUESTION)
    assert r.returncode != 0
    assert "--backend openai needs --base-url" in r.stderr


def test_a_server_that_is_not_there_is_reported_at_once():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.time()
    r = muse("ask", "--backend", "openai", "--base-url", f"http://127.0.0.1:{port}/v1", QUESTION)
    assert r.returncode != 0
    assert "cannot connect to" in r.stderr and "connection refused" in r.stderr
    assert time.time() - start < 15


# A scripted server: each test says what it answers, so that what `muse serve` never sends
# (reasoning fields, structured calls it did not parse itself, CRLF framing, failures) is covered.

class FakeServer:
    """`keep_alive`: streams as llama.cpp's server does: chunked, without `Connection: close`, yet
    the connection is closed just after the stream ends; idle connections are closed after 0.3 s."""

    def __init__(self, reply, keep_alive=False):
        self.reply = reply
        self.requests = []
        self.disconnected = threading.Event()
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 0.3 if keep_alive else None

            def log_message(self, *args):
                pass

            def do_GET(self):
                self.send_json(200, {"object": "list", "data": [{"id": "fake-model", "object": "model"}]})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(body)
                answer = fake.reply(body, len(fake.requests))
                if isinstance(answer, tuple):
                    return self.send_json(*answer)
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding" if keep_alive else "Connection", "chunked" if keep_alive else "close")
                self.end_headers()
                try:
                    for piece in answer:
                        if isinstance(piece, float):
                            time.sleep(piece)
                            continue
                        data = piece.encode()
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data) if keep_alive else data)
                        self.wfile.flush()
                    if keep_alive:
                        self.wfile.write(b"0\r\n\r\n")
                        self.wfile.flush()
                        # Closed a moment later, when the client has taken the connection up again.
                        time.sleep(0.05)
                except (BrokenPipeError, ConnectionResetError):
                    fake.disconnected.set()
                self.close_connection = True

            def send_json(self, status, value):
                data = json.dumps(value).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def args(self):
        return ["--backend", "openai", "--base-url", self.url]

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def chunk(delta=None, finish=None, end="\n\n"):
    return "data: " + json.dumps({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "fake-model",
                                  "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish}]}) + end


USAGE = 'data: {"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 3}}\n\n'


@pytest.fixture
def fake():
    servers = []

    def start(reply, **options):
        servers.append(FakeServer(reply, **options))
        return servers[-1]
    yield start
    for s in servers:
        s.stop()


def test_thinking_shows_the_servers_reasoning_field(fake):
    server = fake(lambda body, n: [": ping\r\n\r\n", chunk({"role": "assistant", "content": ""}, end="\r\n\r\n"),
                                   chunk({"reasoning_content": "Six sevens "}), chunk({"reasoning": "are 42."}),
                                   chunk({"content": "42"}), chunk(finish="stop"), USAGE, "data: [DONE]\n\n"])
    r = muse("ask", *server.args(), "--mode", "thinking", "--json", "What is 6 times 7?")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["reasoning"] == "Six sevens are 42."
    assert out["answer"] == "42"
    assert server.requests[0]["model"] == "fake-model" and server.requests[0]["stream"] is True


def test_the_thinking_budget_stops_the_servers_reasoning(fake):
    def reply(body, n):
        if n == 1:
            return [chunk({"reasoning_content": f"step {i}. "}) for i in range(400)] + [chunk(finish="stop")]
        return [chunk({"content": "Done."}), chunk(finish="stop"), "data: [DONE]\n\n"]
    server = fake(lambda body, n: [p for piece in reply(body, n) for p in (piece, 0.002)])
    r = muse("ask", *server.args(), "--mode", "thinking", "--budget", "5", "--json", "Count.")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["reasoning"].count("step") <= 6
    assert out["answer"] == "Done."
    # The reasoning request was abandoned, and the answer asked for in a turn that sees it.
    assert server.disconnected.wait(10)
    assert len(server.requests) == 2 and "step 0." in json.dumps(server.requests[1]["messages"])


def test_the_tool_loop_runs_structured_calls_and_sends_the_results_back(fake):
    def reply(body, n):
        if n == 1:
            return [chunk({"tool_calls": [{"index": 0, "id": "call_x", "type": "function",
                                           "function": {"name": "calculator", "arguments": ""}}]}),
                    chunk({"tool_calls": [{"index": 0, "function": {"arguments": "{\"expression\": \"17*23\"}"}}]}),
                    chunk(finish="tool_calls"), "data: [DONE]\n\n"]
        return [chunk({"content": "It is 391."}), chunk(finish="stop"), "data: [DONE]\n\n"]
    server = fake(reply)
    r = muse("ask", *server.args(), "--tools", "calculator", "--json", "What is 17 times 23?")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert [(c["name"], c["result"]) for c in out["tool_calls"]] == [("calculator", "391")]
    assert out["answer"] == "It is 391."
    first, second = server.requests
    assert first["tools"][0]["function"]["name"] == "calculator"
    assert second["messages"][-1]["role"] == "tool" and second["messages"][-1]["content"] == "391"
    assert second["messages"][-2]["tool_calls"][0]["function"]["name"] == "calculator"


def test_an_error_status_shows_the_servers_message(fake):
    server = fake(lambda body, n: (503, {"error": {"message": "the model is loading", "type": "server_error"}}))
    r = muse("ask", *server.args(), "Hi")
    assert r.returncode != 0
    assert "503" in r.stderr and "the model is loading" in r.stderr


def test_an_error_event_in_the_stream_ends_the_command_with_its_message(fake):
    server = fake(lambda body, n: [chunk({"content": "Hel"}),
                                   'data: {"error": {"message": "out of memory", "type": "server_error"}}\n\n'])
    r = muse("ask", *server.args(), "Hi")
    assert r.returncode != 0
    assert "out of memory" in r.stderr


def test_a_stream_cut_off_is_an_error_not_an_answer(fake):
    server = fake(lambda body, n: [chunk({"content": "Hel"})])
    r = muse("ask", *server.args(), "Hi")
    assert r.returncode != 0
    assert "closed before the reply was complete" in r.stderr


def answer_every_request(body, n):
    """42 in whatever shape the request asks for: a JSON answer object when it sends a schema."""
    text = '{"answer": "42"}' if body.get("response_format") else "The answer is 42."
    return [chunk({"role": "assistant", "content": ""}), chunk({"content": text}), chunk(finish="stop"), USAGE,
            "data: [DONE]\n\n"]


@pytest.mark.parametrize("mode", ["instant", "thinking", "contemplating"])
def test_requests_back_to_back_survive_a_server_that_closes_its_connections(fake, mode, tmp_path):
    """llama.cpp's server closes a connection after each stream without saying so, and closes idle
    ones after its keep-alive: a request that finds its pooled connection closed goes again on a new one."""
    server = fake(answer_every_request, keep_alive=True)
    questions = tmp_path / "q.jsonl"
    questions.write_text("".join(json.dumps({"question": f"What is {i} plus {42 - i}?", "answer": "42"}) + "\n"
                                 for i in range(12)))
    r = muse("eval", str(questions), *server.args(), "--mode", mode, "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["failed"] == 0, [q.get("error") for q in report["results"] if q.get("error")]
    assert report["correct"] == 12
    assert len(server.requests) >= 12


LLAMA_SERVER = os.environ.get("MUSE_LLAMA_SERVER") or shutil.which("llama-server")


@pytest.mark.skipif(not (LLAMA_SERVER and os.environ.get("MUSE_TEST_QWEN")),
                    reason="needs llama.cpp's llama-server (MUSE_LLAMA_SERVER or on PATH) and MUSE_TEST_QWEN")
def test_every_mode_runs_a_question_set_through_llama_cpps_server(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(tmp_path / "llama-server.log", "w")
    child = subprocess.Popen([LLAMA_SERVER, "--jinja", "-m", os.environ["MUSE_TEST_QWEN"], "--port", str(port),
                              "-t", "2", "-c", "8192", "-np", "4"], stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/v1"
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        evals = os.path.join(os.path.dirname(__file__), "..", "..", "evals", "arithmetic.jsonl")
        for mode in ["instant", "thinking", "contemplating"]:
            r = muse("eval", evals, "--backend", "openai", "--base-url", url, "--mode", mode,
                     "--temperature", "0", "--limit", "10", "--json")
            assert r.returncode == 0, r.stderr
            report = json.loads(r.stdout)
            assert report["failed"] == 0, [q.get("error") for q in report["results"] if q.get("error")]
            assert report["correct"] >= 5, report
    finally:
        child.terminate()
        child.wait(30)


def test_serve_in_front_of_another_server_relays_its_model(server):
    """`muse serve --backend openai`: Muse's API, modes and web chat on another server's model."""
    front = Server("--backend", "openai", "--base-url", server.url + "/v1")
    try:
        client = front.client()
        assert [m.id for m in client.models.list().data] == [MODEL_ID]
        messages = [{"role": "user", "content": QUESTION}]
        direct = server.client().chat.completions.create(model=MODEL_ID, messages=messages, temperature=0, max_tokens=24)
        relayed = client.chat.completions.create(model=MODEL_ID, messages=messages, temperature=0, max_tokens=24)
        assert relayed.choices[0].message.content == direct.choices[0].message.content
        assert relayed.usage.completion_tokens == direct.usage.completion_tokens
        streamed = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
            model=MODEL_ID, messages=messages, temperature=0, max_tokens=24, stream=True) if c.choices)
        assert streamed == direct.choices[0].message.content
        # Contemplating on the front server sends its agents to the one behind it.
        r = client.chat.completions.create(model=MODEL_ID, messages=[{"role": "user", "content": "What is 3 + 4?"}],
                                           max_tokens=32, extra_body={"muse": {"mode": "contemplating", "agents": 3, "trace": True}})
        assert r.choices[0].message.content.strip()
        assert sum(1 for e in r.model_extra["muse"]["trace"] if e["type"] == "agent_started") == 3
    finally:
        front.stop()


def test_serve_with_the_remote_backend_checks_its_options():
    missing = muse("serve", "--backend", "openai", "--port", "0")
    assert missing.returncode != 0 and "--base-url" in missing.stderr
    stray = muse("serve", "--base-url", "http://127.0.0.1:1/v1", "--port", "0")
    assert stray.returncode != 0 and "--backend openai" in stray.stderr
