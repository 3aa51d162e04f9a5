// The float kernels of the speech model against plain references, on every path this CPU runs.
import CMuseKernels
import Foundation
import Testing
@testable import MuseEngine

@Suite struct SpeechKernelTests {
    /// Sizes that hit every edge: tails of 8 and 16 lanes, partial tiles of rows and of outputs.
    static let shapes: [(k: Int, rows: Int, inputs: Int)] = [(1, 1, 1), (7, 5, 3), (64, 37, 13), (240, 64, 7), (300, 33, 1), (513, 70, 19)]

    @Test(arguments: KernelPath.supported)
    func dotOrderProductMatchesDoubleReference(path: KernelPath) async {
        var fixture = KernelFixture(seed: 11)
        for (k, rows, inputs) in Self.shapes {
            let w = fixture.floats(rows * k), x = fixture.floats(inputs * k)
            var y = [Float](repeating: .nan, count: inputs * rows)
            await KernelPathGate.shared.switching(to: path) {
                muse_sgemm(Int64(k), w, Int64(k), 0, Int64(rows), x, Int64(k), Int64(inputs), &y, Int64(rows))
            }
            for t in 0..<inputs {
                for r in 0..<rows {
                    let exact = (0..<k).reduce(0.0) { $0 + Double(w[r * k + $1]) * Double(x[t * k + $1]) }
                    #expect(abs(Double(y[t * rows + r]) - exact) <= 1e-5 * Double(k), "k \(k) row \(r) input \(t) on \(path)")
                }
            }
        }
    }

