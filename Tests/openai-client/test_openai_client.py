"""The official OpenAI Python client against a running `muse serve` on loopback.

Run by scripts/test (MUSE_BIN names the built binary). Each server is a real process on a free
port; the client is configured as a user would, with only base_url and api_key changed.
"""
import concurrent.futures
import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.request
import warnings

import urllib.error
import jsonschema
import openai
import processes
import pytest

MUSE = os.environ.get("MUSE_BIN", ".build-test/release/muse")
MODEL = "smollm2-135m-instruct"


class Server:
    def __init__(self, *args):
        # The tests run on SmolLM2, the fast model, unless they name another model or backend.
        if "--model" not in args and "--backend" not in args:
            args = ("--model", MODEL, *args)
        self.process = subprocess.Popen([MUSE, "serve", "--port", "0", *args],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.url = None
        deadline = time.time() + 120
        for line in self.process.stderr:
            match = re.search(r"at (http://[0-9.:]+)/v1", line)
            if match:
                self.url = match.group(1)
                break
            if time.time() > deadline:
                break
        assert self.url, "muse serve did not report its address"
        # Keep reading stderr so that the server never blocks on a full pipe.
        threading.Thread(target=lambda: [None for _ in self.process.stderr], daemon=True).start()

    def client(self, key="none", **options):
        return openai.OpenAI(base_url=self.url + "/v1", api_key=key, max_retries=0, timeout=300, **options)

    def stop(self):
        processes.stop(self.process)


@pytest.fixture(scope="module")
def server():
    s = Server()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def client(server):
    return server.client()


QUESTION = [{"role": "user", "content": "Name three colors of the rainbow."}]


def test_plain_completion_is_deterministic_when_greedy(client):
    first = client.chat.completions.create(model=MODEL, messages=QUESTION, temperature=0, max_tokens=24)
    second = client.chat.completions.create(model=MODEL, messages=QUESTION, temperature=0, max_tokens=24)
    choice = first.choices[0]
    assert first.object == "chat.completion" and first.model == MODEL
    assert choice.message.role == "assistant" and choice.message.content
    assert choice.finish_reason in ("stop", "length")
    assert first.usage.prompt_tokens > 0 and 0 < first.usage.completion_tokens <= 24
    assert first.usage.total_tokens == first.usage.prompt_tokens + first.usage.completion_tokens
    assert second.choices[0].message.content == choice.message.content


def test_a_last_assistant_message_is_continued(client):
    asked = client.chat.completions.create(model=MODEL, messages=QUESTION, temperature=0, max_tokens=4)
    started = QUESTION + [{"role": "assistant", "content": "Red"}]
    continued = client.chat.completions.create(model=MODEL, messages=started, temperature=0, max_tokens=4)
    # The prompt is the question's, generation prompt included, plus the started text: no closed
    # message and new generation prompt (five tokens or more) in between.
    assert 1 <= continued.usage.prompt_tokens - asked.usage.prompt_tokens <= 2
    assert continued.choices[0].message.content


def test_stream_matches_whole_answer_and_reports_usage(client):
    whole = client.chat.completions.create(model=MODEL, messages=QUESTION, temperature=0, max_tokens=24)
    chunks = list(client.chat.completions.create(model=MODEL, messages=QUESTION, temperature=0, max_tokens=24,
                                                 stream=True, stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip() == whole.choices[0].message.content
    assert chunks[0].choices[0].delta.role == "assistant"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == [whole.choices[0].finish_reason]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == whole.usage.completion_tokens
    assert all(c.object == "chat.completion.chunk" and c.id == chunks[0].id for c in chunks)


def test_n_gives_that_many_choices(client):
    r = client.chat.completions.create(model=MODEL, messages=QUESTION, n=3, temperature=0.9, seed=11, max_tokens=16)
    assert [c.index for c in r.choices] == [0, 1, 2]
    assert all(c.message.content for c in r.choices)
    # One prompt, three completions: the prompt is counted once, every completion's tokens.
    assert r.usage.prompt_tokens > 0 and r.usage.completion_tokens >= 3


WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def test_tool_call_round_trip(client):
    messages = [{"role": "user", "content": "What is the weather in Paris?"}]
    r = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER], tool_choice="required",
                                       temperature=0, max_tokens=64)
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.type == "function" and call.function.name == "get_weather" and call.id
    arguments = json.loads(call.function.arguments)
    jsonschema.validate(arguments, WEATHER["function"]["parameters"])
    messages += [
        {"role": "assistant", "content": None,
         "tool_calls": [{"id": call.id, "type": "function",
                         "function": {"name": call.function.name, "arguments": call.function.arguments}}]},
        {"role": "tool", "tool_call_id": call.id, "content": "Sunny, 21 degrees Celsius."},
    ]
    # With the result in the conversation the model answers (asking again for the same call is
    # answered from the result already there).
    answer = client.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER], temperature=0, max_tokens=48)
    assert answer.choices[0].message.content
    assert answer.choices[0].finish_reason in ("stop", "length")


