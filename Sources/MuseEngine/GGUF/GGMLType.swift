// GGMLType: ggml tensor element types as stored in GGUF tensor infos, with their block geometry.

/// A ggml tensor storage type. Raw values are the ids written in GGUF files.
///
/// Ids 4, 5 (old Q4_2/Q4_3) and 31...33, 36...38 (repacked layouts) were removed from
/// the file format upstream and are deliberately absent, so a file using them is rejected
/// as an unknown tensor type instead of being misread.
public enum GGMLType: UInt32, Sendable, CaseIterable {
    case f32 = 0
    case f16 = 1
    case q4_0 = 2
    case q4_1 = 3
    case q5_0 = 6
    case q5_1 = 7
    case q8_0 = 8
    case q8_1 = 9
    case q2_K = 10
    case q3_K = 11
    case q4_K = 12
    case q5_K = 13
    case q6_K = 14
    case q8_K = 15
    case iq2_xxs = 16
    case iq2_xs = 17
    case iq3_xxs = 18
    case iq1_s = 19
    case iq4_nl = 20
    case iq3_s = 21
    case iq2_s = 22
    case iq4_xs = 23
    case i8 = 24
    case i16 = 25
    case i32 = 26
    case i64 = 27
    case f64 = 28
    case iq1_m = 29
    case bf16 = 30
    case tq1_0 = 34
    case tq2_0 = 35
    case mxfp4 = 39

    /// Number of elements encoded by one block (1 for plain scalar types).
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16, .f64, .i8, .i16, .i32, .i64:
            return 1
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q8_1, .iq4_nl, .mxfp4:
            return 32
        case .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .q8_K,
             .iq2_xxs, .iq2_xs, .iq3_xxs, .iq1_s, .iq3_s, .iq2_s, .iq4_xs, .iq1_m,
             .tq1_0, .tq2_0:
            return 256
        }
    }

    /// Bytes occupied by one block. Values mirror the `static_assert`s on the block
    /// structs in ggml's `ggml-common.h` (QK_K = 256).
    public var blockBytes: Int {
        switch self {
        case .f32: return 4
        case .f16: return 2
        case .bf16: return 2
        case .f64: return 8
        case .i8: return 1
        case .i16: return 2
        case .i32: return 4
        case .i64: return 8
        case .q4_0: return 18      // f16 d + 16 nibble bytes
        case .q4_1: return 20      // f16 d, m + 16
        case .q5_0: return 22      // f16 d + 4 qh + 16
        case .q5_1: return 24      // f16 d, m + 4 qh + 16
        case .q8_0: return 34      // f16 d + 32
        case .q8_1: return 36      // f16 d, s + 32
        case .q2_K: return 84      // 16 scales + 64 qs + 2×f16
        case .q3_K: return 110     // 32 hmask + 64 qs + 12 scales + f16
        case .q4_K: return 144     // 2×f16 + 12 scales + 128 qs
        case .q5_K: return 176     // 2×f16 + 12 scales + 32 qh + 128 qs
        case .q6_K: return 210     // 128 ql + 64 qh + 16 scales + f16
        case .q8_K: return 292     // f32 d + 256 qs + 16×i16 bsums
        case .iq2_xxs: return 66   // f16 + 32×u16
        case .iq2_xs: return 74    // f16 + 32×u16 + 8 scales
        case .iq3_xxs: return 98   // f16 + 96
        case .iq1_s: return 50     // f16 + 32 qs + 8×u16 qh
        case .iq4_nl: return 18    // f16 + 16
        case .iq3_s: return 110    // f16 + 64 qs + 8 qh + 32 signs + 4 scales
        case .iq2_s: return 82     // f16 + 64 qs + 8 qh + 8 scales
        case .iq4_xs: return 136   // f16 + u16 scales_h + 4 scales_l + 128 qs
        case .iq1_m: return 56     // 32 qs + 16 qh + 8 scales (no f16 d)
        case .tq1_0: return 54     // 48 qs + 4 qh + f16
        case .tq2_0: return 66     // 64 qs + f16
        case .mxfp4: return 17     // u8 e8m0 exponent + 16
        }
    }

    /// Upper-case display name as llama.cpp prints it, e.g. "Q4_1", "IQ2_XXS", "BF16".
    public var name: String {
        switch self {
        case .f32: return "F32"
        case .f16: return "F16"
        case .q4_0: return "Q4_0"
        case .q4_1: return "Q4_1"
        case .q5_0: return "Q5_0"
        case .q5_1: return "Q5_1"
        case .q8_0: return "Q8_0"
        case .q8_1: return "Q8_1"
        case .q2_K: return "Q2_K"
        case .q3_K: return "Q3_K"
        case .q4_K: return "Q4_K"
        case .q5_K: return "Q5_K"
        case .q6_K: return "Q6_K"
        case .q8_K: return "Q8_K"
        case .iq2_xxs: return "IQ2_XXS"
        case .iq2_xs: return "IQ2_XS"
        case .iq3_xxs: return "IQ3_XXS"
        case .iq1_s: return "IQ1_S"
        case .iq4_nl: return "IQ4_NL"
        case .iq3_s: return "IQ3_S"
        case .iq2_s: return "IQ2_S"
        case .iq4_xs: return "IQ4_XS"
        case .i8: return "I8"
        case .i16: return "I16"
        case .i32: return "I32"
        case .i64: return "I64"
        case .f64: return "F64"
        case .iq1_m: return "IQ1_M"
        case .bf16: return "BF16"
        case .tq1_0: return "TQ1_0"
        case .tq2_0: return "TQ2_0"
        case .mxfp4: return "MXFP4"
        }
    }

    /// True for block-quantized types (anything whose block holds more than one element).
    public var isQuantized: Bool { blockSize > 1 }

    /// Bytes needed to store `elements` values, or nil if `elements` is negative, not a
    /// multiple of `blockSize`, or the result overflows `Int`.
    public func byteCount(elements: Int) -> Int? {
        guard elements >= 0, elements % blockSize == 0 else { return nil }
        let (bytes, overflow) = (elements / blockSize).multipliedReportingOverflow(by: blockBytes)
        return overflow ? nil : bytes
    }
}

extension GGMLType: CustomStringConvertible {
    public var description: String { name }
}
