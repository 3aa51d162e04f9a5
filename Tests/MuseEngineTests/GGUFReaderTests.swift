// Round-trip and API tests: files made by GGUFWriter must read back exactly, in memory and via mmap.

import Foundation
import Testing
@testable import MuseEngine

@Suite("GGUF round trip")
struct GGUFRoundTripTests {
    /// Checks a parsed file against the writer that produced it.
    func expectMatches(_ file: GGUFFile, _ w: GGUFWriter) throws {
        #expect(file.version == w.version)
        #expect(file.alignment == w.alignment)
        #expect(file.metadata == w.metadata)
        let expectedKeys = (w.alignment == 32 ? [] : ["general.alignment"]) + w.metadataKeys
        #expect(file.metadataKeys == expectedKeys)
        #expect(file.tensors.count == w.tensors.count)
        #expect(file.dataOffset % w.alignment == 0)
        #expect(file.dataOffset <= file.fileSize)
        for (info, t) in zip(file.tensors, w.tensors) {
            #expect(info.name == t.name)
            #expect(info.shape == t.shape)
            #expect(info.type == t.type)
            #expect(info.byteCount == t.bytes.count)
            #expect(info.elementCount == t.shape.reduce(1, *))
            #expect(info.offset % w.alignment == 0)
            #expect(file.tensor(named: t.name) == info)
            let bytes = file.bytes(for: info)
            #expect(Array(bytes) == t.bytes)
            #expect(file.data(for: info) == bytes.baseAddress)
        }
    }

    @Test("every value type, nested arrays and several tensor types",
          arguments: [UInt32(2), 3], [1, 32, 64, 4096])
    func roundTrip(version: UInt32, alignment: Int) throws {
        let w = sampleWriter(version: version, alignment: alignment)
        let file = try GGUFFile(data: w.serialize())
        try expectMatches(file, w)
        #expect(file.architecture == "llama")
        #expect(file["v.arr.nested"]?.array?.count == 4)
        #expect(file.tensor(named: "missing") == nil)
    }

    @Test("in-memory data is aligned like a mapping")
    func pointerAlignment() throws {
        let file = try GGUFFile(data: sampleWriter(alignment: 64).serialize())
        for t in file.tensors {
            #expect(Int(bitPattern: file.data(for: t)) % 64 == 0)
        }
    }

    @Test("memory-mapped file reads back the same")
    func mappedRoundTrip() throws {
        let w = sampleWriter()
        let path = temporaryPath("mapped.gguf")
        try w.write(toFile: path)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try GGUFFile(path: path)
        try expectMatches(file, w)
        #expect(file.fileSize == w.serialize().count)
        #expect(Int(bitPattern: file.data(for: file.tensors[0])) % 32 == 0)
    }

    @Test("init(bytes:owner:) parses caller-owned memory")
    func borrowedBytes() throws {
        let w = sampleWriter()
        let bytes = w.serializedBytes()
        let box = OwnedBuffer(copying: bytes)
        let file = try GGUFFile(
            bytes: UnsafeRawBufferPointer(start: box.base, count: box.size), owner: box)
        try expectMatches(file, w)
    }

    @Test("a file with no tensors and no metadata")
    func emptyModel() throws {
        let w = GGUFWriter()
        let bytes = w.serializedBytes()
        #expect(bytes.count == 32)  // 24-byte header padded to 32
        let file = try GGUFFile(data: bytes)
        #expect(file.metadata.isEmpty && file.tensors.isEmpty)
        #expect(file.dataOffset == 32)
        // Writers that skip the final padding are tolerated when there is no data.
        let unpadded = try GGUFFile(data: bytes.prefix(24))
        #expect(unpadded.dataOffset == 24)
    }

    @Test("every GGML type round-trips with its block geometry")
    func allTensorTypes() throws {
        var w = GGUFWriter()
        for type in GGMLType.allCases {
            let ne0 = type.blockSize * 2
            w.addTensor("t.\(type.name)", shape: [ne0, 3], type: type,
                        bytes: [UInt8](repeating: UInt8(type.rawValue), count: type.blockBytes * 6))
        }
        let file = try GGUFFile(data: w.serialize())
        try expectMatches(file, w)
    }

