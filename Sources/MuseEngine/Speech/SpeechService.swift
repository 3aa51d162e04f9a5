// The engine's Whisper model behind `SpeechRecognizer`: audio bytes decoded, transcribed on a
// thread of its own (a transcription is seconds of compute, which must not hold one of the few
// threads of Swift's cooperative pool), one at a time.
import Foundation
import MuseCore

public final class SpeechService: SpeechRecognizer {
    public let transcriber: Transcriber
    /// The longest audio taken, in seconds.
    public let maxSeconds: Int

    public init(transcriber: Transcriber, maxSeconds: Int = 3 * 3600) {
        self.transcriber = transcriber
        self.maxSeconds = maxSeconds
    }

    public var languages: [String] { transcriber.languageCodes }

    public func transcribe(audio: Data, fileName: String, language: String?, translate: Bool) async throws -> Transcript {
        let (transcriber, limit) = (transcriber, maxSeconds)
        return try await withCheckedThrowingContinuation { continuation in
            Thread {
                continuation.resume(with: Result { () throws -> Transcript in
                    let samples = try Audio.samples(data: audio, name: fileName, maxSeconds: limit)
                    let seconds = samples.count / LogMel.sampleRate
                    guard seconds <= limit else { throw AudioError.tooLong(seconds: seconds, limit: limit) }
                    return try transcriber.transcribe(samples, language: language, translate: translate)
                })
            }.start()
        }
    }
}
