#!/usr/bin/env python3
"""faster-whisper's transcripts of the test clips, the reference the Swift tests compare against.

    python test_fixtures.py MODEL_DIR  # writes Tests/MuseEngineTests/Fixtures/speech/faster-whisper.json

The clips: clip05.wav and clip06.wav come from make_clips.sh; fr.wav is
`espeak-ng -v fr -s 150 "Bonjour, je voudrais réserver une table pour quatre personnes ce soir."`
resampled by `sox -R -D -r 16000 -c 1 -b 16`. Settings: float32, greedy, timestamps on, as in
reference.py. "clip05 x9" is clip05 followed by 0.7 s of silence, nine times (three windows).
Needs: pip install faster-whisper==1.2.1
"""
import json
import sys
from pathlib import Path

import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.audio import decode_audio

FIXTURES = Path(__file__).resolve().parents[2] / "Tests" / "MuseEngineTests" / "Fixtures" / "speech"
OPTIONS = dict(beam_size=1, best_of=1, temperature=0.0, vad_filter=False, without_timestamps=False,
               condition_on_previous_text=True)


def run(model, audio, **options):
    segments, info = model.transcribe(audio, **OPTIONS, **options)
    return [{"start": round(s.start, 2), "end": round(s.end, 2), "text": s.text, "tokens": s.tokens} for s in segments], info


def main():
    model = WhisperModel(sys.argv[1], device="cpu", compute_type="float32", cpu_threads=2)
    out = {}
    for name in ["clip05.wav", "clip06.wav"]:
        out[name], _ = run(model, str(FIXTURES / name), language="en")
    clip = decode_audio(str(FIXTURES / "clip05.wav"))
    out["clip05 x9"], _ = run(model, np.concatenate([np.concatenate([clip, np.zeros(11200, dtype=np.float32)])] * 9), language="en")
    # French, its language detected; and translated into English.
    out["fr.wav"], info = run(model, str(FIXTURES / "fr.wav"))
    assert info.language == "fr", info.language
    out["fr.wav translate"], _ = run(model, str(FIXTURES / "fr.wav"), task="translate")
    (FIXTURES / "faster-whisper.json").write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