def test_streamed_tool_call(client):
    chunks = list(client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Weather in Rome?"}], tools=[WEATHER],
        tool_choice={"type": "function", "function": {"name": "get_weather"}}, temperature=0, max_tokens=64, stream=True))
    calls = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert calls and calls[0].function.name == "get_weather"
    jsonschema.validate(json.loads(calls[0].function.arguments), WEATHER["function"]["parameters"])
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["tool_calls"]


PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 40},
        "age": {"type": "integer", "minimum": 0, "maximum": 150},
        "hobbies": {"type": "array", "items": {"type": "string", "maxLength": 30}, "maxItems": 3},
    },
    "required": ["name", "age", "hobbies"],
}


@pytest.mark.parametrize("prompt", ["Describe a fictional person as JSON.", "A JSON record for a retired teacher."])
def test_json_schema_output_validates(client, prompt):
    r = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": prompt}], temperature=0.7, seed=3, max_tokens=200,
        response_format={"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON}})
    person = json.loads(r.choices[0].message.content)
    jsonschema.validate(person, PERSON)
    # Properties come in the order the schema declares them (not sorted).
    keys = list(person)
    assert len(keys) >= 2 and keys == [k for k in PERSON["properties"] if k in keys]


def test_json_object_output_parses(client):
    # A reply cut by max_tokens is a prefix of JSON; every one that ends by itself is a whole object.
    finished = 0
    for seed in (1, 2, 3):
        r = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Give me a JSON object."}],
                                           temperature=0.7, seed=seed, frequency_penalty=0.5, max_tokens=300,
                                           response_format={"type": "json_object"})
        if r.choices[0].finish_reason == "stop":
            assert isinstance(json.loads(r.choices[0].message.content), dict)
            finished += 1
    assert finished >= 1


def test_logprobs(client):
    r = client.chat.completions.create(model=MODEL, messages=QUESTION, temperature=0, max_tokens=8,
                                       logprobs=True, top_logprobs=3)
    content = r.choices[0].logprobs.content
    assert len(content) == r.usage.completion_tokens
    for entry in content:
        assert entry.logprob <= 0 and len(entry.top_logprobs) == 3
        # Greedy: the chosen token is the most likely one.
        assert entry.top_logprobs[0].logprob == pytest.approx(entry.logprob, abs=1e-4)
    assert "".join(e.token for e in content).strip() == r.choices[0].message.content


def test_contemplating_streams_answer_and_trace(client):
    chunks = list(client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "What is 2 + 2?"}], temperature=0.7, seed=5, max_tokens=48,
        stream=True, extra_body={"muse": {"mode": "contemplating", "agents": 2, "trace": True}}))
    answer = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    trace = [c.model_extra["muse"]["trace"] for c in chunks if c.model_extra and "muse" in c.model_extra]
    assert answer.strip()
    assert {e["agent"] for e in trace if e["type"] == "agent_started"} == {0, 1}
    assert trace[-1]["type"] == "done" and trace[-1]["mode"] == "contemplating"


def test_reasoning_effort_medium_thinks(client):
    r = client.chat.completions.create(model=MODEL, messages=QUESTION, temperature=0, max_tokens=32,
                                       reasoning_effort="medium")
    assert r.choices[0].message.content
    assert r.choices[0].message.model_extra.get("reasoning_content")


def test_text_completions(client):
    r = client.completions.create(model=MODEL, prompt="The sky is", max_tokens=8, temperature=0)
    assert r.object == "text_completion" and r.choices[0].text and r.usage.completion_tokens <= 8
    streamed = "".join(c.choices[0].text for c in client.completions.create(
        model=MODEL, prompt="The sky is", max_tokens=8, temperature=0, stream=True) if c.choices)
    assert streamed == r.choices[0].text


def test_models_and_health(client, server):
    assert [m.id for m in client.models.list().data] == [MODEL]
    with urllib.request.urlopen(server.url + "/health") as response:
        assert json.load(response)["status"] == "ok"


# Errors: the status and the OpenAI error shape.

def raw_post(server, body):
    """(status, parsed JSON body) of a POST sent as is."""
    request = urllib.request.Request(server.url + "/v1/chat/completions", data=body,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def assert_error(response, status):
    code, body = response
    assert code == status
    error = body["error"]
    assert isinstance(error["message"], str) and error["message"] and "type" in error and "code" in error
    return error


def test_bad_json_is_400(server):
    assert_error(raw_post(server, b'{"model": "x", "messages": ['), 400)


def test_bad_fields_are_400(client):
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model=MODEL, messages=[])
    assert e.value.status_code == 400 and e.value.body["param"] == "messages"
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model=MODEL, messages=QUESTION, temperature=7)
    assert e.value.body["param"] == "temperature"
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model=MODEL, messages=QUESTION,
                                       response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "nonsense"}}})
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]}])
    assert "image" in e.value.body["message"]


