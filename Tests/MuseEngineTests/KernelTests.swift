// Every kernel path this CPU can run against the scalar reference, and the reference against
// plain float math on dequantized values.
import CMuseKernels
import Foundation
import Testing
@testable import MuseEngine

/// Random weight rows with valid fp16 scales, and float activations.
struct KernelFixture {
    var random: SeededRandom

    init(seed: UInt64) { random = SeededRandom(seed: seed) }

    mutating func floats(_ n: Int, scale: Float = 1) -> [Float] {
        (0..<n).map { _ in (random.nextUnit() * 2 - 1) * scale }
    }

    /// A row of `n` elements of `type`: random quant bytes, scales in a realistic range.
    mutating func weightRow(_ type: Int32, _ n: Int) -> [UInt8] {
        let bytes = muse_row_bytes(type, Int64(n))
        var row = (0..<bytes).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        func putHalf(_ value: Float, at offset: Int) {
            let h = muse_f32_to_f16(value)
            row[offset] = UInt8(h & 0xFF)
            row[offset + 1] = UInt8(h >> 8)
        }
        switch type {
        case MUSE_TYPE_F32:
            let values = floats(n)
            row = values.withUnsafeBytes { Array($0) }
        case MUSE_TYPE_F16:
            for i in 0..<n { putHalf(random.nextUnit() * 2 - 1, at: i * 2) }
        case MUSE_TYPE_Q4_0, MUSE_TYPE_Q8_0:
            let blockBytes = bytes / (n / 32)
            for b in 0..<(n / 32) { putHalf(random.nextUnit() * 0.05 + 0.001, at: b * blockBytes) }
        case MUSE_TYPE_Q4_1:
            for b in 0..<(n / 32) {
                putHalf(random.nextUnit() * 0.05 + 0.001, at: b * 20)
                putHalf(random.nextUnit() * 0.2 - 0.1, at: b * 20 + 2)
            }
        default:
            Issue.record("no fixture for type \(type)")
        }
        return row
    }
}

func dequantize(_ type: Int32, _ bytes: [UInt8], _ n: Int) -> [Float] {
    var out = [Float](repeating: 0, count: n)
    bytes.withUnsafeBytes { src in out.withUnsafeMutableBufferPointer { muse_dequantize_row(type, src.baseAddress, $0.baseAddress, Int64(n)) } }
    return out
}

func quantizeActivation(for type: Int32, _ x: [Float]) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: muse_row_bytes(muse_activation_type(type), Int64(x.count)))
    x.withUnsafeBufferPointer { src in out.withUnsafeMutableBytes { muse_quantize_activation_row(type, src.baseAddress, $0.baseAddress, Int64(x.count)) } }
    return out
}

/// The selected path's dot of a weight row and an activation row against the scalar reference's, in
/// each order, bit for bit.
func expectDotMatchesReference(type: Int32, n: Int, weights w: [UInt8], activations xq: [UInt8], path: KernelPath) {
    for order in KernelOrder.allCases {
        let (fast, reference) = w.withUnsafeBytes { wp in
            xq.withUnsafeBytes { xp in
                (muse_vec_dot_in_order(order.cValue, type, Int64(n), wp.baseAddress, xp.baseAddress),
                 muse_vec_dot_reference_in_order(order.cValue, type, Int64(n), wp.baseAddress, xp.baseAddress))
            }
        }
        #expect(fast.bitPattern == reference.bitPattern, "\(path) \(order) type \(type) n \(n): \(fast) vs \(reference)")
    }
}

let weightTypes: [Int32] = [MUSE_TYPE_F32, MUSE_TYPE_F16, MUSE_TYPE_Q4_0, MUSE_TYPE_Q4_1, MUSE_TYPE_Q8_0]
let rowLengths = [32, 64, 96, 576, 1536, 32 * 37]

