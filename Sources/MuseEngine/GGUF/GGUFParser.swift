// GGUFParser: the single bounds-checked, allocation-safe parser shared by every GGUFFile initializer.

/// Everything `GGUFFile` needs from a successful parse.
struct GGUFParseResult {
    var version: UInt32
    var metadata: [String: GGUFValue]
    var metadataKeys: [String]
    var tensors: [GGUFTensorInfo]
    var tensorIndex: [String: Int]
    var alignment: Int
    var dataOffset: Int
}

/// A read position over raw bytes. Every read is checked against `size` first, so the
/// parser can never touch memory outside the buffer whatever the input says.
struct GGUFCursor {
    let base: UnsafeRawPointer?
    let size: Int
    var pos: Int = 0

    init(base: UnsafeRawPointer?, size: Int) {
        // A nil base with a nonzero size would be a caller bug; treat it as empty.
        self.base = base
        self.size = base == nil ? 0 : max(size, 0)
    }

    var remaining: Int { size - pos }

    @inline(__always)
    func require(_ count: Int) throws(GGUFError) {
        if count > size - pos {
            throw .truncated(at: pos, needed: count, available: size - pos)
        }
    }

    @inline(__always)
    mutating func load<T: FixedWidthInteger>(_: T.Type) throws(GGUFError) -> T {
        let width = MemoryLayout<T>.size
        try require(width)
        // require() succeeded with width > 0, so size > 0 and base is non-nil.
        let raw = base.unsafelyUnwrapped.loadUnaligned(fromByteOffset: pos, as: T.self)
        pos += width
        return T(littleEndian: raw)
    }

    /// Rejects `count` items of at least `minimumSize` bytes each if the remaining bytes
    /// cannot hold them. Run before any allocation sized by `count`.
    func checkCount(
        _ count: UInt64, minimumSize: Int, kind: GGUFError.CountKind, at: Int
    ) throws(GGUFError) {
        let (needed, overflow) = count.multipliedReportingOverflow(by: UInt64(minimumSize))
        if overflow || needed > UInt64(remaining) {
            throw .countTooLarge(what: kind, count: count, at: at)
        }
    }

    mutating func string() throws(GGUFError) -> String {
        let at = pos
        let length = try load(UInt64.self)
        guard length <= UInt64(remaining) else {
            // A length that could fit in a file this big is most likely a cut-off file;
            // one larger than the whole file can only be corruption.
            if length > UInt64(size) {
                throw .countTooLarge(what: .stringLength, count: length, at: at)
            }
            throw .truncated(at: pos, needed: Int(length), available: remaining)
        }
        let count = Int(length)
        if count == 0 { return "" }
        let bytes = UnsafeRawBufferPointer(start: base.unsafelyUnwrapped + pos, count: count)
        guard let string = String(validating: bytes, as: UTF8.self) else {
            throw .invalidString(at: at)
        }
        pos += count
        return string
    }

    mutating func valueType() throws(GGUFError) -> GGUFValueType {
        let at = pos
        let raw = try load(UInt32.self)
        guard let type = GGUFValueType(rawValue: raw) else {
            throw .unknownValueType(raw, at: at)
        }
        return type
    }

