// GGUFError: every way a GGUF file can be rejected, each carrying the byte offset of the problem.

/// A reason a GGUF file could not be opened or parsed.
///
/// Offsets (`at:`) are absolute byte offsets from the start of the file, pointing at the
/// field that was found to be wrong, so a user can inspect it with a hex dump.
public enum GGUFError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Which length field was implausible, for `countTooLarge`.
    public enum CountKind: String, Sendable, Equatable {
        case tensorCount = "tensor count"
        case metadataCount = "metadata key/value count"
        case arrayLength = "array length"
        case stringLength = "string length"
    }

    /// What is wrong with a tensor's dimensions, for `invalidShape`.
    public enum ShapeProblem: Sendable, Equatable {
        /// Dimension `index` is zero; ggml tensors in files are never empty.
        case zeroDimension(index: Int)
        /// Dimension `index` exceeds `Int.max` (negative as ggml's int64).
        case dimensionTooLarge(index: Int)
        /// The product of the dimensions overflows `Int`.
        case elementCountOverflow
        /// The element count is fine but the byte size overflows `Int`.
        case byteCountOverflow
        /// `ne[0]` must be a whole number of quantization blocks.
        case notBlockMultiple(ne0: Int, blockSize: Int)
    }

    /// The file could not be opened, stat'ed or mapped.
    case cannotOpen(path: String, reason: String)
    /// A fixed-size field, or the bytes of a string whose length is plausible for this
    /// file, runs past the end of the file.
    case truncated(at: Int, needed: Int, available: Int)
    /// The first four bytes are not "GGUF". `found` is them read as a little-endian u32.
    case badMagic(found: UInt32)
    /// Only versions 2 and 3 are read (v1 used 32-bit counts and is obsolete).
    case unsupportedVersion(UInt32)
    /// A count or length could not fit in the rest of the file even at its minimum
    /// encoding, so it is corrupt; rejected before any allocation based on it.
    case countTooLarge(what: CountKind, count: UInt64, at: Int)
    /// A metadata value type tag (or array element type tag) outside 0...12.
    case unknownValueType(UInt32, at: Int)
    /// A string (key, value or tensor name) is not valid UTF-8. `at` is its length prefix.
    case invalidString(at: Int)
    /// A bool value byte other than 0 or 1.
    case invalidBool(UInt8, at: Int)
    /// Arrays nested deeper than the reader allows (`GGUFFile.maxArrayNesting`).
    case nestingTooDeep(at: Int)
    /// The same metadata key appears twice; `at` is the second occurrence.
    case duplicateKey(String, at: Int)
    /// A well-known key has the wrong value type (e.g. `general.alignment` not uint32).
    case wrongValueType(key: String, expected: GGUFValueType, found: GGUFValueType, at: Int)
    /// `general.alignment` is zero or not a power of two.
    case badAlignment(UInt32, at: Int)
    /// The same tensor name appears twice; `at` is the second tensor info.
    case duplicateTensor(String, at: Int)
    /// A tensor declares a number of dimensions outside 1...4.
    case invalidDimensionCount(tensor: String, count: UInt32, at: Int)
    /// A tensor's dimensions are unusable; `at` is the first dimension field.
    case invalidShape(tensor: String, shape: [UInt64], problem: ShapeProblem, at: Int)
    /// A tensor type id that is not a known `GGMLType`.
    case unknownTensorType(UInt32, tensor: String, at: Int)
    /// A tensor's data offset (relative to the data section) is not a multiple of the
    /// file's alignment. `at` is the offset field.
    case misalignedTensor(tensor: String, offset: UInt64, alignment: Int, at: Int)
    /// A tensor's data `[offset, offset + size)` (absolute) does not lie inside the file.
    case tensorOutOfBounds(tensor: String, offset: UInt64, size: Int, fileSize: Int)

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason):
            return "Cannot open GGUF file '\(path)': \(reason)."
        case let .truncated(at, needed, available):
            return "The GGUF file is truncated: \(needed) bytes are needed at offset \(at) but only \(available) remain."
        case let .badMagic(found):
            return "Not a GGUF file: the first four bytes are \(Self.renderMagic(found)), expected \"GGUF\" (47 47 55 46)."
        case let .unsupportedVersion(version):
            if (2...3).contains(version.byteSwapped) {
                return "Unsupported GGUF version field \(version) at offset 4: this looks like a big-endian GGUF v\(version.byteSwapped) file, and only little-endian files are supported."
            }
            return "Unsupported GGUF version \(version) at offset 4; only versions 2 and 3 are supported."
        case let .countTooLarge(what, count, at):
            return "Corrupt GGUF file: the \(what.rawValue) \(count) at offset \(at) is larger than the rest of the file could hold."
        case let .unknownValueType(type, at):
            return "Corrupt GGUF file: unknown metadata value type \(type) at offset \(at) (valid types are 0 to 12)."
        case let .invalidString(at):
            return "Corrupt GGUF file: the string at offset \(at) is not valid UTF-8."
        case let .invalidBool(byte, at):
            return "Corrupt GGUF file: the bool at offset \(at) has byte value \(byte); only 0 and 1 are valid."
        case let .nestingTooDeep(at):
            return "Corrupt GGUF file: arrays nested more than \(GGUFFile.maxArrayNesting) levels deep at offset \(at)."
        case let .duplicateKey(key, at):
            return "Corrupt GGUF file: metadata key '\(key)' appears a second time at offset \(at)."
        case let .wrongValueType(key, expected, found, at):
            return "Invalid GGUF metadata: '\(key)' at offset \(at) has type \(found) but must be \(expected)."
        case let .badAlignment(value, at):
            return "Invalid GGUF metadata: general.alignment at offset \(at) is \(value), which is not a nonzero power of two."
        case let .duplicateTensor(name, at):
            return "Corrupt GGUF file: tensor '\(name)' is declared a second time at offset \(at)."
        case let .invalidDimensionCount(tensor, count, at):
            return "Corrupt GGUF file: tensor '\(tensor)' declares \(count) dimensions at offset \(at); GGUF tensors have 1 to 4."
        case let .invalidShape(tensor, shape, problem, at):
            let dims = shape.map(String.init).joined(separator: ", ")
            let why: String
            switch problem {
            case .zeroDimension(let i): why = "dimension \(i) is zero"
            case .dimensionTooLarge(let i): why = "dimension \(i) is too large"
            case .elementCountOverflow: why = "the element count overflows"
            case .byteCountOverflow: why = "the byte size overflows"
            case let .notBlockMultiple(ne0, blockSize):
                why = "its first dimension \(ne0) is not a multiple of the block size \(blockSize)"
            }
            return "Corrupt GGUF file: tensor '\(tensor)' has invalid shape [\(dims)] at offset \(at): \(why)."
        case let .unknownTensorType(type, tensor, at):
            return "Unsupported GGUF file: tensor '\(tensor)' has unknown ggml type \(type) at offset \(at)."
        case let .misalignedTensor(tensor, offset, alignment, at):
            return "Corrupt GGUF file: tensor '\(tensor)' has data offset \(offset) (field at offset \(at)), which is not a multiple of the alignment \(alignment)."
        case let .tensorOutOfBounds(tensor, offset, size, fileSize):
            return "Corrupt or truncated GGUF file: tensor '\(tensor)' needs \(size) bytes at offset \(offset), beyond the end of the \(fileSize)-byte file."
        }
    }

    private static func renderMagic(_ magic: UInt32) -> String {
        let bytes = withUnsafeBytes(of: magic.littleEndian) { Array($0) }
        let hex = bytes.map { b in
            let s = String(b, radix: 16, uppercase: true)
            return s.count == 1 ? "0" + s : s
        }.joined(separator: " ")
        let printable = bytes.allSatisfy { (0x20..<0x7F).contains($0) }
        return printable ? "\"\(String(decoding: bytes, as: UTF8.self))\" (\(hex))" : hex
    }
}
