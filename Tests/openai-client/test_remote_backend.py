"""`muse --backend openai` against a running `muse serve`: the remote backend gives what the local
engine gives, runs the modes and the tool loop, and reports failures clearly.

Run by scripts/test (MUSE_BIN names the built binary, MUSE_TEST_MODEL the model file). The server
is a real process on a free port; each command is a real `muse` process.
"""
import json
import os
import socket
import subprocess
import time

import pytest

from test_openai_client import MUSE, Server

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