    /// Reads one value of `type`. `depth` counts the arrays enclosing it.
    mutating func value(of type: GGUFValueType, depth: Int) throws(GGUFError) -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try load(UInt8.self))
        case .int8: return .int8(try load(Int8.self))
        case .uint16: return .uint16(try load(UInt16.self))
        case .int16: return .int16(try load(Int16.self))
        case .uint32: return .uint32(try load(UInt32.self))
        case .int32: return .int32(try load(Int32.self))
        case .uint64: return .uint64(try load(UInt64.self))
        case .int64: return .int64(try load(Int64.self))
        case .float32: return .float32(Float(bitPattern: try load(UInt32.self)))
        case .float64: return .float64(Double(bitPattern: try load(UInt64.self)))
        case .bool:
            let at = pos
            let byte = try load(UInt8.self)
            guard byte <= 1 else { throw .invalidBool(byte, at: at) }
            return .bool(byte == 1)
        case .string:
            return .string(try string())
        case .array:
            return .array(try array(depth: depth + 1))
        }
    }

    /// Reads an array body (element type, count, elements). `depth` includes this array.
    mutating func array(depth: Int) throws(GGUFError) -> [GGUFValue] {
        let typeAt = pos
        let elementType = try valueType()
        let countAt = pos
        let count = try load(UInt64.self)
        try checkCount(count, minimumSize: elementType.minimumEncodedSize, kind: .arrayLength, at: countAt)
        if elementType == .array && depth >= GGUFFile.maxArrayNesting {
            throw .nestingTooDeep(at: typeAt)
        }
        let n = Int(count)  // fits: bounded by the remaining byte count above
        var elements: [GGUFValue] = []
        // Even a checked count can be huge for a huge file; let big arrays grow as
        // elements actually parse rather than trusting the count for the whole reservation.
        elements.reserveCapacity(min(n, 1 << 20))
        switch elementType {
        case .string:
            for _ in 0..<n { elements.append(.string(try string())) }
        default:
            for _ in 0..<n { elements.append(try value(of: elementType, depth: depth)) }
        }
        return elements
    }
}

enum GGUFParser {
    static let magic: UInt32 = 0x4655_4747  // "GGUF" read little-endian

    /// Smallest possible encodings, for count plausibility checks:
    /// key length (8) + type tag (4) + 1-byte value.
    static let minimumKeyValueSize = 13
    /// name length (8) + n_dims (4) + one dim (8) + type (4) + offset (8).
    static let minimumTensorInfoSize = 32

    static func parse(base: UnsafeRawPointer?, size: Int) throws(GGUFError) -> GGUFParseResult {
        var c = GGUFCursor(base: base, size: size)

        let magic = try c.load(UInt32.self)
        guard magic == Self.magic else { throw .badMagic(found: magic) }
        let version = try c.load(UInt32.self)
        guard version == 2 || version == 3 else { throw .unsupportedVersion(version) }
        let tensorCountAt = c.pos
        let tensorCount = try c.load(UInt64.self)
        let kvCountAt = c.pos
        let kvCount = try c.load(UInt64.self)
        try c.checkCount(kvCount, minimumSize: minimumKeyValueSize, kind: .metadataCount, at: kvCountAt)
        try c.checkCount(tensorCount, minimumSize: minimumTensorInfoSize, kind: .tensorCount, at: tensorCountAt)

        // Metadata.
        let kvs = Int(kvCount)
        var metadata: [String: GGUFValue] = [:]
        metadata.reserveCapacity(min(kvs, 1 << 16))
        var keys: [String] = []
        keys.reserveCapacity(min(kvs, 1 << 16))
        var alignment = GGUFFile.defaultAlignment
        for _ in 0..<kvs {
            let keyAt = c.pos
            let key = try c.string()
            if metadata[key] != nil { throw .duplicateKey(key, at: keyAt) }
            let typeAt = c.pos
            let type = try c.valueType()
            let valueAt = c.pos
            let value = try c.value(of: type, depth: 0)
            if key == "general.alignment" {
                guard case .uint32(let a) = value else {
                    throw .wrongValueType(key: key, expected: .uint32, found: type, at: typeAt)
                }
                guard a != 0, a & (a - 1) == 0 else { throw .badAlignment(a, at: valueAt) }
                alignment = Int(a)
            }
            metadata[key] = value
            keys.append(key)
        }

        // Tensor infos. Re-check the count against what is left now that metadata is consumed.
        try c.checkCount(tensorCount, minimumSize: minimumTensorInfoSize, kind: .tensorCount, at: tensorCountAt)
        let nTensors = Int(tensorCount)
        var pending: [(info: GGUFTensorInfo, offset: UInt64)] = []
        pending.reserveCapacity(min(nTensors, 1 << 16))
        var index: [String: Int] = [:]
        index.reserveCapacity(min(nTensors, 1 << 16))
        for i in 0..<nTensors {
            let infoAt = c.pos
            let name = try c.string()
            if index[name] != nil { throw .duplicateTensor(name, at: infoAt) }
            let nDimsAt = c.pos
            let nDims = try c.load(UInt32.self)
            guard (1...4).contains(nDims) else {
                throw .invalidDimensionCount(tensor: name, count: nDims, at: nDimsAt)
            }
            let dimsAt = c.pos
            var dims: [UInt64] = []
            dims.reserveCapacity(Int(nDims))
            for _ in 0..<nDims { dims.append(try c.load(UInt64.self)) }
            let typeAt = c.pos
            let rawType = try c.load(UInt32.self)
            guard let type = GGMLType(rawValue: rawType) else {
                throw .unknownTensorType(rawType, tensor: name, at: typeAt)
            }
            let offsetAt = c.pos
            let offset = try c.load(UInt64.self)

            let (shape, elements, bytes) = try validateShape(dims, type: type, tensor: name, at: dimsAt)
            guard offset % UInt64(alignment) == 0 else {
                throw .misalignedTensor(tensor: name, offset: offset, alignment: alignment, at: offsetAt)
            }
            // Offset stays 0 until the data section start is known and bounds are checked.
            let info = GGUFTensorInfo(
                name: name, shape: shape, type: type, offset: 0, byteCount: bytes, elementCount: elements)
            pending.append((info, offset))
            index[name] = i
        }

        let padding = (alignment - c.pos % alignment) % alignment
        let (alignedEnd, overflow) = c.pos.addingReportingOverflow(padding)
        if overflow { throw .truncated(at: c.pos, needed: padding, available: c.remaining) }
        // With no tensors nothing lives past the infos, so tolerate writers that omit the
        // final padding rather than reporting a data section beyond the end of the file.
        let dataOffset = pending.isEmpty ? min(alignedEnd, size) : alignedEnd

        var tensors: [GGUFTensorInfo] = []
        tensors.reserveCapacity(pending.count)
        for (info, offset) in pending {
            let (start, o1) = UInt64(dataOffset).addingReportingOverflow(offset)
            let (end, o2) = start.addingReportingOverflow(UInt64(info.byteCount))
            guard !o1, !o2, end <= UInt64(size) else {
                throw .tensorOutOfBounds(
                    tensor: info.name, offset: o1 ? .max : start, size: info.byteCount, fileSize: size)
            }
            tensors.append(GGUFTensorInfo(
                name: info.name, shape: info.shape, type: info.type,
                offset: Int(offset),  // end <= size, so it fits
                byteCount: info.byteCount, elementCount: info.elementCount))
        }

        return GGUFParseResult(
            version: version, metadata: metadata, metadataKeys: keys, tensors: tensors,
            tensorIndex: index, alignment: alignment, dataOffset: dataOffset)
    }