    /// The fp16-weight product gives the bits of the f32 one on the widened weights, and the f32
    /// one gives the same bits whatever number of inputs it multiplies at once.
    @Test(arguments: KernelPath.supported)
    func halfWeightProductIsTheWidenedProduct(path: KernelPath) async {
        var fixture = KernelFixture(seed: 17)
        for (k, rows, inputs) in Self.shapes {
            let halves = fixture.floats(rows * k).map { muse_f32_to_f16($0) }
            let widened = halves.map { muse_f16_to_f32($0) }
            let x = fixture.floats(inputs * k)
            var fromHalves = [Float](repeating: .nan, count: inputs * rows)
            var fromFloats = [Float](repeating: .nan, count: inputs * rows)
            var oneByOne = [Float](repeating: .nan, count: inputs * rows)
            await KernelPathGate.shared.switching(to: path) {
                muse_sgemm_f16(Int64(k), halves, Int64(k), 0, Int64(rows), x, Int64(k), Int64(inputs), &fromHalves, Int64(rows))
                muse_sgemm(Int64(k), widened, Int64(k), 0, Int64(rows), x, Int64(k), Int64(inputs), &fromFloats, Int64(rows))
                for t in 0..<inputs {
                    x.withUnsafeBufferPointer { xb in
                        oneByOne.withUnsafeMutableBufferPointer { yb in
                            muse_sgemm(Int64(k), widened, Int64(k), 0, Int64(rows), xb.baseAddress! + t * k, Int64(k), 1, yb.baseAddress! + t * rows, Int64(rows))
                        }
                    }
                }
            }
            #expect(fromHalves.map(\.bitPattern) == fromFloats.map(\.bitPattern), "k \(k) on \(path)")
            #expect(oneByOne.map(\.bitPattern) == fromFloats.map(\.bitPattern), "batch-invariance, k \(k) on \(path)")
            var reference = [Float](repeating: 0, count: inputs * rows)
            muse_sgemm_f16_reference(Int64(k), halves, Int64(k), 0, Int64(rows), x, Int64(k), Int64(inputs), &reference, Int64(rows))
            for i in reference.indices { #expect(abs(reference[i] - fromHalves[i]) <= 1e-5 * Float(k)) }
        }
    }

    /// The k-major product is one chain of fused multiply-adds per output on every path: the same
    /// bits as the reference, whatever the range of rows and the number of inputs.
    @Test(arguments: KernelPath.supported)
    func kMajorProductIsTheReferenceBitForBit(path: KernelPath) async {
        var fixture = KernelFixture(seed: 12)
        for (k, rows, inputs) in Self.shapes + [(600, 100, 9), (300, 70, 40)] {
            let wt = fixture.floats(k * rows), x = fixture.floats(inputs * k)
            var expected = [Float](repeating: 0, count: inputs * rows)
            muse_sgemm_kn_reference(Int64(k), wt, Int64(rows), 0, Int64(rows), x, Int64(k), Int64(inputs), &expected, Int64(rows))
            for t in 0..<inputs {
                for r in 0..<rows {
                    let exact = (0..<k).reduce(0.0) { $0 + Double(wt[$1 * rows + r]) * Double(x[t * k + $1]) }
                    #expect(abs(Double(expected[t * rows + r]) - exact) <= 1e-5 * Double(k))
                }
            }
            var all = [Float](repeating: .nan, count: inputs * rows)
            var split = [Float](repeating: .nan, count: inputs * rows)
            await KernelPathGate.shared.switching(to: path) {
                muse_sgemm_kn(Int64(k), wt, Int64(rows), 0, Int64(rows), x, Int64(k), Int64(inputs), &all, Int64(rows))
                // Rows in two ranges, inputs one at a time: nothing may change.
                let middle = rows / 2
                for t in 0..<inputs {
                    x.withUnsafeBufferPointer { xb in
                        split.withUnsafeMutableBufferPointer { yb in
                            muse_sgemm_kn(Int64(k), wt, Int64(rows), 0, Int64(middle), xb.baseAddress! + t * k, Int64(k), 1, yb.baseAddress! + t * rows, Int64(rows))
                            muse_sgemm_kn(Int64(k), wt, Int64(rows), Int64(middle), Int64(rows), xb.baseAddress! + t * k, Int64(k), 1, yb.baseAddress! + t * rows, Int64(rows))
                        }
                    }
                }
            }
            #expect(all.map(\.bitPattern) == expected.map(\.bitPattern), "k \(k) rows \(rows) inputs \(inputs) on \(path)")
            #expect(split.map(\.bitPattern) == expected.map(\.bitPattern), "batch-invariance, k \(k) on \(path)")
        }
    }

    @Test(arguments: KernelPath.supported)
    func softmaxMatchesDoubleReference(path: KernelPath) async {
        var fixture = KernelFixture(seed: 13)
        for n in [1, 5, 8, 17, 1500] {
            var x = fixture.floats(n, scale: 20)
            if n > 4 { x[3] = -.infinity }
            let top = x.max()!
            let weights = x.map { exp(Double($0 - top) * 0.125) }
            let total = weights.reduce(0, +)
            await KernelPathGate.shared.switching(to: path) { muse_softmax(&x, Int64(n), 0.125) }
            for i in 0..<n { #expect(abs(Double(x[i]) - weights[i] / total) <= 1e-6, "n \(n) element \(i) on \(path)") }
            if n > 4 { #expect(x[3] == 0, "a masked score has no weight") }
        }
    }

    @Test func layerNormMatchesItsDefinition() {
        var fixture = KernelFixture(seed: 14)
        let n = 512
        let x = fixture.floats(n, scale: 3), gamma = fixture.floats(n), beta = fixture.floats(n)
        var y = [Float](repeating: 0, count: n)
        muse_layernorm(&y, x, gamma, beta, Int64(n), 1e-5)
        let mean = x.reduce(0.0) { $0 + Double($1) } / Double(n)
        let variance = x.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(n)
        for i in 0..<n {
            let expected = (Double(x[i]) - mean) / (variance + 1e-5).squareRoot() * Double(gamma[i]) + Double(beta[i])
            #expect(abs(Double(y[i]) - expected) <= 1e-5)
        }
    }

    @Test(arguments: KernelPath.supported)
    func geluMatchesItsDefinition(path: KernelPath) async {
        var fixture = KernelFixture(seed: 16)
        let x = fixture.floats(1000, scale: 6) + [0, -0.0, 1e-20, -12, 12, 40, -40]
        var g = x
        await KernelPathGate.shared.switching(to: path) { muse_gelu_erf(&g, Int64(x.count)) }
        for i in x.indices {
            let v = Double(x[i])
            let exact = 0.5 * v * (1 + erf(v / 2.0.squareRoot()))
            #expect(abs(Double(g[i]) - exact) <= 1e-6 * max(1, abs(exact)), "gelu(\(x[i])) on \(path)")
        }
    }

    /// The log-mel front end against a direct evaluation: a Hann-windowed DFT in doubles of the
    /// same reflected frames, the same filters, the same scaling.
    @Test func logMelMatchesDirectDFT() {
        let rate = Double(LogMel.sampleRate)
        var fixture = KernelFixture(seed: 15)
        // A chirp under noise, 0.3 s.
        let samples: [Float] = (0..<4800).map { i in
            let t = Double(i) / rate
            return Float(0.5 * sin(2 * Double.pi * (300 + 2000 * t) * t)) + fixture.floats(1, scale: 0.01)[0]
        }
        let mel = LogMel(melCount: 80)
        let (values, frames) = mel.frames(of: samples, pool: WorkerPool(threads: 2))
        #expect(frames == (samples.count + LogMel.hop) / LogMel.hop)
        let signal = samples.map(Double.init) + [Double](repeating: 0, count: LogMel.hop)
        let n = LogMel.fftSize, half = n / 2, bins = n / 2 + 1
        func sample(_ i: Int) -> Double {
            if i < 0 { return signal[-i] }
            if i >= signal.count { return signal[2 * signal.count - 2 - i] }
            return signal[i]
        }
        let filters = LogMel.melFilters(count: 80)
        var logs = [Double](repeating: 0, count: 80 * frames)
        for t in 0..<frames {
            var power = [Double](repeating: 0, count: bins)
            for k in 0..<bins {
                var re = 0.0, im = 0.0
                for j in 0..<n {
                    let w = 0.5 - 0.5 * cos(2 * Double.pi * Double(j) / Double(n))
                    let v = sample(t * LogMel.hop + j - half) * w
                    re += v * cos(2 * Double.pi * Double(k * j) / Double(n))
                    im -= v * sin(2 * Double.pi * Double(k * j) / Double(n))
                }
                power[k] = re * re + im * im
            }
            for m in 0..<80 {
                let energy = (0..<bins).reduce(0.0) { $0 + Double(filters[m * bins + $1]) * power[$1] }
                logs[m * frames + t] = log10(max(energy, 1e-10))
            }
        }
        let top = logs.max()!
        var worst = 0.0
        for i in 0..<logs.count { worst = max(worst, abs((max(logs[i], top - 8) + 4) / 4 - Double(values[i]))) }
        #expect(worst < 1e-3, "largest difference \(worst)")
    }

    /// Audio too short for one reflected frame has none, rather than reading outside the samples.
    @Test func tinyAudioHasNoFrames() {
        let pool = WorkerPool(threads: 1)
        for count in [0, 1, 41] { #expect(LogMel().frames(of: [Float](repeating: 0.1, count: count), pool: pool).frames == 0) }
        #expect(LogMel().frames(of: [Float](repeating: 0.1, count: 42), pool: pool).frames == 1)
    }

    /// The mel filters are librosa's Slaney filters: triangles on the Slaney mel scale whose
    /// areas are equal (each peaks at 2 / its width in Hz).
    @Test func melFiltersAreAreaNormalisedTriangles() {
        let filters = LogMel.melFilters(count: 80), bins = LogMel.fftSize / 2 + 1
        for m in 0..<80 {
            let row = Array(filters[(m * bins)..<((m + 1) * bins)])
            #expect(row.allSatisfy { $0 >= 0 })
            #expect(row.contains { $0 > 0 }, "filter \(m) is empty")
            // Rising then falling: at most one local maximum.
            let peaks = (1..<(bins - 1)).filter { row[$0] > row[$0 - 1] && row[$0] > row[$0 + 1] }
            #expect(peaks.count <= 1)
        }
        // The first filter is centred on 1/81 of the Slaney scale's top: about 40 Hz.
        let first = Array(filters[0..<bins])
        #expect(first.firstIndex(of: first.max()!) == 1)
    }
}