@Suite(.serialized) struct KernelTests {
    @Test func blockLayoutsMatchGGML() {
        #expect(MemoryLayout<muse_block_q4_0>.size == 18)
        #expect(MemoryLayout<muse_block_q4_1>.size == 20)
        #expect(MemoryLayout<muse_block_q8_0>.size == 34)
        #expect(MemoryLayout<muse_block_q8_1>.size == 36)
        #expect(muse_row_bytes(MUSE_TYPE_Q4_1, 576) == 18 * 20)
    }

    @Test func halfConversionRoundTripsEveryValue() {
        for bits in 0...UInt16.max {
            let f = muse_f16_to_f32(bits)
            if f.isNaN { continue }
            #expect(muse_f32_to_f16(f) == bits, "half \(bits) -> \(f)")
            #expect(f == Float(Float16(bitPattern: bits)))
        }
        // Rounds to nearest even, overflows to infinity.
        #expect(muse_f32_to_f16(1 + 0x1p-11) == Float16(1).bitPattern)
        #expect(muse_f32_to_f16(70000) == Float16.infinity.bitPattern)
    }

    /// Activation quants follow their formula: q = x * 127 / amax (Q8_0, Q8_1) or x * -127 / the
    /// element of largest magnitude (Q8_K), rounded half to even, exact ties included.
    @Test func activationQuantsRoundHalfToEven() {
        var fixture = KernelFixture(seed: 42)
        var x = fixture.floats(512, scale: 90)
        x[0] = 127 // scale 1 (or -1) for the first block: the halves below are ties
        for j in 1..<32 { x[j] = Float(j) - 16.5 }
        x[300] = -0.75
        x[301] = 45.5
        func expected(_ block: ArraySlice<Float>, scale: (Float) -> Float) -> [Int8] {
            let amax = block.map(abs).max() ?? 0
            let largest = block.first { abs($0) == amax } ?? 0
            let s = amax == 0 ? 0 : scale(largest)
            return block.map { Int8(min(($0 * s).rounded(.toNearestOrEven), 127)) }
        }
        // (weight type, elements per block, bytes per block, offset of the quants, the scale)
        let layouts: [(Int32, Int, Int, Int, (Float) -> Float)] = [
            (MUSE_TYPE_Q4_0, 32, 34, 2, { 127 / abs($0) }),
            (MUSE_TYPE_Q4_1, 32, 36, 4, { 127 / abs($0) }),
            (MUSE_TYPE_Q4_K, 256, MemoryLayout<muse_block_q8_K>.size, 4, { -127 / $0 }),
        ]
        for (type, size, blockBytes, offset, scale) in layouts {
            let q = quantizeActivation(for: type, x)
            for b in 0..<(x.count / size) {
                let got = q[(b * blockBytes + offset)..<(b * blockBytes + offset + size)].map { Int8(bitPattern: $0) }
                #expect(got == expected(x[(b * size)..<((b + 1) * size)], scale: scale), "type \(type) block \(b)")
            }
        }
        let ties = quantizeActivation(for: MUSE_TYPE_Q4_0, x)[2..<34].map { Int8(bitPattern: $0) }
        #expect(ties[1...4] == [-16, -14, -14, -12] && ties[16...18] == [0, 0, 2])
    }

    /// The bandwidth probe sums exactly the whole words it is given.
    @Test func readWordsSumsTheWords() {
        var random = SeededRandom(seed: 9)
        let words = (0..<1027).map { _ in random.next() }
        for count in [0, 1, 3, 4, 5, 1024, 1027] {
            let expected = words.prefix(count).reduce(UInt64(0), &+)
            // A byte count that is not a multiple of 8 leaves out the partial word.
            let got = words.withUnsafeBytes { muse_read_words($0.baseAddress, count * 8 + (count % 3)) }
            #expect(got == expected, "\(count) words")
        }
    }