    @Test("large tokenizer arrays parse quickly")
    func largeArrays() throws {
        var w = GGUFWriter()
        let tokens = (0..<49_152).map { GGUFValue.string("tok_\($0)_ĠĊ") }
        let merges = (0..<48_900).map { GGUFValue.string("t\($0) m\($0 % 97)") }
        w["tokenizer.ggml.tokens"] = .array(tokens)
        w["tokenizer.ggml.merges"] = .array(merges)
        w["tokenizer.ggml.scores"] = .array((0..<49_152).map { .float32(Float($0)) })
        w["tokenizer.ggml.token_type"] = .array((0..<49_152).map { _ in .int32(1) })
        let data = w.serialize()
        let clock = ContinuousClock()
        var file: GGUFFile?
        let elapsed = try clock.measure { file = try GGUFFile(data: data) }
        let parsed = try #require(file)
        #expect(parsed["tokenizer.ggml.tokens"]?.strings?.count == 49_152)
        #expect(parsed["tokenizer.ggml.merges"]?.strings?[48_899] == "t48899 m11")
        #expect(parsed["tokenizer.ggml.scores"]?.floats?[1234] == 1234)
        // Loose bound: debug builds are slow and the machine is shared.
        #expect(elapsed < .seconds(20), "parsing took \(elapsed)")
        print("GGUF: parsed ~98k tokenizer strings in \(elapsed)")
    }
}

@Suite("GGUFWriter")
struct GGUFWriterTests {
    @Test("setting a key again replaces it in place; nil removes it")
    func replaceAndRemove() {
        var w = GGUFWriter()
        w["a"] = 1
        w["b"] = 2
        w["a"] = "one"
        #expect(w.metadataKeys == ["a", "b"])
        #expect(w["a"] == .string("one"))
        w["a"] = nil
        #expect(w.metadataKeys == ["b"])
        w.set("c", .bool(true))
        #expect(w.metadataKeys == ["b", "c"])
    }

    @Test("literals map to the types llama.cpp writes")
    func literals() {
        let values: [GGUFValue] = [7, -7, 5_000_000_000, -5_000_000_000, 1.5, true, "s", [1, 2]]
        #expect(values == [.uint32(7), .int32(-7), .uint64(5_000_000_000), .int64(-5_000_000_000),
                           .float32(1.5), .bool(true), .string("s"), .array([.uint32(1), .uint32(2)])])
    }

    @Test("custom alignment is recorded as general.alignment")
    func alignmentKey() throws {
        let w = GGUFWriter(alignment: 128)
        #expect(w.metadata["general.alignment"] == .uint32(128))
        #expect(w["general.alignment"] == .uint32(128))
        let file = try GGUFFile(data: w.serialize())
        #expect(file.alignment == 128 && file.metadataKeys == ["general.alignment"])
    }

    @Test("tensor data is laid out back to back at aligned offsets")
    func layout() throws {
        var w = GGUFWriter(alignment: 32)
        w.addTensor("a", shape: [3], floats: [1, 2, 3])        // 12 bytes → padded to 32
        w.addTensor("b", shape: [40], floats: .init(repeating: 0, count: 40))  // 160
        w.addTensor("c", shape: [1], floats: [9])
        let file = try GGUFFile(data: w.serialize())
        #expect(file.tensors.map(\.offset) == [0, 32, 192])
        let c = try #require(file.tensor(named: "c"))
        #expect(file.data(for: c).loadUnaligned(as: Float.self) == 9)
        #expect(file.fileSize == file.dataOffset + 224)
    }
}

@Suite("GGUFValue accessors")
struct GGUFValueTests {
    @Test func integers() {
        #expect(GGUFValue.uint8(5).int == 5)
        #expect(GGUFValue.int8(-5).int == -5)
        #expect(GGUFValue.uint64(.max).int == nil)
        #expect(GGUFValue.uint64(7).int == 7)
        #expect(GGUFValue.int64(.min).int == Int.min)
        #expect(GGUFValue.float32(1).int == nil)
        #expect(GGUFValue.bool(true).int == nil)
        #expect(GGUFValue.string("1").int == nil)
    }

    @Test func doubles() {
        #expect(GGUFValue.float32(0.5).double == 0.5)
        #expect(GGUFValue.float64(-2).double == -2)
        #expect(GGUFValue.uint32(10_000).double == 10_000)
        #expect(GGUFValue.uint64(.max).double == Double(UInt64.max))
        #expect(GGUFValue.bool(false).double == nil)
    }

