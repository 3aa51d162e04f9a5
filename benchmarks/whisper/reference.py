#!/usr/bin/env python3
"""Reference transcripts from faster-whisper, and word error rates, for the Whisper clips.

Runs faster-whisper (CTranslate2, float32, greedy, CPU) on every .wav in a clips directory made by
make_clips.sh, and scores the clipNN.wav transcripts (and long.wav, all sentences in order) against
sentences.txt. With --muse it also scores another engine's transcripts, both against the sentences
and against faster-whisper's.

    python reference.py MODEL_DIR CLIPS_DIR [--out FILE] [--muse MUSE.json] [--only NAME ...]
                        [--muse-bin PATH/TO/muse] [--repeat N]

MUSE.json maps clip file names to text: {"clip01.wav": "The weather is nice today.", ...}
With --muse-bin, `muse transcribe` runs on each clip right after faster-whisper, in the same run and
with the same threads, and both engines' times (the best of --repeat runs; model loading excluded
from both) are compared clip by clip.
Needs: pip install faster-whisper==1.2.1 numpy
"""
import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

from faster_whisper import WhisperModel

TRANSCRIBE_OPTIONS = dict(
    language="en",
    beam_size=1,
    best_of=1,
    temperature=0.0,
    vad_filter=False,
    without_timestamps=False,
    condition_on_previous_text=True,
)


def normalize(text):
    """Lowercase, punctuation removed (apostrophes kept inside words), spaces collapsed."""
    text = re.sub(r"[^\w\s']", " ", text.lower())
    text = re.sub(r"(?<!\w)'|'(?!\w)", " ", text)
    return " ".join(text.split())


def edit_distance(ref, hyp):
    """Word-level Levenshtein distance."""
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev_diag, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev_diag, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev_diag + (r != h))
    return row[-1]


def score(references, hypotheses):
    """WER per file in both dicts, and overall (total edits / total reference words) over clipNN.wav."""
    per_clip, edits, words = {}, 0, 0
    for name in sorted(references.keys() & hypotheses.keys()):
        ref, hyp = normalize(references[name]).split(), normalize(hypotheses[name]).split()
        e = edit_distance(ref, hyp)
        per_clip[name] = {"edits": e, "ref_words": len(ref), "wer": e / max(len(ref), 1)}
        if re.fullmatch(r"clip\d+\.wav", name):
            edits, words = edits + e, words + len(ref)
    return {"overall_clips": edits / max(words, 1), "edits": edits, "ref_words": words, "files": per_clip}


def load_sentences(clips_dir):
    """clipNN.wav -> sentence NN of sentences.txt; long.wav -> all sentences in order."""
    lines = [l.strip() for l in (clips_dir / "sentences.txt").read_text().splitlines() if l.strip()]
    refs = {f"clip{i:02d}.wav": s for i, s in enumerate(lines, 1)}
    refs["long.wav"] = " ".join(lines)
    return refs


def transcribe(model, path):
    start = time.perf_counter()
    segments, info = model.transcribe(str(path), **TRANSCRIBE_OPTIONS)
    segments = list(segments)  # decoding happens while the generator is consumed
    wall = time.perf_counter() - start
    return {
        "text": "".join(s.text for s in segments).strip(),
        "segments": [
            {"start": s.start, "end": s.end, "text": s.text, "tokens": list(s.tokens)}
            for s in segments
        ],
        "wall_seconds": round(wall, 3),
        "audio_seconds": info.duration,  # samples after decoding to 16 kHz / 16000
        "rtf": round(wall / info.duration, 4),
    }


def muse_transcribe(binary, model_dir, path, threads):
    """One `muse transcribe --json` run: its text and its own timings (model loading excluded)."""
    out = subprocess.run([str(binary), "transcribe", str(path), "--json", "--language", "en",
                          "--threads", str(threads), "--model", str(model_dir)],
                         check=True, capture_output=True, text=True).stdout
    report = json.loads(out)
    return {"text": report["text"], "wall_seconds": round(report["timings"]["transcribe_seconds"], 3),
            "timings": report["timings"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_dir", type=Path)
    ap.add_argument("clips_dir", type=Path)
    ap.add_argument("--out", type=Path, help="write the JSON here instead of stdout")
    ap.add_argument("--muse", type=Path, help="JSON of another engine's transcripts to score")
    ap.add_argument("--only", nargs="+", metavar="NAME", help="only these clip files (e.g. long.wav)")
    ap.add_argument("--threads", type=int, default=2, help="threads of both engines (default 2)")
    ap.add_argument("--muse-bin", type=Path, help="a muse binary to run on the same clips in the same run")
    ap.add_argument("--repeat", type=int, default=1, help="runs per clip and engine; the fastest counts")
    args = ap.parse_args()

    t0 = time.perf_counter()
    model = WhisperModel(str(args.model_dir), device="cpu", compute_type="float32",
                         cpu_threads=args.threads, num_workers=1)
    load_seconds = time.perf_counter() - t0

    names = args.only or sorted(p.name for p in args.clips_dir.glob("*.wav"))
    clips, muse_runs = {}, {}
    for name in names:
        runs = [transcribe(model, args.clips_dir / name) for _ in range(args.repeat)]
        clips[name] = min(runs, key=lambda r: r["wall_seconds"])
        print(f"{name}: {clips[name]['wall_seconds']:.2f} s  {clips[name]['text']}", file=sys.stderr)
        if args.muse_bin:
            runs = [muse_transcribe(args.muse_bin, args.model_dir, args.clips_dir / name, args.threads)
                    for _ in range(args.repeat)]
            muse_runs[name] = min(runs, key=lambda r: r["wall_seconds"])
            print(f"{name}: muse {muse_runs[name]['wall_seconds']:.2f} s  {muse_runs[name]['text']}", file=sys.stderr)

    references = load_sentences(args.clips_dir)
    fw_texts = {name: c["text"] for name, c in clips.items()}
    report = {
        "engine": "faster-whisper",
        "model_dir": str(args.model_dir),
        "settings": {"device": "cpu", "compute_type": "float32", "cpu_threads": args.threads,
                     **TRANSCRIBE_OPTIONS},
        "load_seconds": round(load_seconds, 3),
        "clips": clips,
        "wer_vs_sentences": score(references, fw_texts),
    }
    if args.muse_bin:
        fw_total = sum(c["wall_seconds"] for c in clips.values())
        muse_total = sum(m["wall_seconds"] for m in muse_runs.values())
        report["muse_runs"] = {
            name: {**m, "audio_seconds": clips[name]["audio_seconds"],
                   "rtf": round(m["wall_seconds"] / clips[name]["audio_seconds"], 4),
                   "speed_vs_faster_whisper": round(clips[name]["wall_seconds"] / m["wall_seconds"], 3),
                   "same_text": m["text"] == clips[name]["text"]}
            for name, m in muse_runs.items()
        }
        report["speed"] = {"faster_whisper_seconds": round(fw_total, 3), "muse_seconds": round(muse_total, 3),
                           "muse_speed_vs_faster_whisper": round(fw_total / muse_total, 3)}
    if args.muse or args.muse_bin:
        muse = json.loads(args.muse.read_text()) if args.muse else {n: m["text"] for n, m in muse_runs.items()}
        report["muse"] = {
            "transcripts": muse,
            "wer_vs_sentences": score(references, muse),
            "wer_vs_faster_whisper": score(fw_texts, muse),
        }

    text = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    if args.out:
        args.out.write_text(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
