// The Q5, K-quant and BF16 kernels: block layouts, dequantization against hand-computed blocks and
// an element-by-element reading of the layouts, Q8_K activations, every path against the scalar
// reference, the reference against double math on dequantized values, and batch invariance.
import CMuseKernels
import Foundation
import Testing
@testable import MuseEngine

/// Where a type's fp16 scale fields sit in its block (ggml-common.h).
struct QuantBlockLayout {
    let elements: Int
    let bytes: Int
    /// Offset of the fp16 `d`.
    let d: Int
    /// Offset of the fp16 `dmin` (K-quants) or `m` (Q5_1), if any.
    let min: Int?

    init?(_ type: Int32) {
        switch type {
        case MUSE_TYPE_Q4_0: (elements, bytes, d, min) = (32, 18, 0, nil)
        case MUSE_TYPE_Q4_1: (elements, bytes, d, min) = (32, 20, 0, 2)
        case MUSE_TYPE_Q8_0: (elements, bytes, d, min) = (32, 34, 0, nil)
        case MUSE_TYPE_Q5_0: (elements, bytes, d, min) = (32, 22, 0, nil)
        case MUSE_TYPE_Q5_1: (elements, bytes, d, min) = (32, 24, 0, 2)
        case MUSE_TYPE_Q2_K: (elements, bytes, d, min) = (256, 84, 80, 82)
        case MUSE_TYPE_Q3_K: (elements, bytes, d, min) = (256, 110, 108, nil)
        case MUSE_TYPE_Q4_K: (elements, bytes, d, min) = (256, 144, 0, 2)
        case MUSE_TYPE_Q5_K: (elements, bytes, d, min) = (256, 176, 0, 2)
        case MUSE_TYPE_Q6_K: (elements, bytes, d, min) = (256, 210, 208, nil)
        default: return nil
        }
    }
}

/// Random rows of the new weight types: random quant bytes with the fp16 scale fields set to
/// small values (random bytes there would make infinities and NaNs).
struct QuantFixture {
    var random: SeededRandom

    init(seed: UInt64) { random = SeededRandom(seed: seed) }

    mutating func floats(_ n: Int, scale: Float = 1) -> [Float] {
        (0..<n).map { _ in (random.nextUnit() * 2 - 1) * scale }
    }

    /// With `powerOfTwoScales`, every scale is 2^-k, so dequantized values are exact in float and
    /// in double whatever the order of the operations.
    mutating func weightRow(_ type: Int32, _ n: Int, powerOfTwoScales: Bool = false) -> [UInt8] {
        var row = (0..<muse_row_bytes(type, Int64(n))).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        func putHalf(_ value: Float, at offset: Int) {
            let h = muse_f32_to_f16(value)
            row[offset] = UInt8(h & 0xFF)
            row[offset + 1] = UInt8(h >> 8)
        }
        if type == MUSE_TYPE_BF16 {
            for i in 0..<n {
                let bits = (random.nextUnit() * 2 - 1).bitPattern >> 16
                row[2 * i] = UInt8(bits & 0xFF)
                row[2 * i + 1] = UInt8(bits >> 8)
            }
            return row
        }
        guard let layout = QuantBlockLayout(type) else {
            Issue.record("no layout for type \(type)")
            return row
        }
        let small: Float = layout.elements == 256 ? 0.01 : 0.05
        for b in 0..<(n / layout.elements) {
            let base = b * layout.bytes
            if powerOfTwoScales {
                putHalf(Float(sign: .plus, exponent: -4 - Int(random.next() % 5), significand: 1), at: base + layout.d)
                if let m = layout.min {
                    let sign: FloatingPointSign = type == MUSE_TYPE_Q5_1 && random.next() % 2 == 0 ? .minus : .plus
                    putHalf(Float(sign: sign, exponent: -5 - Int(random.next() % 5), significand: 1), at: base + m)
                }
            } else {
                putHalf(random.nextUnit() * small + 0.001, at: base + layout.d)
                if let m = layout.min {
                    putHalf(type == MUSE_TYPE_Q5_1 ? random.nextUnit() * 0.2 - 0.1 : random.nextUnit() * small, at: base + m)
                }
            }
        }
        return row
    }
}

