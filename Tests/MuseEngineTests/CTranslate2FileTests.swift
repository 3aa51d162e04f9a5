// The CTranslate2 model reader on files written here: every field read back, and every way a
// file can be cut or lie rejected with the offset, never a crash.
import CMuseKernels
import Foundation
import Testing
@testable import MuseEngine

/// Writes CTranslate2 model files (binary version 6) for the tests.
struct CTranslate2Writer {
    var bytes: [UInt8] = []

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { bytes += withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    mutating func u32(_ v: UInt32) { bytes += withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    mutating func string(_ s: String) {
        u16(UInt16(s.utf8.count + 1))
        bytes += Array(s.utf8) + [0]
    }

    /// A whole file: header, variables (name, shape, type id, raw bytes) and aliases.
    static func file(spec: String = "TestSpec", variables: [(String, [Int], UInt8, [UInt8])], aliases: [(String, String)] = []) -> [UInt8] {
        var w = CTranslate2Writer()
        w.u32(6)
        w.string(spec)
        w.u32(3)
        w.u32(UInt32(variables.count))
        for (name, shape, type, data) in variables {
            w.string(name)
            w.u8(UInt8(shape.count))
            for d in shape { w.u32(UInt32(d)) }
            w.u8(type)
            w.u32(UInt32(data.count))
            w.bytes += data
        }
        w.u32(UInt32(aliases.count))
        for (alias, target) in aliases {
            w.string(alias)
            w.string(target)
        }
        return w.bytes
    }

    static func halves(_ values: [Float]) -> [UInt8] {
        values.flatMap { v in withUnsafeBytes(of: muse_f32_to_f16(v).littleEndian) { Array($0) } }
    }

    static func floats(_ values: [Float]) -> [UInt8] {
        values.flatMap { v in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } }
    }
}

@Suite struct CTranslate2FileTests {
    static let sample = CTranslate2Writer.file(
        variables: [
            ("encoder/weight", [2, 3], 4, CTranslate2Writer.halves([1, -2, 0.5, 3, 0.25, -1])),
            ("encoder/bias", [3], 0, CTranslate2Writer.floats([0.125, 7, -3])),
            ("encoder/num_heads", [], 2, [8, 0]),
            ("decoder/bf", [2], 5, [0x80, 0x3F, 0x00, 0xC0]),
        ],
        aliases: [("decoder/projection/weight", "encoder/weight")])

