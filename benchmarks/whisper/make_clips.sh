#!/usr/bin/env bash
# Synthesizes the speech clips for the Whisper tests and benchmarks with espeak-ng, deterministically
# (fixed voice and speed, sox in repeatable mode without dither, bit-exact ffmpeg muxing).
#
#   benchmarks/whisper/make_clips.sh [OUT_DIR]     (default /tmp/whisper-clips)
#
# Writes into OUT_DIR:
#   sentences.txt      the reference text, line N belongs to clipNN.wav
#   clip01.wav ...     one sentence each, 16 kHz mono signed 16-bit PCM
#   long.wav           all clips joined with 0.5 s of silence between them (about a minute)
#   speech30.wav       the clips joined the same way until >= 30 s, trimmed to exactly 30.0 s
#   clip01.ogg         clip01 as Opus in Ogg (libopus), for decoder tests
#   clip01.mp3         clip01 as MP3 (libmp3lame), for decoder tests
# Needs espeak-ng, sox and ffmpeg (Debian: apt-get install -y espeak-ng sox ffmpeg).
set -euo pipefail

out="${1:-/tmp/whisper-clips}"
voice=en-us
speed=150   # words per minute
rate=16000

sentences=(
  "The weather is nice today."
  "Please remember to buy milk, eggs and bread on your way home from work this evening."
  "My phone number is five five five, one two three four."
  "The meeting has been moved to three thirty on Thursday afternoon, so please tell the others."
  "She walked her dog around the park twice before breakfast."
  "Can you turn off the lights in the kitchen?"
  "The train to the city leaves every twenty minutes from platform two, except on Sunday mornings."
  "I have been reading a very long book about the history of ships and the people who sailed them across the ocean."
  "Thank you very much."
  "The total comes to forty two dollars and fifty cents, including the tax and the delivery."
  "Our team won the game by seven points last night, and everyone in town was talking about it."
  "Before you leave the house, check that the windows are closed and the back door is locked."
)

mkdir -p "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

printf '%s\n' "${sentences[@]}" > "$out/sentences.txt"

# sox: -R repeatable, -D no dither; output 16 kHz, mono, signed 16-bit.
to_pcm16k() { sox -R -D "$1" -r "$rate" -c 1 -b 16 -e signed-integer "$2"; }

clips=()
for i in "${!sentences[@]}"; do
  name="$(printf 'clip%02d' $((i + 1)))"
  espeak-ng -v "$voice" -s "$speed" -w "$tmp/$name.raw.wav" "${sentences[$i]}"
  to_pcm16k "$tmp/$name.raw.wav" "$out/$name.wav"
  clips+=("$out/$name.wav")
done

# Half a second of silence in the same format, placed between clips.
sox -R -D -n -r "$rate" -c 1 -b 16 -e signed-integer "$tmp/gap.wav" trim 0 0.5

joined=()
for i in "${!clips[@]}"; do
  ((i > 0)) && joined+=("$tmp/gap.wav")
  joined+=("${clips[$i]}")
done
sox -R -D "${joined[@]}" "$out/long.wav"

# speech30: the same sequence, cut as soon as it reaches 30 s, then trimmed to exactly 30.0 s.
parts=()
for i in "${!clips[@]}"; do
  ((i > 0)) && parts+=("$tmp/gap.wav")
  parts+=("${clips[$i]}")
  sox -R -D "${parts[@]}" "$tmp/speech.wav"
  if awk -v d="$(soxi -D "$tmp/speech.wav")" 'BEGIN { exit !(d >= 30) }'; then break; fi
done
sox -R -D "$tmp/speech.wav" "$out/speech30.wav" trim 0 30.0

ff=(ffmpeg -nostdin -loglevel error -y -i "$out/clip01.wav" -map_metadata -1 -fflags +bitexact -flags:a +bitexact)
"${ff[@]}" -c:a libopus -b:a 32k "$out/clip01.ogg"
"${ff[@]}" -c:a libmp3lame -b:a 64k "$out/clip01.mp3"

for f in "$out"/*.wav; do
  printf '%-14s %8.3f s\n' "$(basename "$f")" "$(soxi -D "$f")"
done