/// Dequantization written from the layouts documented in CMuseKernels.h (ggml-common.h and
/// ggml's dequantize_row_*), one element at a time and independently of the C code, in double.
func layoutDequantize(_ type: Int32, _ row: [UInt8], _ n: Int) -> [Double] {
    func half(_ offset: Int) -> Double { Double(muse_f16_to_f32(UInt16(row[offset]) | UInt16(row[offset + 1]) << 8)) }
    var out = [Double](repeating: 0, count: n)
    switch type {
    case MUSE_TYPE_Q5_0, MUSE_TYPE_Q5_1:
        let isQ5_1 = type == MUSE_TYPE_Q5_1
        let blockBytes = isQ5_1 ? 24 : 22, qh = isQ5_1 ? 4 : 2, qs = qh + 4
        for b in 0..<(n / 32) {
            let base = b * blockBytes
            let high = (0..<4).reduce(UInt32(0)) { $0 | UInt32(row[base + qh + $1]) << (8 * UInt32($1)) }
            for e in 0..<32 {
                let byte = row[base + qs + e % 16]
                let q = Int(e < 16 ? byte & 0x0F : byte >> 4) | Int((high >> UInt32(e)) & 1) << 4
                out[b * 32 + e] = isQ5_1 ? half(base) * Double(q) + half(base + 2) : half(base) * Double(q - 16)
            }
        }
    case MUSE_TYPE_Q2_K:
        for b in 0..<(n / 256) {
            let base = b * 84, d = half(base + 80), dmin = half(base + 82)
            for e in 0..<256 {
                let (h, k, l) = (e / 128, (e % 128) / 32, e % 32)
                let q = Int((row[base + 16 + 32 * h + l] >> (2 * k)) & 3)
                let scales = row[base + e / 16]
                out[b * 256 + e] = d * Double(scales & 0x0F) * Double(q) - dmin * Double(scales >> 4)
            }
        }
    case MUSE_TYPE_Q3_K:
        for b in 0..<(n / 256) {
            let base = b * 110, d = half(base + 108)
            for e in 0..<256 {
                let (h, k, l) = (e / 128, (e % 128) / 32, e % 32)
                let low = Int((row[base + 32 + 32 * h + l] >> (2 * k)) & 3)
                let highSet = (row[base + l] >> (e / 32)) & 1 == 1
                let j = e / 16, s = base + 96
                let scaleLow = Int(j < 8 ? row[s + j] & 0x0F : row[s + j - 8] >> 4)
                let scaleHigh = Int((row[s + 8 + j % 4] >> (2 * (j / 4))) & 3)
                out[b * 256 + e] = d * Double((scaleLow | scaleHigh << 4) - 32) * Double(low - (highSet ? 0 : 4))
            }
        }
    case MUSE_TYPE_Q4_K, MUSE_TYPE_Q5_K:
        let isQ5 = type == MUSE_TYPE_Q5_K
        let blockBytes = isQ5 ? 176 : 144, qs = isQ5 ? 48 : 16
        for b in 0..<(n / 256) {
            let base = b * blockBytes, d = half(base), dmin = half(base + 2)
            func s(_ i: Int) -> Int { Int(row[base + 4 + i]) }
            func scaleMin(_ j: Int) -> (Int, Int) {
                if j < 4 { return (s(j) & 63, s(j + 4) & 63) }
                return ((s(j + 4) & 0x0F) | (s(j - 4) >> 6) << 4, (s(j + 4) >> 4) | (s(j) >> 6) << 4)
            }
            for e in 0..<256 {
                let j = e / 32, byte = row[base + qs + 32 * (j / 2) + e % 32]
                var q = Int(j % 2 == 0 ? byte & 0x0F : byte >> 4)
                if isQ5 { q |= Int((row[base + 16 + e % 32] >> j) & 1) << 4 }
                let (scale, min) = scaleMin(j)
                out[b * 256 + e] = d * Double(scale) * Double(q) - dmin * Double(min)
            }
        }
    case MUSE_TYPE_Q6_K:
        for b in 0..<(n / 256) {
            let base = b * 210, d = half(base + 208)
            for e in 0..<256 {
                let (h, k, l) = (e / 128, (e % 128) / 32, e % 32)
                let lowByte = row[base + 64 * h + l + 32 * (k & 1)]
                let low = Int(k < 2 ? lowByte & 0x0F : lowByte >> 4)
                let high = Int((row[base + 128 + 32 * h + l] >> (2 * k)) & 3)
                let scale = Int(Int8(bitPattern: row[base + 192 + e / 16]))
                out[b * 256 + e] = d * Double(scale) * Double((low | high << 4) - 32)
            }
        }
    case MUSE_TYPE_Q8_K:
        for b in 0..<(n / 256) {
            let base = b * 292
            let bits = (0..<4).reduce(UInt32(0)) { $0 | UInt32(row[base + $1]) << (8 * UInt32($1)) }
            // d * q in float, as the format means it.
            for e in 0..<256 { out[b * 256 + e] = Double(Float(bitPattern: bits) * Float(Int8(bitPattern: row[base + 4 + e]))) }
        }
    case MUSE_TYPE_BF16:
        for i in 0..<n { out[i] = Double(Float(bitPattern: (UInt32(row[2 * i]) | UInt32(row[2 * i + 1]) << 8) << 16)) }
    default:
        Issue.record("no layout for type \(type)")
    }
    return out
}

