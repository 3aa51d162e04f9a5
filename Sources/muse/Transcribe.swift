// `muse transcribe`: speech to text on this machine with a Whisper model.
import ArgumentParser
import Foundation
import MuseEngine

struct Transcribe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Transcribe speech from an audio file (WAV; OGG/Opus, MP3 and others through ffmpeg), or translate it into English.")

    @Argument(help: "The audio file.")
    var file: String

    @Option(name: [.short, .long], help: "A folder holding a CTranslate2 Whisper model, or a known model's name (default: \(KnownModel.defaultSpeech.name)).")
    var model: String?

    @Option(help: "The spoken language's code (en, fr, …); detected from the first 30 s if not given.")
    var language: String?

    @Flag(help: "Give the text in English, whatever the language spoken (Whisper's translation).")
    var translate = false

    @Option(help: "Compute threads (default: the machine's physical cores).")
    var threads: Int?

    @Flag(help: "Print one JSON object {text, language, duration, segments, timings} instead of the text.")
    var json = false

    @Flag(help: "Print each segment's start and end times before its text.")
    var timestamps = false

    func validate() throws {
        if let threads, threads < 1 || threads > 512 { throw ValidationError("--threads must be between 1 and 512") }
    }

    func run() async throws {
        if let problem = KernelPath.applyEnvironmentOverride() { throw ValidationError(problem) }
        let samples = try Audio.samples(path: file)
        let started = Date()
        let transcriber = try Self.load(model, threads: threads)
        let loaded = Date()
        let transcript = try transcriber.transcribe(samples, language: language, translate: translate) { done, total in
            Terminal.status(String(format: "Transcribed %.1f of %.1f s", done, total))
        }
        let seconds = Date().timeIntervalSince(loaded)
        if json {
            try Terminal.json(TranscriptJSON(
                text: transcript.text, language: transcript.language, duration: transcript.duration,
                segments: transcript.segments.map { SegmentJSON(start: $0.start, end: $0.end, text: $0.text) },
                timings: TranscribeTimings(load_seconds: loaded.timeIntervalSince(started), transcribe_seconds: seconds,
                                           real_time_factor: transcript.duration > 0 ? seconds / transcript.duration : 0,
                                           features_seconds: transcript.timings.featureSeconds,
                                           encode_seconds: transcript.timings.encodeSeconds,
                                           decode_seconds: transcript.timings.decodeSeconds,
                                           windows: transcript.timings.windows, decoded_tokens: transcript.timings.tokens)))
        } else if timestamps {
            for segment in transcript.segments {
                Terminal.write(String(format: "[%7.2f → %7.2f] ", segment.start, segment.end)
                               + segment.text.trimmingCharacters(in: .whitespaces) + "\n")
            }
        } else {
            Terminal.write(transcript.text + "\n")
        }
    }

    /// Resolves (fetching the default model on first use) and loads a speech model.
    static func load(_ model: String?, threads: Int?) throws -> Transcriber {
        let folder = try ModelStore().resolve(model ?? KnownModel.defaultSpeech.name) { Terminal.status($0) }
        return try Transcriber(folder: folder, threads: threads ?? WorkerPool.physicalCores)
    }
}

private struct SegmentJSON: Encodable {
    var start: Double
    var end: Double
    var text: String
}

private struct TranscribeTimings: Encodable {
    var load_seconds: Double
    var transcribe_seconds: Double
    var real_time_factor: Double
    var features_seconds: Double
    var encode_seconds: Double
    var decode_seconds: Double
    var windows: Int
    var decoded_tokens: Int
}

private struct TranscriptJSON: Encodable {
    var text: String
    var language: String
    var duration: Double
    var segments: [SegmentJSON]
    var timings: TranscribeTimings
}
