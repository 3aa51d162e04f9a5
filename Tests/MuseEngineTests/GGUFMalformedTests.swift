// Malformed-file tests: each broken input must produce its specific GGUFError at the right offset.

import Foundation
import Testing
@testable import MuseEngine

@Suite("GGUF malformed files")
struct GGUFMalformedTests {
    // MARK: Header

    @Test func badMagic() {
        var r = RawGGUF()
        r.bytes = Array("GGML".utf8)
        r.u32(3); r.u64(0); r.u64(0)
        #expect(parseError(r.bytes) == .badMagic(found: 0x4C4D_4747))
        #expect(GGUFError.badMagic(found: 0x4C4D_4747).description.contains("\"GGML\""))
    }

    @Test(arguments: [UInt32(0), 1, 4, 99, 0x0300_0000])
    func unsupportedVersion(version: UInt32) {
        var r = RawGGUF()
        r.header(version: version, tensors: 0, kvs: 0)
        #expect(parseError(r.bytes) == .unsupportedVersion(version))
    }

    @Test func bigEndianIsExplained() {
        #expect(GGUFError.unsupportedVersion(0x0300_0000).description.contains("big-endian"))
    }

    @Test func truncatedHeader() {
        let full = sampleWriter().serializedBytes()
        #expect(parseError([UInt8]()) == .truncated(at: 0, needed: 4, available: 0))
        #expect(parseError(full.prefix(2)) == .truncated(at: 0, needed: 4, available: 2))
        #expect(parseError(full.prefix(6)) == .truncated(at: 4, needed: 4, available: 2))
        #expect(parseError(full.prefix(10)) == .truncated(at: 8, needed: 8, available: 2))
        #expect(parseError(full.prefix(23)) == .truncated(at: 16, needed: 8, available: 7))
    }

    // MARK: Truncation inside the body

    // The header's count checks need room for every declared pair, so each cut below leaves
    // enough bytes to pass them and fail inside the field under test.
    @Test func truncatedInKey() {
        var r = RawGGUF()
        r.header(tensors: 0, kvs: 2)
        r.kvU32("general.quantization_version", 2)
        let keyAt = r.count
        r.kvU32("general.architecture", 1)
        #expect(parseError(r.bytes.prefix(keyAt + 4)) == .truncated(at: keyAt, needed: 8, available: 4))
        #expect(parseError(r.bytes.prefix(keyAt + 8 + 5)) == .truncated(at: keyAt + 8, needed: 20, available: 5))
    }

    @Test func truncatedInValue() {
        var r = RawGGUF()
        r.header(tensors: 0, kvs: 2)
        r.string("general.name")
        r.u32(GGUFValueType.string.rawValue)
        let stringAt = r.count
        r.string("a string value")
        r.kvU32("llama.block_count", 30)
        let u32At = r.count - 4
        #expect(parseError(r.bytes.prefix(stringAt + 8 + 3)) == .truncated(at: stringAt + 8, needed: 14, available: 3))
        #expect(parseError(r.bytes.prefix(stringAt + 5)) == .truncated(at: stringAt, needed: 8, available: 5))
        #expect(parseError(r.bytes.prefix(u32At + 1)) == .truncated(at: u32At, needed: 4, available: 1))
        #expect(parseError(r.bytes) == nil)
    }