/// The weight types added after the first five, and row lengths for each (several superblocks,
/// an odd count of them, and the model's 896 and 4864).
let newWeightTypes: [Int32] = [MUSE_TYPE_Q5_0, MUSE_TYPE_Q5_1, MUSE_TYPE_Q2_K, MUSE_TYPE_Q3_K,
                               MUSE_TYPE_Q4_K, MUSE_TYPE_Q5_K, MUSE_TYPE_Q6_K, MUSE_TYPE_BF16]

func quantRowLengths(_ type: Int32) -> [Int] {
    switch type {
    case MUSE_TYPE_Q5_0, MUSE_TYPE_Q5_1: [32, 96, 896, 32 * 37]
    case MUSE_TYPE_BF16: [7, 64, 96, 896, 1000]
    default: [256, 512, 768, 4864]
    }
}

/// Little-endian fp16 bytes of `value`.
func halfBytes(_ value: Float) -> [UInt8] {
    let h = muse_f32_to_f16(value)
    return [UInt8(h & 0xFF), UInt8(h >> 8)]
}

@Suite(.serialized) struct QuantKernelTests {
    @Test func blockLayoutsMatchGGML() {
        #expect(MemoryLayout<muse_block_q5_0>.size == 22)
        #expect(MemoryLayout<muse_block_q5_1>.size == 24)
        #expect(MemoryLayout<muse_block_q2_K>.size == 84)
        #expect(MemoryLayout<muse_block_q3_K>.size == 110)
        #expect(MemoryLayout<muse_block_q4_K>.size == 144)
        #expect(MemoryLayout<muse_block_q5_K>.size == 176)
        #expect(MemoryLayout<muse_block_q6_K>.size == 210)
        #expect(MemoryLayout<muse_block_q8_K>.size == 292)
        #expect(MemoryLayout<muse_block_q2_K>.offset(of: \.d) == 80)
        #expect(MemoryLayout<muse_block_q3_K>.offset(of: \.d) == 108)
        #expect(MemoryLayout<muse_block_q5_K>.offset(of: \.qs) == 48)
        #expect(MemoryLayout<muse_block_q6_K>.offset(of: \.d) == 208)
        #expect(MemoryLayout<muse_block_q8_K>.offset(of: \.bsums) == 260)
        for type in newWeightTypes {
            #expect(muse_type_supported(type) == 1, "type \(type)")
            if let layout = QuantBlockLayout(type) {
                #expect(muse_row_bytes(type, Int64(layout.elements * 19)) == layout.bytes * 19)
            }
        }
        #expect(muse_row_bytes(MUSE_TYPE_Q8_K, 4864) == 19 * 292)
        #expect(muse_row_bytes(MUSE_TYPE_BF16, 896) == 1792)
        #expect(muse_type_supported(MUSE_TYPE_Q8_K) == 0, "Q8_K is an activation type only")
        #expect(muse_activation_type(MUSE_TYPE_Q5_0) == MUSE_TYPE_Q8_0)
        #expect(muse_activation_type(MUSE_TYPE_Q5_1) == MUSE_TYPE_Q8_1)
        for type in [MUSE_TYPE_Q2_K, MUSE_TYPE_Q3_K, MUSE_TYPE_Q4_K, MUSE_TYPE_Q5_K, MUSE_TYPE_Q6_K] {
            #expect(muse_activation_type(type) == MUSE_TYPE_Q8_K)
        }
        #expect(muse_activation_type(MUSE_TYPE_BF16) == MUSE_TYPE_F32)
    }

