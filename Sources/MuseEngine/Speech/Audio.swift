// Audio in: 16 kHz mono float samples from a WAV file read here, or from any other format through
// ffmpeg (Debian's `ffmpeg` package), which voice notes (OGG/Opus) and MP3 need.
import Foundation

public enum AudioError: Error, Sendable, Equatable, CustomStringConvertible {
    case cannotRead(path: String, reason: String)
    /// A WAV file whose header or chunks are not what they claim.
    case badWAV(String)
    case noDecoder(format: String)
    case decoderFailed(status: Int32, output: String)
    case empty
    case tooLong(seconds: Int, limit: Int)

    public var description: String {
        switch self {
        case let .cannotRead(path, reason): "Cannot read audio '\(path)': \(reason)."
        case .badWAV(let why): "Not a readable WAV file: \(why)."
        case .noDecoder(let format):
            "Decoding \(format) audio needs ffmpeg, which is not installed (Debian: apt-get install ffmpeg); WAV files are read without it."
        case let .decoderFailed(status, output):
            "ffmpeg could not decode the audio (exit \(status)): \(output.split(separator: "\n").suffix(3).joined(separator: " "))"
        case .empty: "The audio holds no samples."
        case let .tooLong(seconds, limit): "The audio is \(seconds) s long; at most \(limit) s are transcribed."
        }
    }
}