    @Test func truncatedInTensorInfos() {
        var r = RawGGUF()
        r.header(tensors: 1, kvs: 0)
        r.string("blk.0.attn_q.weight")
        r.u32(2)
        r.u64(64)
        let secondDimAt = r.count
        r.u64(64)
        r.u32(GGMLType.f32.rawValue)
        r.u64(0)
        #expect(parseError(r.bytes.prefix(secondDimAt + 3)) == .truncated(at: secondDimAt, needed: 8, available: 3))
        #expect(parseError(r.bytes) == .tensorOutOfBounds(
            tensor: "blk.0.attn_q.weight", offset: UInt64(RawGGUF.alignedEnd(r.count)), size: 64 * 64 * 4,
            fileSize: r.count))
    }

    @Test func truncatedInTensorData() throws {
        let full = sampleWriter().serializedBytes()
        let file = try GGUFFile(data: full)
        let last = try #require(file.tensors.last)
        let start = file.dataOffset + last.offset
        let cut = start + last.byteCount / 2
        #expect(parseError(full.prefix(cut)) == .tensorOutOfBounds(
            tensor: last.name, offset: UInt64(start), size: last.byteCount, fileSize: cut))
    }

    // MARK: Implausible counts

    @Test func hugeMetadataCount() {
        var r = RawGGUF()
        r.header(tensors: 0, kvs: 1 << 62)
        #expect(parseError(r.bytes) == .countTooLarge(what: .metadataCount, count: 1 << 62, at: 16))
        var s = RawGGUF()
        s.header(tensors: 0, kvs: 3)
        s.kvU32("a", 1)  // 17 bytes: room for one pair, not three
        #expect(parseError(s.bytes) == .countTooLarge(what: .metadataCount, count: 3, at: 16))
    }

    @Test func hugeTensorCount() {
        var r = RawGGUF()
        r.header(tensors: .max, kvs: 0)
        #expect(parseError(r.bytes) == .countTooLarge(what: .tensorCount, count: .max, at: 8))
        // Plausible against the whole file, but not against what is left after metadata.
        var s = RawGGUF()
        s.header(tensors: 2, kvs: 1)
        s.string("k")
        s.u32(GGUFValueType.string.rawValue)
        s.string(String(repeating: "x", count: 100))
        #expect(parseError(s.bytes) == .countTooLarge(what: .tensorCount, count: 2, at: 8))
    }

    @Test func hugeStringLength() {
        var r = RawGGUF()
        r.header(tensors: 0, kvs: 1)
        r.u64(1 << 62)
        r.zeros(40)
        #expect(parseError(r.bytes) == .countTooLarge(what: .stringLength, count: 1 << 62, at: 24))
    }

    @Test(arguments: [
        (GGUFValueType.uint32, UInt64(1) << 62),  // 4 × 2^62 overflows UInt64
        (.string, UInt64(1) << 61),               // 8 × 2^61 overflows UInt64
        (.uint8, 1 << 40),
        (.string, 100),                            // 800 bytes needed, ~20 left
        (.array, 10),
    ])
    func hugeArrayCount(elementType: GGUFValueType, count: UInt64) {
        var r = RawGGUF()
        r.header(tensors: 0, kvs: 1)
        r.string("tokenizer.ggml.tokens")
        r.u32(GGUFValueType.array.rawValue)
        r.u32(elementType.rawValue)
        let countAt = r.count
        r.u64(count)
        r.zeros(20)
        #expect(parseError(r.bytes) == .countTooLarge(what: .arrayLength, count: count, at: countAt))
    }

    // MARK: Unknown types and bad values

    @Test func unknownValueType() {
        var r = RawGGUF()
        r.header(tensors: 0, kvs: 1)
        r.string("k")
        r.u32(13)
        r.u32(0)
        #expect(parseError(r.bytes) == .unknownValueType(13, at: 33))
        var s = RawGGUF()
        s.header(tensors: 0, kvs: 1)
        s.string("k")
        s.u32(GGUFValueType.array.rawValue)
        s.u32(99)
        s.u64(0)
        #expect(parseError(s.bytes) == .unknownValueType(99, at: 37))
    }

    @Test func invalidBool() {
        var r = RawGGUF()
        r.header(tensors: 0, kvs: 1)
        r.string("k")
        r.u32(GGUFValueType.bool.rawValue)
        r.u8(2)
        #expect(parseError(r.bytes) == .invalidBool(2, at: 37))
    }

    @Test(arguments: [[UInt8]([0xFF, 0xFE, 0x41]), [0xC0, 0x80], [0xED, 0xA0, 0x80], [0x61, 0xE2, 0x82]])
    func invalidUTF8(bad: [UInt8]) {
        var key = RawGGUF()
        key.header(tensors: 0, kvs: 1)
        key.string(bad)
        key.u32(GGUFValueType.uint8.rawValue)
        key.u8(0)
        #expect(parseError(key.bytes) == .invalidString(at: 24))

        var value = RawGGUF()
        value.header(tensors: 0, kvs: 1)
        value.string("k")
        value.u32(GGUFValueType.string.rawValue)
        value.string(bad)
        #expect(parseError(value.bytes) == .invalidString(at: 37))

        var name = RawGGUF()
        name.header(tensors: 1, kvs: 0)
        name.string(bad)
        name.u32(1); name.u64(4); name.u32(0); name.u64(0)
        name.zeros(64)
        #expect(parseError(name.bytes) == .invalidString(at: 24))
    }

    @Test func nestingTooDeep() throws {
        func nested(levels: Int) -> (bytes: [UInt8], innermostTypeAt: Int) {
            var r = RawGGUF()
            r.header(tensors: 0, kvs: 1)
            r.string("k")
            r.u32(GGUFValueType.array.rawValue)
            var at = 0
            for _ in 0..<(levels - 1) {
                at = r.count
                r.u32(GGUFValueType.array.rawValue)
                r.u64(1)
            }
            r.u32(GGUFValueType.uint8.rawValue)
            r.u64(1)
            r.u8(7)
            return (r.bytes, at)
        }
        let ok = try GGUFFile(data: nested(levels: GGUFFile.maxArrayNesting).bytes)
        var v = try #require(ok["k"])
        for _ in 0..<GGUFFile.maxArrayNesting - 1 { v = try #require(v.array?.first) }
        #expect(v == .array([.uint8(7)]))
        let deep = nested(levels: GGUFFile.maxArrayNesting + 1)
        #expect(parseError(deep.bytes) == .nestingTooDeep(at: deep.innermostTypeAt))
    }

    @Test func duplicateKey() {
        var r = RawGGUF()
        r.header(tensors: 0, kvs: 2)
        r.kvU32("llama.block_count", 1)
        let secondAt = r.count
        r.kvU32("llama.block_count", 2)
        #expect(parseError(r.bytes) == .duplicateKey("llama.block_count", at: secondAt))
    }

    // MARK: Alignment

    @Test(arguments: [UInt32(0), 3, 48, 0x8000_0001])
    func badAlignment(value: UInt32) {
        var r = RawGGUF()
        r.header(tensors: 0, kvs: 1)
        r.kvU32("general.alignment", value)
        #expect(parseError(r.bytes) == .badAlignment(value, at: r.count - 4))
    }

    @Test func alignmentWrongType() {
        var r = RawGGUF()
        r.header(tensors: 0, kvs: 1)
        r.string("general.alignment")
        let typeAt = r.count
        r.u32(GGUFValueType.uint64.rawValue)
        r.u64(64)
        #expect(parseError(r.bytes) == .wrongValueType(
            key: "general.alignment", expected: .uint32, found: .uint64, at: typeAt))
    }

    // MARK: Tensor infos

    /// One-tensor file with `count` zero bytes of data after the aligned infos.
    func oneTensor(
        name: String = "w", dims: [UInt64], type: UInt32 = GGMLType.f32.rawValue, offset: UInt64 = 0,
        alignment: UInt32? = nil, data: Int = 64
    ) -> (bytes: [UInt8], infoAt: Int) {
        var r = RawGGUF()
        r.header(tensors: 1, kvs: alignment == nil ? 0 : 1)
        if let alignment { r.kvU32("general.alignment", alignment) }
        let infoAt = r.count
        r.tensorInfo(name, dims: dims, type: type, offset: offset)
        r.pad(to: Int(alignment ?? 32))
        r.zeros(data)
        return (r.bytes, infoAt)
    }

    @Test func valid() throws {
        let file = try GGUFFile(data: oneTensor(dims: [4, 4]).bytes)
        #expect(file.tensors.first?.byteCount == 64)
    }

    @Test func unknownTensorType() {
        for raw: UInt32 in [4, 5, 31, 36, 40, 1000] {
            let t = oneTensor(dims: [32], type: raw)
            #expect(parseError(t.bytes) == .unknownTensorType(raw, tensor: "w", at: t.infoAt + 9 + 4 + 8))
        }
    }

    @Test(arguments: [UInt32(0), 5, 100])
    func invalidDimensionCount(count: UInt32) {
        var r = RawGGUF()
        r.header(tensors: 1, kvs: 0)
        r.string("w")
        r.u32(count)
        r.zeros(64)
        #expect(parseError(r.bytes) == .invalidDimensionCount(tensor: "w", count: count, at: 33))
    }

    @Test func invalidShapes() {
        let dimsAt = 24 + 9 + 4
        func shapeError(_ dims: [UInt64], type: GGMLType = .f32) -> GGUFError? {
            parseError(oneTensor(dims: dims, type: type.rawValue).bytes)
        }
        func expected(_ dims: [UInt64], _ p: GGUFError.ShapeProblem) -> GGUFError {
            .invalidShape(tensor: "w", shape: dims, problem: p, at: dimsAt)
        }
        #expect(shapeError([4, 0]) == expected([4, 0], .zeroDimension(index: 1)))
        #expect(shapeError([0]) == expected([0], .zeroDimension(index: 0)))
        #expect(shapeError([.max]) == expected([.max], .dimensionTooLarge(index: 0)))
        #expect(shapeError([1 << 63, 1]) == expected([1 << 63, 1], .dimensionTooLarge(index: 0)))
        let huge: [UInt64] = [1 << 32, 1 << 32, 1 << 32]
        #expect(shapeError(huge) == expected(huge, .elementCountOverflow))
        let wide: [UInt64] = [1 << 31, 1 << 31]  // 2^62 elements is fine; 2^64 bytes is not
        #expect(shapeError(wide) == expected(wide, .byteCountOverflow))
        #expect(shapeError([33, 2], type: .q4_0) == expected([33, 2], .notBlockMultiple(ne0: 33, blockSize: 32)))
        #expect(shapeError([32, 8], type: .q4_K) == expected([32, 8], .notBlockMultiple(ne0: 32, blockSize: 256)))
    }

    @Test func misalignedTensor() {
        let t = oneTensor(dims: [4], offset: 16)
        #expect(parseError(t.bytes) == .misalignedTensor(
            tensor: "w", offset: 16, alignment: 32, at: t.infoAt + 9 + 4 + 8 + 4))
        let c = oneTensor(dims: [4], offset: 32, alignment: 64, data: 256)
        #expect(parseError(c.bytes) == .misalignedTensor(
            tensor: "w", offset: 32, alignment: 64, at: c.infoAt + 9 + 4 + 8 + 4))
    }

    @Test func tensorOffsetPastEnd() {
        let far = oneTensor(dims: [4], offset: 1 << 40)
        #expect(parseError(far.bytes) == .tensorOutOfBounds(
            tensor: "w", offset: 64 + (1 << 40), size: 16, fileSize: far.bytes.count))
        // Offset so large that data start + offset overflows; reported as UInt64.max.
        let wrap = oneTensor(dims: [4], offset: UInt64.max & ~31)
        #expect(parseError(wrap.bytes) == .tensorOutOfBounds(
            tensor: "w", offset: .max, size: 16, fileSize: wrap.bytes.count))
        // Just one byte short.
        let short = oneTensor(dims: [4, 4], data: 63)
        #expect(parseError(short.bytes) == .tensorOutOfBounds(
            tensor: "w", offset: UInt64(short.bytes.count - 63), size: 64, fileSize: short.bytes.count))
    }

    @Test func duplicateTensorName() {
        var r = RawGGUF()
        r.header(tensors: 2, kvs: 0)
        r.tensorInfo("w", dims: [4], type: 0, offset: 0)
        let secondAt = r.count
        r.tensorInfo("w", dims: [4], type: 0, offset: 32)
        r.pad(to: 32)
        r.zeros(64)
        #expect(parseError(r.bytes) == .duplicateTensor("w", at: secondAt))
    }

    // MARK: Opening files

    @Test func cannotOpen() throws {
        let missing = "/nonexistent/dir/model.gguf"
        guard case .cannotOpen(let path, let reason)? = Self.openError(missing) else {
            Issue.record("expected cannotOpen"); return
        }
        #expect(path == missing && !reason.isEmpty)
        guard case .cannotOpen(_, let dirReason)? = Self.openError(NSTemporaryDirectory()) else {
            Issue.record("expected cannotOpen for a directory"); return
        }
        #expect(dirReason == "not a regular file")
    }

    @Test func emptyFileOnDisk() throws {
        let path = temporaryPath("empty.gguf")
        #expect(FileManager.default.createFile(atPath: path, contents: Data()))
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(Self.openError(path) == .truncated(at: 0, needed: 4, available: 0))
    }

    static func openError(_ path: String) -> GGUFError? {
        do { _ = try GGUFFile(path: path); return nil } catch { return error }
    }

    @Test func descriptionsNameTheOffset() {
        let errors: [(GGUFError, String)] = [
            (.truncated(at: 123, needed: 8, available: 2), "123"),
            (.countTooLarge(what: .arrayLength, count: 1 << 62, at: 77), "77"),
            (.unknownValueType(13, at: 55), "55"),
            (.invalidString(at: 31), "31"),
            (.duplicateKey("k", at: 999), "999"),
            (.invalidShape(tensor: "w", shape: [33], problem: .notBlockMultiple(ne0: 33, blockSize: 32), at: 41), "41"),
            (.misalignedTensor(tensor: "w", offset: 16, alignment: 32, at: 88), "88"),
            (.tensorOutOfBounds(tensor: "w", offset: 4096, size: 16, fileSize: 100), "4096"),
            (.nestingTooDeep(at: 61), "61"),
        ]
        for (error, offset) in errors {
            #expect(error.description.contains(offset), "\(error.description)")
            #expect(error.description.hasSuffix("."))
        }
    }
}

extension RawGGUF {
    /// Where a data section would start for infos ending at `n` with default alignment.
    static func alignedEnd(_ n: Int) -> Int { (n + 31) / 32 * 32 }
}