    /// One block of each type built by hand, with elements worked out on paper.
    @Test func dequantizesHandBuiltBlocks() {
        // Q5_0, d = 0.5: qh has bits 0 and 31 set; qs[0] = 0x3A, qs[15] = 0xF2, the rest 0.
        var q5 = halfBytes(0.5) + [0x01, 0x00, 0x00, 0x80] + [UInt8](repeating: 0, count: 16)
        q5[6] = 0x3A
        q5[6 + 15] = 0xF2
        let x5 = dequantize(MUSE_TYPE_Q5_0, q5, 32)
        #expect(x5[0] == 5.0)     // (10 | 16) - 16 = 10
        #expect(x5[16] == -6.5)   // 3 - 16
        #expect(x5[15] == -7.0)   // 2 - 16
        #expect(x5[31] == 7.5)    // (15 | 16) - 16 = 15
        #expect(x5[1] == -8.0)    // 0 - 16
        // Q5_1: the same quants with m = -1.
        let q51 = halfBytes(0.5) + halfBytes(-1) + Array(q5[2...])
        let x51 = dequantize(MUSE_TYPE_Q5_1, q51, 32)
        #expect(x51[0] == 12.0)   // 26 * 0.5 - 1
        #expect(x51[31] == 14.5)  // 31 * 0.5 - 1
        #expect(x51[1] == -1.0)

        // Q2_K, d = 0.5, dmin = 0.25. Scale bytes: low nibble scale, high nibble min.
        var q2 = [UInt8](repeating: 0, count: 84)
        q2[0] = 0x21; q2[1] = 0x03; q2[2] = 0x12; q2[8] = 0x50
        q2[16 + 0] = 0xE7       // element 0: 3, element 32: 1, element 64: 2, element 96: 3
        q2[16 + 16] = 0x02      // element 16: 2
        q2.replaceSubrange(80..<84, with: halfBytes(0.5) + halfBytes(0.25))
        let x2 = dequantize(MUSE_TYPE_Q2_K, q2, 256)
        #expect(x2[0] == 1.0)     // 0.5 * 1 * 3 - 0.25 * 2
        #expect(x2[16] == 3.0)    // 0.5 * 3 * 2 - 0
        #expect(x2[32] == 0.75)   // sub-block 2: 0.5 * 2 * 1 - 0.25 * 1
        #expect(x2[128] == -1.25) // sub-block 8: 0 - 0.25 * 5

        // Q3_K, d = 0.5. Scale 0 = (5 | 2 << 4) - 32 = 5; the other scales in use are 0 - 32.
        var q3 = [UInt8](repeating: 0, count: 110)
        q3[0] = 0x01            // hmask[0]: bit 0 set (element 0 keeps its value, no -4)
        q3[32] = 0x03           // qs[0]: element 0 = 3, element 32 = 0
        q3[96] = 0x05; q3[96 + 8] = 0x02
        q3.replaceSubrange(108..<110, with: halfBytes(0.5))
        let x3 = dequantize(MUSE_TYPE_Q3_K, q3, 256)
        #expect(x3[0] == 7.5)     // 0.5 * 5 * 3
        #expect(x3[32] == 64.0)   // 0.5 * -32 * (0 - 4)
        #expect(x3[128] == 64.0)  // high bit 4 of hmask[0] clear too

        // Q4_K, d = 0.5, dmin = 0.25. scales[0] = 0x45: scale 0 = 5, top bits 1 go to scale 4;
        // scales[4] = 0x03: min 0 = 3; scales[8] = 0x21: scale 4 = 1 | 1 << 4 = 17, min 4 = 2.
        var q4 = halfBytes(0.5) + halfBytes(0.25) + [UInt8](repeating: 0, count: 140)
        q4[4 + 0] = 0x45; q4[4 + 4] = 0x03; q4[4 + 8] = 0x21
        q4[16 + 0] = 0x7C       // element 0: 12 (sub-block 0), element 32: 7 (sub-block 1)
        q4[16 + 64] = 0x09      // element 128: 9 (sub-block 4)
        let x4 = dequantize(MUSE_TYPE_Q4_K, q4, 256)
        #expect(x4[0] == 29.25)   // 0.5 * 5 * 12 - 0.25 * 3
        #expect(x4[32] == 0.0)    // scale 1 and min 1 are 0
        #expect(x4[128] == 76.0)  // 0.5 * 17 * 9 - 0.25 * 2
        // Q5_K: the same plus qh[0] = 0x11, the fifth bit of elements 0 (bit 0) and 128 (bit 4).
        var q55 = Array(q4[0..<16]) + [UInt8](repeating: 0, count: 32) + Array(q4[16...])
        q55[16] = 0x11
        let x55 = dequantize(MUSE_TYPE_Q5_K, q55, 256)
        #expect(x55[0] == 69.25)  // 0.5 * 5 * 28 - 0.75
        #expect(x55[128] == 212.0) // 0.5 * 17 * 25 - 0.5

        // Q6_K, d = 0.25; scales[0] = -3, scales[2] = 1, scales[4] = 2.
        var q6 = [UInt8](repeating: 0, count: 210)
        q6[0] = 0x5A            // ql[0]: element 0 low 4 bits = 10, element 64 = 5
        q6[128] = 0x02          // qh[0]: element 0 high bits = 2
        q6[192] = 0xFD; q6[192 + 2] = 0x01; q6[192 + 4] = 0x02
        q6.replaceSubrange(208..<210, with: halfBytes(0.25))
        let x6 = dequantize(MUSE_TYPE_Q6_K, q6, 256)
        #expect(x6[0] == -7.5)    // 0.25 * -3 * ((10 | 2 << 4) - 32)
        #expect(x6[32] == -8.0)   // 0.25 * 1 * (0 - 32)
        #expect(x6[64] == -13.5)  // 0.25 * 2 * (5 - 32)

        // Q8_K, d = -0.5 (an f32).
        var q8 = withUnsafeBytes(of: Float(-0.5).bitPattern.littleEndian) { Array($0) } + [UInt8](repeating: 0, count: 288)
        q8[4] = 7
        q8[4 + 255] = 0x81      // -127
        let x8 = dequantize(MUSE_TYPE_Q8_K, q8, 256)
        #expect(x8[0] == -3.5)
        #expect(x8[255] == 63.5)

        // BF16: the top half of an f32.
        #expect(dequantize(MUSE_TYPE_BF16, [0xC0, 0x3F, 0x20, 0xC0], 2) == [1.5, -2.5])
    }