public enum Audio {
    /// 16 kHz mono samples of an audio file: WAV read directly (PCM 8/16/24/32-bit or float, any
    /// channel count, resampled if not 16 kHz), anything else decoded by ffmpeg.
    public static func samples(path: String) throws(AudioError) -> [Float] {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe) } catch {
            throw .cannotRead(path: path, reason: error.localizedDescription)
        }
        if isWAV(data) { return try wav(data) }
        return try ffmpeg(path: path, format: URL(fileURLWithPath: path).pathExtension.uppercased())
    }

    /// The same for bytes already in memory (an upload): WAV directly, others through a temporary
    /// file handed to ffmpeg. `maxSeconds` stops ffmpeg just past that length: a few megabytes of
    /// compressed speech can hold hours, which would otherwise be decoded whole before the caller
    /// could refuse them.
    public static func samples(data: Data, name: String = "audio", maxSeconds: Int? = nil) throws(AudioError) -> [Float] {
        if isWAV(data) { return try wav(data) }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("muse-audio-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: file) }
        do { try data.write(to: file) } catch { throw .cannotRead(path: file.path, reason: error.localizedDescription) }
        let ext = URL(fileURLWithPath: name).pathExtension
        return try ffmpeg(path: file.path, format: ext.isEmpty ? "this" : ext.uppercased(), maxSeconds: maxSeconds)
    }

    static func isWAV(_ data: Data) -> Bool {
        data.count >= 12 && data.prefix(4).elementsEqual("RIFF".utf8) && data.dropFirst(8).prefix(4).elementsEqual("WAVE".utf8)
    }

    /// Parses a RIFF/WAVE file. Sizes are checked against the bytes present; a data chunk that
    /// claims more than the file holds (a stream's placeholder size) is read to the end.
    static func wav(_ data: Data) throws(AudioError) -> [Float] {
        let bytes = [UInt8](data)
        func u16(_ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 }
        func u32(_ at: Int) -> Int { u16(at) | u16(at + 2) << 16 }
        var pos = 12
        var format: (tag: Int, channels: Int, rate: Int, bits: Int)?
        while pos + 8 <= bytes.count {
            let id = String(decoding: bytes[pos..<(pos + 4)], as: UTF8.self), size = u32(pos + 4)
            let body = pos + 8
            if id == "fmt " {
                guard size >= 16, body + 16 <= bytes.count else { throw .badWAV("the fmt chunk at offset \(pos) is too short") }
                var tag = u16(body)
                if tag == 0xFFFE, size >= 40, body + 40 <= bytes.count { tag = u16(body + 24) }  // WAVE_FORMAT_EXTENSIBLE
                format = (tag, u16(body + 2), u32(body + 4), u16(body + 14))
            } else if id == "data" {
                guard let format else { throw .badWAV("the data chunk at offset \(pos) comes before any fmt chunk") }
                let end = min(bytes.count, body + size)
                return try decodePCM(bytes[body..<end], format: format)
            }
            let (next, overflow) = body.addingReportingOverflow(size + (size & 1))
            guard !overflow else { break }
            pos = next
        }
        throw .badWAV("it has no data chunk")
    }

    private static func decodePCM(_ bytes: ArraySlice<UInt8>, format: (tag: Int, channels: Int, rate: Int, bits: Int)) throws(AudioError) -> [Float] {
        let (tag, channels, rate, bits) = format
        guard (1...64).contains(channels) else { throw .badWAV("\(channels) channels") }
        guard (1000...384_000).contains(rate) else { throw .badWAV("a sample rate of \(rate) Hz") }
        let width = bits / 8
        let supported = (tag == 1 && [8, 16, 24, 32].contains(bits)) || (tag == 3 && bits == 32)
        guard supported else { throw .badWAV("format tag \(tag) with \(bits)-bit samples (PCM 8/16/24/32-bit and 32-bit float are read)") }
        let frames = bytes.count / (width * channels)
        guard frames > 0 else { throw .empty }
        var mono = [Float](repeating: 0, count: frames)
        let base = bytes.startIndex
        for f in 0..<frames {
            var sum: Float = 0
            for c in 0..<channels {
                let at = base + (f * channels + c) * width
                switch (tag, bits) {
                case (3, _):
                    let raw = UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24
                    let value = Float(bitPattern: raw)
                    sum += value.isFinite ? value : 0
                case (_, 8): sum += (Float(bytes[at]) - 128) / 128
                case (_, 16): sum += Float(Int16(bitPattern: UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8)) / 32768
                case (_, 24):
                    let raw = Int32(bitPattern: UInt32(bytes[at]) << 8 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 24)
                    sum += Float(raw >> 8) / 8_388_608
                default:
                    let raw = Int32(bitPattern: UInt32(bytes[at]) | UInt32(bytes[at + 1]) << 8 | UInt32(bytes[at + 2]) << 16 | UInt32(bytes[at + 3]) << 24)
                    sum += Float(raw) / 2_147_483_648
                }
            }
            mono[f] = sum / Float(channels)
        }
        return rate == LogMel.sampleRate ? mono : resample(mono, from: rate)
    }

    /// Band-limited resampling to 16 kHz: a Hann-windowed sinc with its cut-off at the lower of the
    /// two Nyquist frequencies.
    static func resample(_ x: [Float], from rate: Int) -> [Float] {
        let target = LogMel.sampleRate
        let ratio = Double(target) / Double(rate)
        let cutoff = min(1, ratio), taps = 16
        let radius = Double(taps) / cutoff
        let count = Int((Double(x.count) * ratio).rounded(.down))
        var y = [Float](repeating: 0, count: count)
        for i in 0..<count {
            let center = Double(i) / ratio
            let lo = max(0, Int((center - radius).rounded(.up))), hi = min(x.count - 1, Int((center + radius).rounded(.down)))
            guard lo <= hi else { continue }
            var sum = 0.0
            for j in lo...hi {
                let d = (Double(j) - center) * cutoff
                let sinc = d == 0 ? 1 : sin(Double.pi * d) / (Double.pi * d)
                let window = 0.5 + 0.5 * cos(Double.pi * d / Double(taps))
                sum += Double(x[j]) * sinc * window
            }
            y[i] = Float(sum * cutoff)
        }
        return y
    }

    /// Decodes with ffmpeg to 16 kHz mono float samples on its standard output.
    static func ffmpeg(path: String, format: String, maxSeconds: Int? = nil) throws(AudioError) -> [Float] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-i", path,
                             "-f", "f32le", "-ac", "1", "-ar", "\(LogMel.sampleRate)"]
            + (maxSeconds.map { ["-t", "\($0 + 1)"] } ?? []) + ["-"]
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch { throw .noDecoder(format: format) }
        // Standard error is drained on its own thread so that neither pipe can fill and stall ffmpeg.
        let complaints = ErrorText()
        let drain = Thread { complaints.set(errors.fileHandleForReading.readDataToEndOfFile()) }
        drain.start()
        let pcm = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = complaints.wait()
        if process.terminationStatus == 127 { throw .noDecoder(format: format) }
        guard process.terminationStatus == 0 else { throw .decoderFailed(status: process.terminationStatus, output: text) }
        let count = pcm.count / 4
        guard count > 0 else { throw .empty }
        return pcm.withUnsafeBytes { raw in
            (0..<count).map { i in
                let value = Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
                return value.isFinite ? value : 0
            }
        }
    }

    /// Text handed from the draining thread.
    private final class ErrorText: @unchecked Sendable {
        private let done = NSCondition()
        private var text: String?

        func set(_ data: Data) {
            done.lock()
            text = String(decoding: data, as: UTF8.self)
            done.signal()
            done.unlock()
        }

        func wait() -> String {
            done.lock()
            defer { done.unlock() }
            while text == nil { done.wait() }
            return text ?? ""
        }
    }
}
