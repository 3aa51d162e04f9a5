// Code point classes as llama.cpp's unicode tables define them, and the GPT-2 byte-to-unicode alphabet.

/// One byte of flags per code point, mirroring llama.cpp's `unicode_cpt_flags`: exactly one
/// general-category bit is set for every code point (unassigned ones count as control, as
/// Python's `\p{C}` does), so a zero value means "outside the piece" to the splitters.
struct CodepointFlags: OptionSet, Sendable {
    let rawValue: UInt8

    static let number = CodepointFlags(rawValue: 1 << 0)
    static let letter = CodepointFlags(rawValue: 1 << 1)
    static let separator = CodepointFlags(rawValue: 1 << 2)
    static let accentMark = CodepointFlags(rawValue: 1 << 3)
    static let punctuation = CodepointFlags(rawValue: 1 << 4)
    static let symbol = CodepointFlags(rawValue: 1 << 5)
    static let control = CodepointFlags(rawValue: 1 << 6)
    /// The Unicode White_Space property, which is what llama.cpp's generator took from `regex`'s `\s`.
    static let whitespace = CodepointFlags(rawValue: 1 << 7)

    static let none = CodepointFlags([])

    static func of(_ scalar: Unicode.Scalar) -> CodepointFlags {
        let value = scalar.value
        if value < 0x80 { return asciiTable[Int(value)] }
        let properties = scalar.properties
        var flags: CodepointFlags
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            flags = .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            flags = .number
        case .spaceSeparator, .lineSeparator, .paragraphSeparator:
            flags = .separator
        case .nonspacingMark, .spacingMark, .enclosingMark:
            flags = .accentMark
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            flags = .punctuation
        case .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol:
            flags = .symbol
        case .control, .format, .surrogate, .privateUse, .unassigned:
            flags = .control
        @unknown default:
            flags = .control
        }
        if properties.isWhitespace { flags.insert(.whitespace) }
        return flags
    }

    /// ASCII is by far the common case; a table keeps it off the property lookup path.
    private static let asciiTable: [CodepointFlags] = (0..<128).map { value in
        let byte = UInt8(value)
        switch byte {
        case 0x09...0x0D: return [.control, .whitespace]
        case 0x20: return [.separator, .whitespace]
        case 0x30...0x39: return .number
        case 0x41...0x5A, 0x61...0x7A: return .letter
        case 0x24, 0x2B, 0x3C...0x3E, 0x5E, 0x60, 0x7C, 0x7E: return .symbol  // $ + < = > ^ ` | ~
        case 0x21...0x2F, 0x3A...0x40, 0x5B...0x60, 0x7B...0x7E: return .punctuation
        default: return .control
        }
    }
}

/// GPT-2's reversible map from bytes to printable code points, so that BPE can work on text.
enum ByteLevelAlphabet {
    /// Code point standing for each byte value.
    static let codepointForByte: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            if (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte) {
                table[byte] = UInt32(byte)
            } else {
                table[byte] = next
                next += 1
            }
        }
        return table
    }()

    /// Inverse of `codepointForByte`, indexed by code point (all of them are below 0x144); -1 if none.
    static let byteForCodepoint: [Int16] = {
        var table = [Int16](repeating: -1, count: 0x144)
        for byte in 0..<256 { table[Int(codepointForByte[byte])] = Int16(byte) }
        return table
    }()

    /// UTF-8 of the code point standing for each byte, to build byte-level strings without `String` work.
    static let utf8ForByte: [[UInt8]] = codepointForByte.map { Array(String(Unicode.Scalar($0)!).utf8) }

    static func byte(for codepoint: UInt32) -> UInt8? {
        guard codepoint < UInt32(byteForCodepoint.count) else { return nil }
        let value = byteForCodepoint[Int(codepoint)]
        return value < 0 ? nil : UInt8(value)
    }
}