    /// Random blocks with power-of-two scales (so every value is exact) against the layouts read
    /// element by element.
    @Test(arguments: newWeightTypes + [MUSE_TYPE_Q8_K])
    func dequantizationMatchesTheLayout(type: Int32) {
        var fixture = QuantFixture(seed: 900 + UInt64(type))
        let n = type == MUSE_TYPE_Q5_0 || type == MUSE_TYPE_Q5_1 ? 32 * 9 : 256 * 3
        for _ in 0..<4 {
            let row: [UInt8]
            if type == MUSE_TYPE_Q8_K {
                row = quantizeActivation(for: MUSE_TYPE_Q4_K, fixture.floats(n, scale: 3))
            } else {
                row = fixture.weightRow(type, n, powerOfTwoScales: true)
            }
            let got = dequantize(type, row, n)
            let expected = layoutDequantize(type, row, n)
            for i in 0..<n where Double(got[i]) != expected[i] {
                Issue.record("type \(type) element \(i): \(got[i]) vs \(expected[i])")
                break
            }
        }
    }

    /// Q8_K as ggml's quantize_row_q8_K_ref: scale from the element of largest magnitude, which
    /// becomes -127; round to nearest; bsums are sums of 16; an all-zero superblock is all zero.
    @Test func q8KActivationsFollowGGML() {
        var fixture = QuantFixture(seed: 77)
        var x = fixture.floats(768, scale: 4)
        for i in 256..<512 { x[i] = 0 }
        let q = quantizeActivation(for: MUSE_TYPE_Q6_K, x)
        #expect(q.count == 3 * 292)
        q.withUnsafeBytes { raw in
            for b in 0..<3 {
                let d = raw.load(fromByteOffset: b * 292, as: Float.self)
                let qs = (0..<256).map { Int(raw.load(fromByteOffset: b * 292 + 4 + $0, as: Int8.self)) }
                let bsums = (0..<16).map { Int(raw.load(fromByteOffset: b * 292 + 260 + 2 * $0, as: Int16.self)) }
                for j in 0..<16 { #expect(bsums[j] == qs[(16 * j)..<(16 * j + 16)].reduce(0, +), "block \(b) bsum \(j)") }
                if b == 1 {
                    #expect(d == 0)
                    #expect(qs.allSatisfy { $0 == 0 })
                    continue
                }
                let slice = Array(x[(256 * b)..<(256 * b + 256)])
                let top = slice.indices.max { abs(slice[$0]) < abs(slice[$1]) }!
                #expect(qs[top] == -127)
                #expect(abs(d * -127 - slice[top]) <= abs(slice[top]) * 1e-6)
                #expect(qs.allSatisfy { abs($0) <= 127 })
                for i in 0..<256 {
                    // Half a step, plus float rounding of the scaled value, the step and the product.
                    #expect(abs(d * Float(qs[i]) - slice[i]) <= abs(d) * 0.5001 + 1e-6, "block \(b) element \(i)")
                }
            }
        }
    }

    /// The reference dot equals double math on the dequantized rows. Tolerance: float accumulation
    /// (the integer parts are exact), 1e-5 of the sum of magnitudes; Q5_1 also carries Q8_1's
    /// s = d * sum(q) rounded to fp16 (2^-11 relative) times the block offsets, so 1e-3 as Q4_1.
    @Test(arguments: newWeightTypes)
    func referenceDotMatchesDequantizedMath(type: Int32) {
        var fixture = QuantFixture(seed: 500 + UInt64(type))
        for n in quantRowLengths(type) {
            for scale: Float in [1, 3] {
                let w = fixture.weightRow(type, n)
                let xq = quantizeActivation(for: type, fixture.floats(n, scale: scale))
                let wf = dequantize(type, w, n)
                let xf = dequantize(muse_activation_type(type), xq, n)
                let expected = zip(wf, xf).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                let magnitude = zip(wf, xf).reduce(0.0) { $0 + abs(Double($1.0) * Double($1.1)) }
                let tolerance = type == MUSE_TYPE_Q5_1 ? 1e-3 * magnitude : 1e-5 * magnitude + 1e-6
                for order in KernelOrder.allCases {
                    let got = w.withUnsafeBytes { wp in
                        xq.withUnsafeBytes { muse_vec_dot_reference_in_order(order.cValue, type, Int64(n), wp.baseAddress, $0.baseAddress) }
                    }
                    #expect(abs(Double(got) - expected) <= tolerance, "\(order) type \(type) n \(n): \(got) vs \(expected)")
                }
            }
        }
    }

    /// Every path gives the scalar reference's exact bits for every new type (and Q4_0's block
    /// order), in both orders: the 32-element blocks keep the reference's lane order (ggml's) or
    /// reduce each block to one exact integer (block order), and the K-quants reduce each
    /// superblock to exact integers before the same float operations in the same order.
    @Test(arguments: newWeightTypes + [MUSE_TYPE_Q4_0], KernelPath.supported)
    func pathMatchesReferenceBitForBit(type: Int32, path: KernelPath) async {
        await KernelPathGate.shared.switching(to: path) {
            var fixture = QuantFixture(seed: 600 + UInt64(type))
            for n in quantRowLengths(type) {
                for _ in 0..<3 {
                    let w = fixture.weightRow(type, n)
                    let xq = quantizeActivation(for: type, fixture.floats(n, scale: 3))
                    expectDotMatchesReference(type: type, n: n, weights: w, activations: xq, path: path)
                }
            }
        }
    }

    /// muse_matmul with nx activation rows gives, for every row, the bits of nx = 1 (and of the
    /// reference dot), for nx = 1...9: the multi-row kernels' tiles and the rows left over, in
    /// both orders; 13 weight rows, so the single-row kernels' groups of 8 and the rows after them.
    @Test(arguments: newWeightTypes + [MUSE_TYPE_Q4_0], KernelPath.supported)
    func matmulIsBatchInvariant(type: Int32, path: KernelPath) async {
        await KernelPathGate.shared.switching(to: path) {
            var fixture = QuantFixture(seed: 700 + UInt64(type))
            let n = type == MUSE_TYPE_BF16 ? 100 : (QuantBlockLayout(type)?.elements ?? 32) * 7
            let rows = 13, maxBatch = 9
            let w = (0..<rows).flatMap { _ in fixture.weightRow(type, n) }
            let xs = (0..<maxBatch).flatMap { _ in quantizeActivation(for: type, fixture.floats(n, scale: 2)) }
            let wRow = muse_row_bytes(type, Int64(n)), xRow = muse_row_bytes(muse_activation_type(type), Int64(n))
            for order in KernelOrder.allCases {
                w.withUnsafeBytes { wp in
                    xs.withUnsafeBytes { xp in
                        var single = [Float](repeating: .nan, count: rows * maxBatch)
                        single.withUnsafeMutableBufferPointer { yp in
                            for t in 0..<maxBatch {
                                muse_matmul_in_order(order.cValue, type, Int64(n), wp.baseAddress, wRow, 0, Int64(rows),
                                            xp.baseAddress! + t * xRow, xRow, 1, yp.baseAddress! + t * rows, Int64(rows))
                            }
                        }
                        for t in 0..<maxBatch {
                            for r in 0..<rows {
                                let reference = muse_vec_dot_reference_in_order(order.cValue, type, Int64(n), wp.baseAddress! + r * wRow, xp.baseAddress! + t * xRow)
                                #expect(single[t * rows + r].bitPattern == reference.bitPattern, "\(path) \(order) type \(type) row \(r) x \(t)")
                            }
                        }
                        for nx in 2...maxBatch {
                            var y = [Float](repeating: .nan, count: rows * nx)
                            y.withUnsafeMutableBufferPointer { yp in
                                muse_matmul_in_order(order.cValue, type, Int64(n), wp.baseAddress, wRow, 0, Int64(rows), xp.baseAddress, xRow, Int64(nx), yp.baseAddress, Int64(rows))
                            }
                            for t in 0..<nx {
                                for r in 0..<rows {
                                    #expect(y[t * rows + r].bitPattern == single[t * rows + r].bitPattern,
                                            "\(path) \(order) type \(type) nx \(nx) row \(r) x \(t): \(y[t * rows + r]) vs \(single[t * rows + r])")
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The tiled matmuls of Q4_0, Q5_0 and the K-quants (weight rows unpacked in chunks, tiles of
    /// activation rows): every output of a sub-range of rows crossing chunk boundaries, with an odd row count,
    /// a partial last tile of activation rows and a wider output stride, has the reference dot's
    /// bits; and so for a row too long for the tiles (the untiled kernel). In both orders: the
    /// block-order prompt kernel's chunks hold 16 rows of 4096 elements, so the third case
    /// crosses them. The K-quants' prompt kernel (groups of 8 rows transposed) likewise: its
    /// chunks hold 16 rows of 19 superblocks, and 45 superblocks are too many for it.
    @Test(arguments: [MUSE_TYPE_Q4_0, MUSE_TYPE_Q5_0, MUSE_TYPE_Q4_K, MUSE_TYPE_Q5_K, MUSE_TYPE_Q6_K], KernelPath.supported)
    func tiledMatmulMatchesReferenceOnEdges(type: Int32, path: KernelPath) async {
        await KernelPathGate.shared.switching(to: path) {
            var fixture = QuantFixture(seed: 900 + UInt64(type))
            for order in KernelOrder.allCases {
                let shapes = QuantBlockLayout(type)?.elements == 256
                ? [(256 * 19, 41, 3, 38, 11), (256 * 3, 13, 0, 13, 4), (256 * 45, 6, 1, 6, 9)]
                : [(896, 41, 3, 38, 11), (32 * 37, 13, 0, 13, 4), (32 * 128, 41, 3, 38, 9), (32 * 130, 6, 1, 6, 5)]
            for (n, rows, r0, r1, nx) in shapes {
                    let w = (0..<rows).flatMap { _ in fixture.weightRow(type, n) }
                    let xs = (0..<nx).flatMap { _ in quantizeActivation(for: type, fixture.floats(n, scale: 2)) }
                    let wRow = muse_row_bytes(type, Int64(n)), xRow = muse_row_bytes(muse_activation_type(type), Int64(n))
                    let ldy = rows + 3
                    var y = [Float](repeating: .nan, count: ldy * nx)
                    w.withUnsafeBytes { wp in
                        xs.withUnsafeBytes { xp in
                            y.withUnsafeMutableBufferPointer { yp in
                                muse_matmul_in_order(order.cValue, type, Int64(n), wp.baseAddress, wRow, Int64(r0), Int64(r1), xp.baseAddress, xRow, Int64(nx),
                                            yp.baseAddress, Int64(ldy))
                            }
                            for t in 0..<nx {
                                for r in 0..<ldy {
                                    let got = y[t * ldy + r]
                                    if r < r0 || r >= r1 {
                                        #expect(got.isNaN, "\(path) \(order) type \(type) n \(n): row \(r) x \(t) written outside the range")
                                        continue
                                    }
                                    let reference = muse_vec_dot_reference_in_order(order.cValue, type, Int64(n), wp.baseAddress! + r * wRow, xp.baseAddress! + t * xRow)
                                    #expect(got.bitPattern == reference.bitPattern, "\(path) \(order) type \(type) n \(n) row \(r) x \(t): \(got) vs \(reference)")
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Packed weights (Q4_0, Q4_1, Q5_0, Q8_0 and Q4_K regrouped by 8 rows) multiply to the
    /// block-order reference dot's bits for every row and activation row: 21 rows (a partial last
    /// group), two ranges of rows, 1 to 9 activation rows (whole and partial tiles, so the decode
    /// and prompt kernels) and a wider output stride; the scalar reading of the layout agrees;
    /// nothing outside the range is written; the packed form takes the bytes of the rows it packs
    /// (Q4_K: 1184 bytes per 8 superblocks of 144, its scales unpacked), and gives each row back as
    /// it was.
    @Test(arguments: [MUSE_TYPE_Q4_0, MUSE_TYPE_Q4_1, MUSE_TYPE_Q5_0, MUSE_TYPE_Q8_0, MUSE_TYPE_Q4_K], KernelPath.supported)
    func packedMatmulGivesTheBlockOrderBits(type: Int32, path: KernelPath) async {
        await KernelPathGate.shared.switching(to: path) {
            var fixture = QuantFixture(seed: 1000 + UInt64(type))
            let superblocks = type == MUSE_TYPE_Q4_K
            for n in superblocks ? [256, 256 * 5, 256 * 19] : [32, 96, 896] {
                let rows = 21, maxBatch = 9, ldy = rows + 2
                let w = (0..<rows).flatMap { _ in fixture.weightRow(type, n) }
                let xs = (0..<maxBatch).flatMap { _ in quantizeActivation(for: type, fixture.floats(n, scale: 2)) }
                let wRow = muse_row_bytes(type, Int64(n)), xRow = muse_row_bytes(muse_activation_type(type), Int64(n))
                let groupBytes = superblocks ? 1184 * n / 256 : 8 * wRow
                #expect(muse_packed_bytes(type, 16, Int64(n)) == 2 * groupBytes)
                var packed = [UInt8](repeating: 0xAA, count: muse_packed_bytes(type, Int64(rows), Int64(n)))
                #expect(packed.count == 3 * groupBytes)
                w.withUnsafeBytes { wp in
                    packed.withUnsafeMutableBytes { pp in
                        // Two calls on disjoint groups, as threads pack them.
                        muse_pack_groups(type, Int64(n), wp.baseAddress, wRow, Int64(rows), 0, 1, pp.baseAddress)
                        muse_pack_groups(type, Int64(n), wp.baseAddress, wRow, Int64(rows), 1, 3, pp.baseAddress)
                    }
                }
                // Every row reads back from the packed form as it was.
                for r in 0..<rows {
                    var row = [UInt8](repeating: 0, count: wRow)
                    packed.withUnsafeBytes { pp in row.withUnsafeMutableBytes { muse_packed_row(type, Int64(n), pp.baseAddress, Int64(r), $0.baseAddress) } }
                    #expect(row[...] == w[(r * wRow)..<((r + 1) * wRow)], "type \(type) n \(n): row \(r) read back differs")
                }
                for nx in 1...maxBatch {
                    var fast = [Float](repeating: .nan, count: ldy * nx), slow = fast
                    packed.withUnsafeBytes { pp in
                        xs.withUnsafeBytes { xp in
                            for (r0, r1) in [(0, 16), (16, rows)] {
                                fast.withUnsafeMutableBufferPointer { yp in
                                    muse_matmul_packed(type, Int64(n), pp.baseAddress, Int64(r0), Int64(r1), xp.baseAddress, xRow, Int64(nx), yp.baseAddress, Int64(ldy))
                                }
                                slow.withUnsafeMutableBufferPointer { yp in
                                    muse_matmul_packed_reference(type, Int64(n), pp.baseAddress, Int64(r0), Int64(r1), xp.baseAddress, xRow, Int64(nx), yp.baseAddress, Int64(ldy))
                                }
                            }
                        }
                    }
                    w.withUnsafeBytes { wp in
                        xs.withUnsafeBytes { xp in
                            for t in 0..<nx {
                                for r in 0..<ldy {
                                    let got = fast[t * ldy + r]
                                    guard r < rows else {
                                        #expect(got.isNaN && slow[t * ldy + r].isNaN, "\(path) type \(type): row \(r) x \(t) written outside the range")
                                        continue
                                    }
                                    let reference = muse_vec_dot_reference_in_order(MUSE_ORDER_BLOCKS, type, Int64(n), wp.baseAddress! + r * wRow, xp.baseAddress! + t * xRow)
                                    #expect(got.bitPattern == reference.bitPattern, "\(path) type \(type) n \(n) nx \(nx) row \(r) x \(t): \(got) vs \(reference)")
                                    #expect(slow[t * ldy + r].bitPattern == reference.bitPattern, "scalar layout reading, type \(type) n \(n) row \(r) x \(t)")
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