    /// The reference dot equals the dot of the dequantized rows (what the blocks mean).
    @Test(arguments: weightTypes)
    func referenceDotMatchesDequantizedMath(type: Int32) {
        var fixture = KernelFixture(seed: UInt64(type) + 1)
        for n in rowLengths {
            let w = fixture.weightRow(type, n)
            let xq = quantizeActivation(for: type, fixture.floats(n))
            let wf = dequantize(type, w, n)
            let xf = dequantize(muse_activation_type(type), xq, n)
            let expected = zip(wf, xf).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            let got = w.withUnsafeBytes { wp in xq.withUnsafeBytes { muse_vec_dot_reference(type, Int64(n), wp.baseAddress, $0.baseAddress) } }
            let magnitude = zip(wf, xf).reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) }
            // Tolerance: float accumulation, relative to the sum of magnitudes; Q4_1 adds the rounding
            // of Q8_1's s = d * sum(q) to fp16 (2^-11 relative), multiplied by the block offsets m.
            let tolerance = type == MUSE_TYPE_Q4_1 ? 1e-3 * magnitude : 1e-5 * magnitude + 1e-6
            #expect(abs(Double(got) - expected) <= tolerance, "type \(type) n \(n): \(got) vs \(expected)")
        }
    }

    /// Every path this CPU supports gives the scalar reference's exact bits in each order (they
    /// share one summation order by design).
    @Test(arguments: weightTypes)
    func everyPathMatchesReference(type: Int32) async {
        var fixture = KernelFixture(seed: 100 + UInt64(type))
        for path in KernelPath.supported {
            await KernelPathGate.shared.switching(to: path) {
                for n in rowLengths {
                    let w = fixture.weightRow(type, n)
                    let xq = quantizeActivation(for: type, fixture.floats(n, scale: 3))
                    expectDotMatchesReference(type: type, n: n, weights: w, activations: xq, path: path)
                }
            }
        }
    }

    @Test(arguments: weightTypes)
    func matmulComputesEveryRowAndColumn(type: Int32) {
        var fixture = KernelFixture(seed: 7 + UInt64(type))
        let n = 96, rows = 13, nx = 5
        let w = (0..<rows).flatMap { _ in fixture.weightRow(type, n) }
        let xs = (0..<nx).flatMap { _ in quantizeActivation(for: type, fixture.floats(n)) }
        let wRow = muse_row_bytes(type, Int64(n)), xRow = muse_row_bytes(muse_activation_type(type), Int64(n))
        var y = [Float](repeating: .nan, count: rows * nx)
        w.withUnsafeBytes { wp in
            xs.withUnsafeBytes { xp in
                y.withUnsafeMutableBufferPointer { yp in
                    muse_matmul(type, Int64(n), wp.baseAddress, wRow, 0, Int64(rows), xp.baseAddress, xRow, Int64(nx), yp.baseAddress, Int64(rows))
                }
                for r in 0..<rows {
                    for t in 0..<nx {
                        let expected = muse_vec_dot_reference(type, Int64(n), wp.baseAddress! + r * wRow, xp.baseAddress! + t * xRow)
                        #expect(y[t * rows + r] == expected)
                    }
                }
            }
        }
    }

    /// Activation quantization loses at most half a step per element, plus the rounding of the
    /// step itself to fp16 (2^-11 relative, times at most 127 steps).
    @Test(arguments: [MUSE_TYPE_Q4_0, MUSE_TYPE_Q4_1])
    func activationQuantizationIsWithinHalfAStep(type: Int32) {
        var fixture = KernelFixture(seed: 42)
        let x = fixture.floats(576, scale: 5)
        let back = dequantize(muse_activation_type(type), quantizeActivation(for: type, x), 576)
        for block in 0..<(576 / 32) {
            let slice = x[(block * 32)..<(block * 32 + 32)]
            let step = slice.map(abs).max()! / 127
            for i in slice.indices { #expect(abs(back[i] - x[i]) <= step * (0.5 + 127 * 0x1p-11) + 1e-7) }
        }
        // Q8_1's s is d times the sum of the quants.
        if type == MUSE_TYPE_Q4_1 {
            let q = quantizeActivation(for: type, x)
            q.withUnsafeBytes { raw in
                let block = raw.load(as: muse_block_q8_1.self)
                let sum = withUnsafeBytes(of: block.qs) { $0.reduce(0) { $0 + Int(Int8(bitPattern: $1)) } }
                #expect(abs(muse_f16_to_f32(block.s) - muse_f16_to_f32(block.d) * Float(sum)) <= abs(muse_f16_to_f32(block.s)) * 1e-3 + 1e-6)
            }
        }
    }

    /// Online-softmax attention with fp16 accumulators against softmax(q.k * scale) . v in double,
    /// fed in uneven runs of positions as the block-paged cache feeds it.
    @Test func attentionMatchesSoftmaxOfScores() async {
        var fixture = KernelFixture(seed: 31)
        await KernelPathGate.shared.exclusively {
            let dim = 64, positions = 45, scale: Float = 0.125
            let q = fixture.floats(dim, scale: 2).map { muse_f32_to_f16($0) }
            let k = fixture.floats(dim * positions, scale: 2).map { muse_f32_to_f16($0) }
            let v = fixture.floats(dim * positions).map { muse_f32_to_f16($0) }
            let scores = (0..<positions).map { p in
                (0..<dim).reduce(0.0) { $0 + Double(muse_f16_to_f32(q[$1])) * Double(muse_f16_to_f32(k[p * dim + $1])) } * Double(scale)
            }
            let m = scores.max()!
            let weights = scores.map { exp($0 - m) }
            let total = weights.reduce(0, +)
            let expected = (0..<dim).map { i in (0..<positions).reduce(0.0) { $0 + weights[$1] * Double(muse_f16_to_f32(v[$1 * dim + i])) } / total }
            var outputs: [[Float]] = []
            for path in KernelPath.supported {
                KernelPath.select(path)
                var state = muse_attention_state()
                var acc = [UInt16](repeating: 0, count: dim)
                var out = [Float](repeating: 0, count: dim)
                var start = 0
                for run in [1, 7, 32, 5] where start < positions {
                    let count = min(run, positions - start)
                    k.withUnsafeBufferPointer { kp in
                        v.withUnsafeBufferPointer { vp in
                            if start == 0 { muse_attention_begin(&state, &acc, Int64(dim)) }
                            muse_attention_step(&state, &acc, q, kp.baseAddress! + start * dim, dim, vp.baseAddress! + start * dim, dim,
                                                Int64(count), Int64(dim), Int64(dim), scale)
                        }
                    }
                    start += count
                }
                muse_attention_end(&state, acc, &out, Int64(dim))
                // Tolerance: the accumulator is fp16 (2^-11 relative per update, a few dozen updates).
                for i in 0..<dim { #expect(abs(Double(out[i]) - expected[i]) <= 2e-3, "\(path) dim \(i): \(out[i]) vs \(expected[i])") }
                outputs.append(out)
            }
            #expect(outputs.dropFirst().allSatisfy { $0 == outputs[0] }, "every path gives the same bits")
        }
    }

    /// Many-query attention (f32, causal by position) against softmax(q.k * scale) . v in double,
    /// with positions fed in block-sized runs.
    @Test func manyQueryAttentionMatchesSoftmaxOfScores() async {
        var fixture = KernelFixture(seed: 51)
        await KernelPathGate.shared.exclusively {
            let dim = 64, positions = 100, stride = 3 * dim, scale: Float = 0.125
            let k = fixture.floats(stride * positions, scale: 2).map { muse_f32_to_f16($0) }
            let v = fixture.floats(stride * positions).map { muse_f32_to_f16($0) }
            let queryPositions: [Int64] = [0, 5, 31, 32, 70, 99]
            let queries = queryPositions.map { _ in fixture.floats(dim, scale: 2) }
            for path in KernelPath.supported {
                KernelPath.select(path)
                var maxima = [Float](repeating: -.infinity, count: queries.count)
                var sums = [Float](repeating: 0, count: queries.count)
                var acc = [Float](repeating: 0, count: queries.count * dim)
                var scratch = [Float](repeating: 0, count: 32 * 2 * dim)
                let rows = queries.map { $0.withUnsafeBufferPointer { UnsafePointer($0.baseAddress!) } }
                var start = 0
                while start < positions {
                    let count = min(32, positions - start)
                    // The kv head at offset `dim` inside each row of width `stride`.
                    rows.map { Optional($0) }.withUnsafeBufferPointer { rp in
                        muse_attention_rows_step(Int64(queries.count), rp.baseAddress, queryPositions,
                                                 k.withUnsafeBufferPointer { $0.baseAddress! + start * stride + dim },
                                                 v.withUnsafeBufferPointer { $0.baseAddress! + start * stride + dim },
                                                 stride, Int64(count), Int64(start), Int64(dim), Int64(dim), scale, 0,
                                                 &maxima, &sums, &acc, &scratch)
                    }
                    start += count
                }
                for (i, position) in queryPositions.enumerated() {
                    let visible = Int(position) + 1
                    let scores = (0..<visible).map { p in
                        (0..<dim).reduce(0.0) { $0 + Double(queries[i][$1]) * Double(muse_f16_to_f32(k[p * stride + dim + $1])) } * Double(scale)
                    }
                    let m = scores.max()!
                    let weights = scores.map { exp($0 - m) }
                    let total = weights.reduce(0, +)
                    for d in 0..<dim {
                        let expected = (0..<visible).reduce(0.0) { $0 + weights[$1] * Double(muse_f16_to_f32(v[$1 * stride + dim + d])) } / total
                        let got = Double(acc[i * dim + d] / sums[i])
                        #expect(abs(got - expected) <= 1e-5, "\(path) query \(i) dim \(d): \(got) vs \(expected)")
                    }
                }
            }
        }
    }

    /// ggml's polynomial exp is within 2.5 ulp of the true value (ggml states 1.45 + 0.5).
    @Test func polynomialExpIsAccurate() {
        var x: Float = -87
        while x < 88 {
            let got = Double(muse_expf_ggml(x)), truth = exp(Double(x))
            #expect(abs(got - truth) <= 2.5 * Double(Float(truth).ulp), "x \(x)")
            x += 0.173
        }
        #expect(muse_expf_ggml(-200) == 0)
        #expect(muse_expf_ggml(200) == .infinity)
    }

    /// gate = f(gate) * up: the same bits on every path as on the scalar one (far tails, where exp
    /// overflows or underflows, included), and within `tolerance` of f in double.
    private func checkGatedActivation(seed: UInt64, scale: Float, tail: Float,
                                      _ kernel: (UnsafeMutablePointer<Float>, UnsafePointer<Float>, Int64) -> Void,
                                      reference: (UnsafeMutablePointer<Float>, UnsafePointer<Float>, Int64) -> Void,
                                      exact f: (Double) -> Double, tolerance: Double) async {
        var fixture = KernelFixture(seed: seed)
        await KernelPathGate.shared.exclusively {
            let n = 1539
            var gate = fixture.floats(n, scale: scale), up = fixture.floats(n)
            gate[0] = -tail; gate[1] = tail
            var expected = gate
            reference(&expected, up, Int64(n))
            for path in KernelPath.supported {
                KernelPath.select(path)
                var g = gate
                kernel(&g, up, Int64(n))
                #expect(g == expected, "\(path)")
            }
            for i in 0..<n {
                let exact = f(Double(gate[i])) * Double(up[i])
                #expect(abs(Double(expected[i]) - exact) <= tolerance * max(1, abs(exact)), "x \(gate[i]): \(expected[i]) vs \(exact)")
            }
        }
    }

    /// All 65,536 halves, at every offset of a vector: the same floats on every path as the
    /// scalar conversion (NaNs stay NaNs).
    @Test func halvesConvertExactlyOnEveryPath() async {
        await KernelPathGate.shared.exclusively {
            let halves = (0...UInt16.max).map { $0 }
            var expected = [Float](repeating: 0, count: halves.count)
            muse_f16_to_f32_row_reference(halves, &expected, Int64(halves.count))
            #expect(expected[0x3C00] == 1 && expected[0xC000] == -2 && expected[0x0001] == 0x1p-24 && expected[0x7C00] == .infinity)
            for path in KernelPath.supported {
                KernelPath.select(path)
                for offset in [0, 3] {
                    var out = [Float](repeating: 0, count: halves.count - offset)
                    halves.withUnsafeBufferPointer { muse_f16_to_f32_row($0.baseAddress! + offset, &out, Int64(out.count)) }
                    let wrong = zip(out, expected.dropFirst(offset)).filter { $0.bitPattern != $1.bitPattern && !($0.isNaN && $1.isNaN) }.count
                    #expect(wrong == 0, "\(path), offset \(offset)")
                }
            }
        }
    }

    @Test func swigluIsBitIdenticalOnEveryPathAndCloseToLibm() async {
        await checkGatedActivation(seed: 41, scale: 12, tail: 150, muse_swiglu, reference: muse_swiglu_reference,
                             exact: { $0 / (1 + exp(-$0)) }, tolerance: 1e-6)
    }

    /// GELU computed as x / (1 + exp(-2u)) against ggml's formula, 0.5 x (1 + tanh(u)).
    @Test func gegluIsBitIdenticalOnEveryPathAndCloseToTheTanhForm() async {
        await checkGatedActivation(seed: 43, scale: 8, tail: 60, muse_geglu, reference: muse_geglu_reference,
                             exact: { x in 0.5 * x * (1 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))) },
                             tolerance: 2e-6)
    }

    @Test func elementwiseOpsMatchPlainMath() {
        var fixture = KernelFixture(seed: 11)
        let n = 37
        let x = fixture.floats(n, scale: 4), w = fixture.floats(n)
        var y = [Float](repeating: 0, count: n)
        muse_rmsnorm(&y, x, w, Int64(n), 1e-5)
        let rms = (x.reduce(0) { $0 + $1 * $1 } / Float(n) + 1e-5).squareRoot()
        for i in 0..<n { #expect(abs(y[i] - x[i] / rms * w[i]) <= 1e-5) }

    }

    @Test func ropeRotatesPairsByPositionTimesFrequency() {
        var fixture = KernelFixture(seed: 12)
        let heads = 3, dim = 8, pos = 5
        let base: Float = 10_000, scale: Float = 0.5
        let factors: [Float] = [1, 2, 4, 8]
        let x = fixture.floats(heads * dim)
        var normal = x, neox = x
        muse_rope_norm(&normal, Int64(heads), Int64(dim), Int64(dim), Int64(pos), base, scale, factors)
        muse_rope_neox(&neox, Int64(heads), Int64(dim), Int64(dim), Int64(pos), base, scale, factors)
        for h in 0..<heads {
            for i in 0..<(dim / 2) {
                let theta = Double(pos) * Double(scale) * pow(Double(base), -2 * Double(i) / Double(dim)) / Double(factors[i])
                let (c, s) = (Float(cos(theta)), Float(sin(theta)))
                let a = x[h * dim + 2 * i], b = x[h * dim + 2 * i + 1]
                #expect(abs(normal[h * dim + 2 * i] - (a * c - b * s)) <= 1e-4)
                #expect(abs(normal[h * dim + 2 * i + 1] - (a * s + b * c)) <= 1e-4)
                let a2 = x[h * dim + i], b2 = x[h * dim + i + dim / 2]
                #expect(abs(neox[h * dim + i] - (a2 * c - b2 * s)) <= 1e-4)
                #expect(abs(neox[h * dim + i + dim / 2] - (a2 * s + b2 * c)) <= 1e-4)
            }
        }
    }
}
