// Whisper base on this engine against faster-whisper (CTranslate2) on the same model and audio:
// the clips in Fixtures/speech and faster-whisper's transcripts of them (float32, greedy, with
// timestamps; see benchmarks/whisper/).
import Foundation
import MuseCore
import Testing
@testable import MuseEngine

@Suite(.serialized, .enabled(if: TestEnvironment.whisperPath != nil, "needs the whisper-base model (muse models fetch whisper-base)"))
struct TranscriberTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/speech")

    struct Reference: Decodable {
        var start: Double
        var end: Double
        var text: String
        var tokens: [Int]
    }

    static let references: [String: [Reference]] = {
        guard let data = try? Data(contentsOf: fixtures.appendingPathComponent("faster-whisper.json")),
              let decoded = try? JSONDecoder().decode([String: [Reference]].self, from: data) else { return [:] }
        return decoded
    }()

    static let transcriber: Transcriber? = TestEnvironment.whisperPath.flatMap { try? Transcriber(folder: $0, threads: 2) }

    func expectSame(_ transcript: Transcript, as name: String) {
        guard let reference = Self.references[name] else {
            Issue.record("no reference for \(name)")
            return
        }
        #expect(transcript.segments.map(\.text) == reference.map(\.text), "\(name)")
        #expect(transcript.segments.map(\.tokens) == reference.map(\.tokens), "\(name)")
        #expect(transcript.segments.map { ($0.start * 100).rounded() } == reference.map { ($0.start * 100).rounded() })
        #expect(transcript.segments.map { ($0.end * 100).rounded() } == reference.map { ($0.end * 100).rounded() })
    }

    @Test(arguments: ["clip05.wav", "clip06.wav"])
    func clipsTranscribeAsFasterWhisperDoes(name: String) async throws {
        let transcriber = try #require(Self.transcriber)
        let samples = try Audio.samples(path: Self.fixtures.appendingPathComponent(name).path)
        let transcript = try await offThePool { try? transcriber.transcribe(samples, language: "en") }
        expectSame(try #require(transcript), as: name)
    }

    /// 41 s of audio: three windows, each started where the last one's final whole segment ended,
    /// with the text before it as the prompt.
    @Test func longAudioGoesWindowByWindow() async throws {
        let transcriber = try #require(Self.transcriber)
        let clip = try Audio.samples(path: Self.fixtures.appendingPathComponent("clip05.wav").path)
        let once = clip + [Float](repeating: 0, count: 11_200)
        let samples = Array([[Float]](repeating: once, count: 9).joined())
        var reports: [Double] = []
        let transcript = try #require(await offThePool { try? transcriber.transcribe(samples, language: "en") })
        expectSame(transcript, as: "clip05 x9")
        #expect(transcript.timings.windows >= 2)
        _ = try transcriber.transcribe(Array(samples.prefix(16_000 * 5)), language: "en") { done, _ in reports.append(done) }
        #expect(abs((reports.last ?? 0) - 5) < 1e-9)
    }

    /// French speech: its language detected, its words as faster-whisper hears them, and
    /// Whisper's translation into English (espeak's French is hard on the base model: the
    /// point is that both engines make the same of it).
    @Test func frenchIsDetectedTranscribedAndTranslated() async throws {
        let transcriber = try #require(Self.transcriber)
        let samples = try Audio.samples(path: Self.fixtures.appendingPathComponent("fr.wav").path)
        let heard = try #require(await offThePool { try? transcriber.transcribe(samples) })
        #expect(heard.language == "fr")
        expectSame(heard, as: "fr.wav")
        let translated = try #require(await offThePool { try? transcriber.transcribe(samples, translate: true) })
        #expect(translated.language == "fr")
        expectSame(translated, as: "fr.wav translate")
    }

    /// An upload longer than the service takes is refused with its length, and ffmpeg stops
    /// decoding just past the limit instead of decoding the whole file first.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/ffmpeg"), "needs ffmpeg"))
    func aTooLongUploadIsRefusedWithoutDecodingItAll() async throws {
        let transcriber = try #require(Self.transcriber)
        let ogg = FileManager.default.temporaryDirectory.appendingPathComponent("muse-long-\(UUID().uuidString).ogg")
        defer { try? FileManager.default.removeItem(at: ogg) }
        let convert = Process()
        convert.executableURL = URL(fileURLWithPath: "/usr/bin/ffmpeg")
        convert.arguments = ["-nostdin", "-loglevel", "error", "-i", Self.fixtures.appendingPathComponent("clip05.wav").path,
                             "-c:a", "libopus", ogg.path]
        try convert.run()
        convert.waitUntilExit()
        let service = SpeechService(transcriber: transcriber, maxSeconds: 2)
        await #expect(throws: AudioError.tooLong(seconds: 3, limit: 2)) {
            try await service.transcribe(audio: try Data(contentsOf: ogg), fileName: "note.ogg", language: "en", translate: false)
        }
    }

    /// English speech is detected as English; silence gives no text; an unknown language is refused.
    @Test func detectsTheLanguageAndHearsNothingInSilence() async throws {
        let transcriber = try #require(Self.transcriber)
        let samples = try Audio.samples(path: Self.fixtures.appendingPathComponent("clip05.wav").path)
        let detected = try #require(await offThePool { try? transcriber.transcribe(samples) })
        #expect(detected.language == "en")
        #expect(detected.text.contains("walked her dog"))
        let silence = try #require(await offThePool { try? transcriber.transcribe([Float](repeating: 0, count: 16_000 * 3), language: "en") })
        // faster-whisper gives no segment either: the no-speech check skips the window.
        #expect(silence.segments.isEmpty, "silence gave \(silence.text)")
        #expect(throws: TranscriberError.self) { try transcriber.transcribe(samples, language: "xx") }
    }
}
