// Whisper's front end: 16 kHz samples to log-mel frames (25 ms Hann windows every 10 ms, a
// 400-point spectrum, Slaney-scale mel filters), scaled as the model was trained on.
import CMuseKernels
import Foundation

public struct LogMel: Sendable {
    public static let sampleRate = 16_000
    public static let fftSize = 400
    public static let hop = 160
    /// Frames in one 30-second window.
    public static let windowFrames = 3000
    public static let windowSamples = windowFrames * hop

    public let melCount: Int
    static let bins = fftSize / 2 + 1
    /// Rows of the windowed real DFT: cos rows then sin rows, `bins` each, `fftSize` long.
    private let basis: [Float]
    /// Mel filters, `melCount` rows of `bins`.
    private let filters: [Float]

    public init(melCount: Int = 80) {
        self.melCount = melCount
        let n = Self.fftSize, bins = Self.bins
        var basis = [Float](repeating: 0, count: 2 * bins * n)
        for i in 0..<n {
            // The periodic Hann window, folded into the transform.
            let window = 0.5 - 0.5 * cos(2 * Double.pi * Double(i) / Double(n))
            for k in 0..<bins {
                // k * i mod n keeps the angle small, so the table is as exact as the doubles allow.
                let angle = 2 * Double.pi * Double((k * i) % n) / Double(n)
                basis[k * n + i] = Float(window * cos(angle))
                basis[(bins + k) * n + i] = Float(-window * sin(angle))
            }
        }
        self.basis = basis
        filters = Self.melFilters(count: melCount)
    }

    /// Slaney-style mel filters (librosa's defaults, as Whisper uses them), area-normalised.
    static func melFilters(count: Int) -> [Float] {
        let bins = Self.bins
        func hzToMel(_ f: Double) -> Double {
            f < 1000 ? f / (200.0 / 3) : 15 + log(f / 1000) / (log(6.4) / 27)
        }
        func melToHz(_ m: Double) -> Double {
            m < 15 ? m * (200.0 / 3) : 1000 * exp((log(6.4) / 27) * (m - 15))
        }
        let top = hzToMel(Double(sampleRate) / 2)
        let points = (0..<(count + 2)).map { melToHz(top * Double($0) / Double(count + 1)) }
        var filters = [Float](repeating: 0, count: count * bins)
        for m in 0..<count {
            let (left, center, right) = (points[m], points[m + 1], points[m + 2])
            let norm = 2 / (right - left)
            for k in 0..<bins {
                let f = Double(k) * Double(sampleRate) / Double(fftSize)
                let lower = (f - left) / (center - left), upper = (right - f) / (right - center)
                filters[m * bins + k] = Float(max(0, min(lower, upper)) * norm)
            }
        }
        return filters
    }

    /// The log-mel frames of `samples` (16 kHz mono), `melCount` rows of `frames` columns, one
    /// frame per 160 samples. `padding` zero samples are appended first (faster-whisper appends
    /// one hop, so that the last samples get a frame of their own).
    public func frames(of samples: [Float], padding: Int = hop, pool: WorkerPool) -> (values: [Float], frames: Int) {
        let n = Self.fftSize, bins = Self.bins, half = n / 2
        var padded = [Float](repeating: 0, count: samples.count + padding + n)
        // Centred frames: the signal reflected at both ends, as torch.stft(center=True) does.
        let signal = samples + [Float](repeating: 0, count: padding)
        let length = signal.count
        // Reflection needs half + 2 samples; anything shorter has no frame.
        guard length >= half + 2 else { return ([], 0) }
        for i in 0..<length { padded[half + i] = signal[i] }
        for i in 0..<half {
            padded[half - 1 - i] = signal[i + 1]
            padded[half + length + i] = signal[length - 2 - i]
        }
        // 1 + length / hop centred frames; the last is dropped, as Whisper does.
        let frames = length / Self.hop
        var spectrum = [Float](repeating: 0, count: frames * 2 * bins)
        var power = [Float](repeating: 0, count: frames * bins)
        var mel = [Float](repeating: 0, count: frames * melCount)
        padded.withUnsafeBufferPointer { x in
            basis.withUnsafeBufferPointer { w in
                spectrum.withUnsafeMutableBufferPointer { y in
                    let (x, w, y) = (x.baseAddress!, w.baseAddress!, y.baseAddress!)
                    // Frame t starts at sample t * hop of the padded signal: rows `hop` apart.
                    pool.parallelFor(2 * bins, granule: 4) { rows in
                        muse_sgemm(Int64(n), w, Int64(n), Int64(rows.lowerBound), Int64(rows.upperBound),
                                   x, Int64(Self.hop), Int64(frames), y, Int64(2 * bins))
                    }
                }
            }
        }
        for t in 0..<frames {
            for k in 0..<bins {
                let re = spectrum[t * 2 * bins + k], im = spectrum[t * 2 * bins + bins + k]
                power[t * bins + k] = re * re + im * im
            }
        }
        power.withUnsafeBufferPointer { x in
            filters.withUnsafeBufferPointer { w in
                mel.withUnsafeMutableBufferPointer { y in
                    muse_sgemm(Int64(bins), w.baseAddress!, Int64(bins), 0, Int64(melCount),
                               x.baseAddress!, Int64(bins), Int64(frames), y.baseAddress!, Int64(melCount))
                }
            }
        }
        // log10, clamped to 8 (80 dB) below the loudest value, then scaled to about [-1, 1].
        var top = -Float.infinity
        for i in mel.indices {
            mel[i] = log10(max(mel[i], 1e-10))
            top = max(top, mel[i])
        }
        // Transposed to rows of mel bins, as the model's first convolution reads them.
        var values = [Float](repeating: 0, count: melCount * frames)
        for t in 0..<frames {
            for m in 0..<melCount {
                values[m * frames + t] = (max(mel[t * melCount + m], top - 8) + 4) / 4
            }
        }
        return (values, frames)
    }
}