    /// Converts raw dims to a shape and computes element and byte counts without overflow.
    static func validateShape(
        _ dims: [UInt64], type: GGMLType, tensor: String, at: Int
    ) throws(GGUFError) -> (shape: [Int], elements: Int, bytes: Int) {
        func fail(_ problem: GGUFError.ShapeProblem) -> GGUFError {
            .invalidShape(tensor: tensor, shape: dims, problem: problem, at: at)
        }
        var shape: [Int] = []
        shape.reserveCapacity(dims.count)
        for (i, d) in dims.enumerated() {
            if d == 0 { throw fail(.zeroDimension(index: i)) }
            guard let v = Int(exactly: d) else { throw fail(.dimensionTooLarge(index: i)) }
            shape.append(v)
        }
        var elements = 1
        for d in shape {
            let (product, overflow) = elements.multipliedReportingOverflow(by: d)
            if overflow { throw fail(.elementCountOverflow) }
            elements = product
        }
        let ne0 = shape[0]
        guard ne0 % type.blockSize == 0 else {
            throw fail(.notBlockMultiple(ne0: ne0, blockSize: type.blockSize))
        }
        let (rowBytes, o1) = (ne0 / type.blockSize).multipliedReportingOverflow(by: type.blockBytes)
        if o1 { throw fail(.byteCountOverflow) }
        var bytes = rowBytes
        for d in shape.dropFirst() {
            let (product, overflow) = bytes.multipliedReportingOverflow(by: d)
            if overflow { throw fail(.byteCountOverflow) }
            bytes = product
        }
        return (shape, elements, bytes)
    }
}
