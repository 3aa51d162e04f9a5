// Reading audio: WAV in every sample format, resampling, and broken files refused cleanly.
import Foundation
import Testing
@testable import MuseEngine

/// A WAV file's bytes: a fmt chunk (and optionally others before data), then the samples.
func wavFile(rate: Int, channels: Int, bits: Int, float: Bool = false, samples: [UInt8], extraChunk: Bool = false) -> [UInt8] {
    func u16(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF)] }
    func u32(_ v: Int) -> [UInt8] { u16(v & 0xFFFF) + u16(v >> 16) }
    var body: [UInt8] = Array("WAVE".utf8)
    body += Array("fmt ".utf8) + u32(16) + u16(float ? 3 : 1) + u16(channels) + u32(rate)
    body += u32(rate * channels * bits / 8) + u16(channels * bits / 8) + u16(bits)
    if extraChunk { body += Array("LIST".utf8) + u32(3) + [1, 2, 3, 0] }
    body += Array("data".utf8) + u32(samples.count) + samples
    return Array("RIFF".utf8) + u32(body.count) + body
}

@Suite struct AudioTests {
    @Test func readsEverySampleFormat() throws {
        let values: [Float] = [0, 0.5, -0.5, 0.25]
        let pcm16 = values.flatMap { v -> [UInt8] in
            let s = UInt16(bitPattern: Int16(v * 32768))
            return [UInt8(s & 0xFF), UInt8(s >> 8)]
        }
        #expect(try Audio.wav(Data(wavFile(rate: 16000, channels: 1, bits: 16, samples: pcm16))) == values)
        #expect(try Audio.wav(Data(wavFile(rate: 16000, channels: 1, bits: 16, samples: pcm16, extraChunk: true))) == values)
        let pcm8 = values.map { UInt8(Int($0 * 128) + 128) }
        #expect(try Audio.wav(Data(wavFile(rate: 16000, channels: 1, bits: 8, samples: pcm8))) == values)
        let pcm24 = values.flatMap { v -> [UInt8] in
            let s = UInt32(bitPattern: Int32(v * 8_388_608))
            return [UInt8(s & 0xFF), UInt8((s >> 8) & 0xFF), UInt8((s >> 16) & 0xFF)]
        }
        #expect(try Audio.wav(Data(wavFile(rate: 16000, channels: 1, bits: 24, samples: pcm24))) == values)
        let f32 = values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } }
        #expect(try Audio.wav(Data(wavFile(rate: 16000, channels: 1, bits: 32, float: true, samples: f32))) == values)
        // Stereo is mixed down: the channels' mean.
        let stereo = [Float](arrayLiteral: 0.5, -0.5, 0.25, 0.75).flatMap { v -> [UInt8] in
            let s = UInt16(bitPattern: Int16(v * 32768))
            return [UInt8(s & 0xFF), UInt8(s >> 8)]
        }
        #expect(try Audio.wav(Data(wavFile(rate: 16000, channels: 2, bits: 16, samples: stereo))) == [0, 0.5])
    }

    /// A 440 Hz tone at 44.1 kHz comes out at 16 kHz with its pitch, length and level.
    @Test func resamplesKeepingPitch() throws {
        let rate = 44_100
        let tone = (0..<rate).map { Float(0.5 * sin(2 * Double.pi * 440 * Double($0) / Double(rate))) }
        let pcm = tone.flatMap { v -> [UInt8] in
            let s = UInt16(bitPattern: Int16(v * 32767))
            return [UInt8(s & 0xFF), UInt8(s >> 8)]
        }
        let out = try Audio.wav(Data(wavFile(rate: rate, channels: 1, bits: 16, samples: pcm)))
        #expect(abs(out.count - 16_000) <= 1)
        // Zero crossings over the middle 0.5 s: 440 per second, two per period.
        let middle = out[4000..<12000]
        let crossings = zip(middle, middle.dropFirst()).filter { ($0 < 0) != ($1 < 0) }.count
        #expect(abs(crossings - 440) <= 2)
        let peak = middle.map(abs).max() ?? 0
        #expect(abs(peak - 0.5) < 0.02)
    }

    @Test func brokenFilesAreRefused() {
        let good = wavFile(rate: 16000, channels: 1, bits: 16, samples: [0, 0, 1, 0])
        #expect(throws: AudioError.self) { try Audio.wav(Data(good.prefix(30))) }
        #expect(throws: AudioError.badWAV("it has no data chunk")) { try Audio.wav(Data(good.prefix(36))) }
        #expect(throws: AudioError.empty) { try Audio.wav(Data(wavFile(rate: 16000, channels: 1, bits: 16, samples: []))) }
        #expect(throws: AudioError.self) { try Audio.wav(Data(wavFile(rate: 16000, channels: 0, bits: 16, samples: [0, 0]))) }
        #expect(throws: AudioError.self) { try Audio.wav(Data(wavFile(rate: 7, channels: 1, bits: 16, samples: [0, 0]))) }
        #expect(throws: AudioError.self) { try Audio.wav(Data(wavFile(rate: 16000, channels: 1, bits: 12, samples: [0, 0]))) }
        // A data chunk claiming more than the file holds is read to the end (a stream's header).
        var streamed = good
        streamed.replaceSubrange(40..<44, with: [0xFF, 0xFF, 0xFF, 0xFF])
        #expect((try? Audio.wav(Data(streamed)))?.count == 2)
        // Random corruption: every parse ends.
        var random = SeededRandom(seed: 5)
        for _ in 0..<2000 {
            var bytes = good
            bytes[Int(random.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: random.next())
            _ = try? Audio.wav(Data(bytes))
        }
    }

    @Test func notAudioIsAClearError() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("muse-not-audio-\(UUID().uuidString).ogg")
        try Data("this is not audio".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        do {
            _ = try Audio.samples(path: file.path)
            Issue.record("text was decoded as audio")
        } catch {
            // Without ffmpeg the error says to install it; with it, ffmpeg's complaint.
            #expect(error == .noDecoder(format: "OGG") || { if case .decoderFailed = error { true } else { false } }())
        }
    }
}