    @Test func readsEveryField() throws {
        let file = try CTranslate2File(data: Data(Self.sample))
        #expect(file.version == 6)
        #expect(file.spec == "TestSpec")
        #expect(file.specRevision == 3)
        #expect(file.names == ["decoder/bf", "encoder/bias", "encoder/num_heads", "encoder/weight"])
        #expect(try file.variable("encoder/weight").shape == [2, 3])
        #expect(try file.floats("encoder/weight", shape: [2, 3]) == [1, -2, 0.5, 3, 0.25, -1])
        #expect(try file.floats("decoder/projection/weight") == [1, -2, 0.5, 3, 0.25, -1])
        #expect(try file.floats("encoder/bias") == [0.125, 7, -3])
        #expect(try file.floats("decoder/bf") == [1, -2])
        #expect(file.integer("encoder/num_heads") == 8)
        #expect(file.integer("encoder/bias") == nil)
        #expect(throws: CTranslate2Error.badShape(variable: "encoder/weight", expected: [3, 2], found: [2, 3])) {
            try file.floats("encoder/weight", shape: [3, 2])
        }
        #expect(throws: CTranslate2Error.missingVariable("nothing")) { try file.floats("nothing") }
        #expect(throws: CTranslate2Error.unsupportedDataType(variable: "encoder/num_heads", type: "int16")) {
            try file.floats("encoder/num_heads")
        }
    }

    /// Every prefix of a valid file is refused with an error, not a crash.
    @Test func everyTruncationIsAnError() {
        for length in 0..<Self.sample.count {
            do {
                _ = try CTranslate2File(data: Data(Self.sample.prefix(length)))
                Issue.record("a file cut at \(length) of \(Self.sample.count) bytes was accepted")
            } catch {
                #expect(!error.description.isEmpty)
            }
        }
    }

    @Test func liesAreRefusedWithTheirOffset() {
        func expectError(_ bytes: [UInt8], _ expected: CTranslate2Error) {
            #expect(throws: expected) { try CTranslate2File(data: Data(bytes)) }
        }
        var bytes = Self.sample
        bytes[0] = 9
        expectError(bytes, .unsupportedVersion(9))

        // The variable count claims far more than the file holds.
        let countAt = 4 + 2 + "TestSpec".utf8.count + 1 + 4
        bytes = Self.sample
        bytes.replaceSubrange(countAt..<(countAt + 4), with: [0xFF, 0xFF, 0xFF, 0x0F])
        expectError(bytes, .countTooLarge(what: "variable count", count: 0x0FFF_FFFF, at: countAt))

        // An unknown type id, and a byte count that disagrees with the shape.
        let first = countAt + 4, typeAt = first + 2 + "encoder/weight".utf8.count + 1 + 1 + 8
        bytes = Self.sample
        bytes[typeAt] = 9
        expectError(bytes, .unknownDataType(9, variable: "encoder/weight", at: typeAt))
        bytes = Self.sample
        bytes[typeAt + 1] = 13
        expectError(bytes, .sizeMismatch(variable: "encoder/weight", shape: [2, 3], bytes: 13, at: typeAt + 1))

        // A name that is not NUL-terminated.
        bytes = Self.sample
        bytes[first + 2 + "encoder/weight".utf8.count] = 0x41
        expectError(bytes, .invalidString(at: first))

        // Huge dimensions are refused before any allocation.
        bytes = Self.sample
        let dimAt = first + 2 + "encoder/weight".utf8.count + 1 + 1
        bytes.replaceSubrange(dimAt..<(dimAt + 4), with: [0xFF, 0xFF, 0xFF, 0xFF])
        bytes.replaceSubrange((dimAt + 4)..<(dimAt + 8), with: [0xFF, 0xFF, 0xFF, 0xFF])
        #expect(throws: CTranslate2Error.self) { try CTranslate2File(data: Data(bytes)) }

        expectError(Self.sample + [0, 0], .trailingBytes(at: Self.sample.count, count: 2))
        expectError(CTranslate2Writer.file(variables: [("a", [1], 0, [0, 0, 0, 0])], aliases: [("b", "missing")]),
                    .danglingAlias("b", target: "missing", at: 4 + 2 + 9 + 4 + 4 + 2 + 2 + 1 + 4 + 1 + 4 + 4 + 4))
        expectError(CTranslate2Writer.file(variables: [("a", [1], 0, [0, 0, 0, 0]), ("a", [1], 0, [0, 0, 0, 0])]),
                    .duplicateVariable("a", at: 4 + 2 + 9 + 4 + 4 + 2 + 2 + 1 + 4 + 1 + 4 + 4))
    }

    /// Random byte flips in a valid file: each parse ends, with a file or an error.
    @Test func randomCorruptionNeverCrashes() {
        var random = SeededRandom(seed: 21)
        for _ in 0..<2000 {
            var bytes = Self.sample
            for _ in 0..<(1 + Int(random.next() % 4)) {
                bytes[Int(random.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: random.next())
            }
            if let file = try? CTranslate2File(data: Data(bytes)) {
                for name in file.names { _ = try? file.floats(name) }
            }
        }
    }

    @Test func aMissingFileNamesItsPath() {
        #expect(throws: CTranslate2Error.self) { try CTranslate2File(path: "/nonexistent/model.bin") }
        do {
            _ = try CTranslate2File(path: "/nonexistent/model.bin")
        } catch {
            #expect(error.description.contains("/nonexistent/model.bin"))
        }
    }
}
