// Speech to text as the front ends see it: a recogniser that turns audio bytes into a transcript.
// The engine's Whisper model is one (`SpeechService` in MuseEngine); tests script others.
import Foundation

/// One stretch of speech: its text and where it lies in the audio.
public struct TranscriptSegment: Sendable, Equatable, Codable {
    public var start: Double
    public var end: Double
    public var text: String
    public var tokens: [Int]

    public init(start: Double, end: Double, text: String, tokens: [Int] = []) {
        self.start = start
        self.end = end
        self.text = text
        self.tokens = tokens
    }
}

public struct Transcript: Sendable, Equatable, Codable {
    /// Where the time went.
    public struct Timings: Sendable, Equatable, Codable {
        public var featureSeconds = 0.0
        public var encodeSeconds = 0.0
        public var decodeSeconds = 0.0
        public var windows = 0
        /// Tokens decoded, the prompts' included.
        public var tokens = 0

        public init() {}
    }

    public var language: String
    /// Seconds of audio.
    public var duration: Double
    public var segments: [TranscriptSegment]
    public var timings = Timings()

    public init(language: String, duration: Double, segments: [TranscriptSegment], timings: Timings = Timings()) {
        self.language = language
        self.duration = duration
        self.segments = segments
        self.timings = timings
    }

    /// The segments' text joined, trimmed.
    public var text: String {
        segments.map(\.text).joined().trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// Turns recorded speech into text.
public protocol SpeechRecognizer: Sendable {
    /// Transcribes `audio`, a whole file's bytes (WAV, OGG/Opus, MP3…; `fileName` hints at the
    /// format). `language` nil detects it; `translate` gives the text in English whatever was spoken.
    func transcribe(audio: Data, fileName: String, language: String?, translate: Bool) async throws -> Transcript
    /// Language codes it accepts.
    var languages: [String] { get }
}