def test_unknown_model_is_404(client):
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model="gpt-nonexistent", messages=QUESTION)
    assert e.value.body["code"] == "model_not_found"


def test_oversized_body_is_413(server):
    huge = json.dumps({"model": MODEL, "messages": [{"role": "user", "content": "x" * (5 << 20)}]}).encode()
    assert_error(raw_post(server, huge), 413)


def test_api_key_is_required_when_configured():
    s = Server("--api-key", "sk-test-12345678")
    try:
        with pytest.raises(openai.AuthenticationError):
            s.client(key="wrong-key").chat.completions.create(model=MODEL, messages=QUESTION, max_tokens=4)
        assert_error(raw_post(s, json.dumps({"model": MODEL, "messages": QUESTION}).encode()), 401)
        r = s.client(key="sk-test-12345678").chat.completions.create(model=MODEL, messages=QUESTION, max_tokens=4)
        assert r.choices[0].message.content is not None
    finally:
        s.stop()


def test_full_queue_is_429_and_a_disconnect_frees_the_place():
    s = Server("--max-requests", "1")
    try:
        client = s.client()
        # A schema that needs thousands of characters: the model cannot end early.
        story = {"type": "object", "properties": {"story": {"type": "string", "minLength": 20000}}, "required": ["story"]}
        stream = client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "Tell a long story."}], max_tokens=4096, stream=True,
            response_format={"type": "json_schema", "json_schema": {"name": "story", "schema": story}})
        next(iter(stream))  # the first request is generating
        with pytest.raises(openai.RateLimitError) as e:
            client.chat.completions.create(model=MODEL, messages=QUESTION, max_tokens=4)
        assert e.value.status_code == 429
        started = time.time()
        stream.close()  # the client goes away: its generation is cancelled and its place freed
        # Far sooner than the 4096 tokens it was asked for would take.
        deadline = started + 5
        while True:
            try:
                r = client.chat.completions.create(model=MODEL, messages=QUESTION, max_tokens=4)
                break
            except openai.RateLimitError:
                assert time.time() < deadline, "the place of a disconnected client was not freed"
                time.sleep(0.2)
        assert r.choices[0].message.content is not None
    finally:
        s.stop()


def test_concurrent_clients(client):
    def ask(i):
        return client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": f"Count to {i}."}],
                                              max_tokens=16, temperature=0.5, seed=i)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(ask, range(8)))
    assert all(r.choices[0].message.content for r in results)


