"""Load: 16 streaming clients at once for 60 seconds against one `muse serve`. Every stream must
end properly ([DONE] after a finish reason), none may fail, and the server's memory afterwards
must be back within 10% of where it stood after a warm-up under the same load.
"""
import concurrent.futures
import os
import time

import pytest

from test_openai_client import MODEL, Server

CLIENTS = 16
SECONDS = float(os.environ.get("MUSE_LOAD_SECONDS", "60"))
PROMPTS = ["Name a fruit.", "Give me a word that rhymes with cat.", "What is 2 + 2?", "Say hello in French.",
           "Name a planet.", "What colour is the sky?", "Suggest a name for a dog.", "Name an ocean."]


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def run(client, worker, until):
    """Streams requests back to back until `until`; returns (completed, tokens, errors)."""
    done, tokens, errors = 0, 0, []
    i = 0
    while time.time() < until:
        i += 1
        try:
            finish, usage, text = None, None, ""
            for chunk in client.chat.completions.create(
                    model=MODEL, messages=[{"role": "user", "content": PROMPTS[(worker + i) % len(PROMPTS)]}],
                    max_tokens=24, temperature=0.7, seed=worker * 1000 + i, stream=True,
                    stream_options={"include_usage": True}):
                if chunk.choices:
                    text += chunk.choices[0].delta.content or ""
                    finish = chunk.choices[0].finish_reason or finish
                if chunk.usage:
                    usage = chunk.usage
            assert finish in ("stop", "length"), f"no finish reason (got {finish!r})"
            assert usage and usage.completion_tokens > 0, "no usage chunk"
            done += 1
            tokens += usage.completion_tokens
        except Exception as e:  # noqa: BLE001 - every failure is reported
            errors.append(f"client {worker}, request {i}: {type(e).__name__}: {e}")
    return done, tokens, errors


def load(server, seconds):
    client = server.client()
    until = time.time() + seconds
    with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
        results = list(pool.map(lambda w: run(client, w, until), range(CLIENTS)))
    return sum(r[0] for r in results), sum(r[1] for r in results), [e for r in results for e in r[2]]


@pytest.fixture(scope="module")
def server():
    # The default admission limit (32), above the client count: a client that sends its next
    # request the moment it reads [DONE] could find its previous place not yet given back, and a
    # 429 there would be the limit working, not a failure under load.
    s = Server()
    yield s
    s.stop()


def test_sixteen_streaming_clients_for_a_minute(server):
    # Warm-up under the same load: the KV cache, the cached prefixes and the allocator's pools
    # reach their working size.
    _, _, errors = load(server, 10)
    assert not errors, errors[:5]
    time.sleep(1)
    start = rss_kib(server.process.pid)
    began = time.time()
    completed, tokens, errors = load(server, SECONDS)
    took = time.time() - began
    time.sleep(1)
    end = rss_kib(server.process.pid)
    print(f"\nload: {CLIENTS} clients, {took:.0f} s, {completed} streams, {tokens} tokens "
          f"({tokens / took:.0f} tok/s aggregate); RSS {start // 1024} MiB -> {end // 1024} MiB")
    assert not errors, errors[:5]
    assert completed >= CLIENTS, "fewer streams completed than there are clients"
    assert end <= start * 1.10, f"memory grew from {start} KiB to {end} KiB"