    @Test func scalarsAndArrays() {
        #expect(GGUFValue.bool(true).bool == true)
        #expect(GGUFValue.uint8(1).bool == nil)
        #expect(GGUFValue.string("x").string == "x")
        #expect(GGUFValue.uint8(1).string == nil)
        let strings: GGUFValue = ["a", "b"]
        #expect(strings.strings == ["a", "b"])
        #expect(strings.array?.count == 2)
        #expect(strings.ints == nil)
        let mixed: GGUFValue = .array([.string("a"), .uint8(1)])
        #expect(mixed.strings == nil)
        let ints: GGUFValue = .array([.int32(-1), .uint64(2), .uint8(3)])
        #expect(ints.ints == [-1, 2, 3])
        #expect(ints.floats == [-1, 2, 3])
        #expect(GGUFValue.array([.uint64(.max)]).ints == nil)
        #expect(GGUFValue.array([.float32(0.25), .float64(0.5)]).floats == [0.25, 0.5])
        #expect(GGUFValue.array([.bool(true)]).floats == nil)
        #expect(GGUFValue.array([]).strings == [])
        #expect(GGUFValue.string("x").strings == nil)
        #expect(GGUFValue.uint8(1).type == .uint8)
        #expect(GGUFValue.array([]).type == .array)
    }

    @Test func descriptions() {
        #expect(GGUFValue.string("a").description == "\"a\"")
        let long = GGUFValue.array((0..<20).map { .uint32(UInt32($0)) })
        #expect(long.description.hasSuffix("… (20 elements)]"))
    }
}

@Suite("GGMLType")
struct GGMLTypeTests {
    @Test("block geometry matches ggml-common.h")
    func geometry() {
        let expected: [GGMLType: (Int, Int)] = [
            .f32: (1, 4), .f16: (1, 2), .bf16: (1, 2), .f64: (1, 8),
            .i8: (1, 1), .i16: (1, 2), .i32: (1, 4), .i64: (1, 8),
            .q4_0: (32, 18), .q4_1: (32, 20), .q5_0: (32, 22), .q5_1: (32, 24),
            .q8_0: (32, 34), .q8_1: (32, 36),
            .q2_K: (256, 84), .q3_K: (256, 110), .q4_K: (256, 144), .q5_K: (256, 176),
            .q6_K: (256, 210), .q8_K: (256, 292),
            .iq2_xxs: (256, 66), .iq2_xs: (256, 74), .iq3_xxs: (256, 98), .iq1_s: (256, 50),
            .iq4_nl: (32, 18), .iq3_s: (256, 110), .iq2_s: (256, 82), .iq4_xs: (256, 136),
            .iq1_m: (256, 56), .tq1_0: (256, 54), .tq2_0: (256, 66), .mxfp4: (32, 17),
        ]
        #expect(expected.count == GGMLType.allCases.count)
        for type in GGMLType.allCases {
            let e = expected[type]
            #expect(e?.0 == type.blockSize, "\(type) block size")
            #expect(e?.1 == type.blockBytes, "\(type) block bytes")
        }
    }

    @Test func idsAndNames() {
        #expect(GGMLType(rawValue: 3) == .q4_1)
        #expect(GGMLType(rawValue: 4) == nil)
        #expect(GGMLType(rawValue: 31) == nil)
        #expect(GGMLType(rawValue: 39) == .mxfp4)
        #expect(GGMLType.q4_1.name == "Q4_1")
        #expect(GGMLType.q4_K.name == "Q4_K")
        #expect(GGMLType.iq2_xxs.name == "IQ2_XXS")
        #expect(Set(GGMLType.allCases.map(\.name)).count == GGMLType.allCases.count)
        #expect(GGMLType.q8_0.isQuantized && !GGMLType.bf16.isQuantized)
    }

    @Test func byteCount() {
        #expect(GGMLType.q4_0.byteCount(elements: 64) == 36)
        #expect(GGMLType.q4_0.byteCount(elements: 33) == nil)
        #expect(GGMLType.q4_0.byteCount(elements: 0) == 0)
        #expect(GGMLType.f32.byteCount(elements: -4) == nil)
        #expect(GGMLType.f32.byteCount(elements: 10) == 40)
        #expect(GGMLType.f64.byteCount(elements: Int.max / 4) == nil)
        #expect(GGMLType.q6_K.byteCount(elements: 512) == 420)
    }
}