def metric(text, name, **labels):
    """The value of one sample in a Prometheus text exposition (0 when absent)."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        base, _, rest = key.partition("{")
        if base == name and all(f'{k}="{v}"' in rest for k, v in labels.items()) and (rest or not want):
            return float(value)
    return 0.0


def scrape(server):
    with urllib.request.urlopen(server.url + "/metrics") as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        return response.read().decode()


def test_metrics_count_requests_tokens_and_engine_work(client, server):
    before = scrape(server)
    r = client.chat.completions.create(model=MODEL, messages=QUESTION, temperature=0, max_tokens=12)
    streamed = list(client.chat.completions.create(model=MODEL, messages=QUESTION, temperature=0, max_tokens=12,
                                                   stream=True, stream_options={"include_usage": True}))
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gpt-nonexistent", messages=QUESTION)
    after = scrape(server)
    route = "/v1/chat/completions"
    assert metric(after, "muse_http_requests_total", route=route, status="200") - \
        metric(before, "muse_http_requests_total", route=route, status="200") == 2
    assert metric(after, "muse_http_requests_total", route=route, status="404") - \
        metric(before, "muse_http_requests_total", route=route, status="404") == 1
    generated = r.usage.completion_tokens + streamed[-1].usage.completion_tokens
    assert metric(after, "muse_completion_tokens_total") - metric(before, "muse_completion_tokens_total") == generated
    assert metric(after, "muse_prompt_tokens_total") - metric(before, "muse_prompt_tokens_total") == \
        r.usage.prompt_tokens + streamed[-1].usage.prompt_tokens
    # Latencies: each request is one observation of the whole-request histogram.
    assert metric(after, "muse_http_request_duration_seconds_count", route=route) - \
        metric(before, "muse_http_request_duration_seconds_count", route=route) == 3
    assert metric(after, "muse_time_to_first_token_seconds_count") >= 2
    # The engine: decode steps ran, batches and KV blocks are reported.
    assert metric(after, "muse_engine_steps_total") - metric(before, "muse_engine_steps_total") >= generated - 2
    assert metric(after, "muse_engine_batch_size_max") >= 1
    assert 0 < metric(after, "muse_kv_blocks_in_use") <= metric(after, "muse_kv_blocks_capacity")
    assert metric(after, "muse_requests_in_flight") == 0


def test_sigterm_lets_a_running_stream_finish_then_exits():
    s = Server()
    try:
        client = s.client()
        stream = iter(client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "Tell me a story about a cat."}],
            max_tokens=80, temperature=0, stream=True))
        next(stream)  # generating
        s.process.send_signal(signal.SIGTERM)
        text, finish = "", None
        for chunk in stream:
            if chunk.choices:
                text += chunk.choices[0].delta.content or ""
                finish = chunk.choices[0].finish_reason or finish
        assert finish in ("stop", "length") and text, "the running stream was cut off"
        assert s.process.wait(timeout=60) == 0
        with pytest.raises(openai.APIConnectionError):
            client.chat.completions.create(model=MODEL, messages=QUESTION, max_tokens=2)
    finally:
        s.stop()


SPEECH = os.path.join(os.path.dirname(__file__), "..", "MuseEngineTests", "Fixtures", "speech")
WHISPER = os.environ.get("MUSE_TEST_WHISPER", "")


@pytest.mark.skipif(not os.path.isdir(WHISPER), reason="needs the whisper-base model (MUSE_TEST_WHISPER)")
def test_audio_transcriptions_through_the_client():
    """client.audio.transcriptions.create and translations.create, as OpenAI's users call them: the
    same words faster-whisper hears in the clip, in every response format."""
    with open(os.path.join(SPEECH, "faster-whisper.json")) as f:
        expected = "".join(s["text"] for s in json.load(f)["clip05.wav"]).strip()
    s = Server("--speech-model", WHISPER)
    try:
        client = s.client()
        with open(os.path.join(SPEECH, "clip05.wav"), "rb") as audio:
            result = client.audio.transcriptions.create(model="whisper-1", file=audio)
        assert result.text == expected
        with open(os.path.join(SPEECH, "clip05.wav"), "rb") as audio:
            text = client.audio.transcriptions.create(model="whisper-1", file=audio, response_format="text", language="en")
        assert text.strip() == expected
        with open(os.path.join(SPEECH, "clip05.wav"), "rb") as audio:
            verbose = client.audio.transcriptions.create(model="whisper-1", file=audio, response_format="verbose_json")
        assert verbose.language == "en" and verbose.text == expected and 3 < verbose.duration < 5
        assert verbose.segments[0].start == 0 and verbose.segments[-1].end <= verbose.duration + 1
        with open(os.path.join(SPEECH, "clip05.wav"), "rb") as audio:
            srt = client.audio.transcriptions.create(model="whisper-1", file=audio, response_format="srt")
        assert srt.startswith("1\n00:00:00,000 --> 00:00:0")
        # A translation: French speech as English text, as faster-whisper translates it.
        with open(os.path.join(SPEECH, "faster-whisper.json")) as f:
            english = "".join(s["text"] for s in json.load(f)["fr.wav translate"]).strip()
        with open(os.path.join(SPEECH, "fr.wav"), "rb") as audio, warnings.catch_warnings():
            # The client marks the endpoint deprecated; it is still OpenAI's translation API.
            warnings.simplefilter("ignore", DeprecationWarning)
            translation = client.audio.translations.create(model="whisper-1", file=audio, response_format="verbose_json")
        assert translation.text == english and translation.language == "fr"
        # Not audio, no file, an unknown format or language: 400s that say why.
        with pytest.raises(openai.BadRequestError, match="could not be transcribed"):
            client.audio.transcriptions.create(model="whisper-1", file=("notes.wav", b"RIFF....WAVEjunk"))
        with pytest.raises(openai.BadRequestError, match="response_format"):
            client.audio.transcriptions.create(model="whisper-1", file=("a.wav", b"RIFF"), response_format="xml")
        with pytest.raises(openai.BadRequestError, match="language"):
            client.audio.transcriptions.create(model="whisper-1", file=("a.wav", b"RIFF"), language="xx")
        request = urllib.request.Request(s.url + "/v1/audio/transcriptions", data=b"{}", method="POST",
                                         headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(request, timeout=30)
        assert error.value.code == 400
    finally:
        s.stop()


def test_transcriptions_without_a_speech_model_are_503():
    s = Server("--speech-model", "none")
    try:
        with pytest.raises(openai.InternalServerError) as error:
            s.client().audio.transcriptions.create(model="whisper-1", file=("a.wav", b"RIFF"))
        assert error.value.status_code == 503 and "speech model" in str(error.value)
    finally:
        s.stop()
