// Fuzz-style robustness tests: truncations and seeded corruptions must never crash or hang the reader.

import Foundation
import Testing
@testable import MuseEngine

@Suite("GGUF fuzzing")
struct GGUFFuzzTests {
    /// Parses `bytes`; on success checks that what the reader promises actually holds,
    /// touching every tensor byte so an out-of-bounds promise would be caught.
    @discardableResult
    func parseAndVerify(_ bytes: [UInt8]) -> Result<GGUFFile, GGUFError> {
        let result: Result<GGUFFile, GGUFError>
        do { result = .success(try GGUFFile(data: bytes)) } catch { result = .failure(error) }
        if case .success(let file) = result {
            #expect(file.fileSize == bytes.count)
            #expect(file.metadataKeys.count == file.metadata.count)
            for t in file.tensors {
                #expect(t.offset % file.alignment == 0)
                #expect(file.dataOffset + t.offset + t.byteCount <= bytes.count)
                #expect(t.type.byteCount(elements: t.elementCount).map { $0 == t.byteCount } ?? false)
                var sum: UInt8 = 0
                for b in file.bytes(for: t) { sum &+= b }
                _ = sum
            }
        }
        return result
    }

    @Test("every truncation fails cleanly")
    func everyTruncation() throws {
        let full = sampleWriter().serializedBytes()
        let file = try GGUFFile(data: full)
        let dataEnd = file.tensors.map { file.dataOffset + $0.offset + $0.byteCount }.max() ?? 0
        for length in 0..<full.count {
            let result = parseAndVerify(Array(full.prefix(length)))
            if length < dataEnd {
                guard case .failure = result else {
                    Issue.record("truncation to \(length) bytes parsed successfully")
                    continue
                }
            }
        }
        guard case .success = parseAndVerify(full) else {
            Issue.record("the untruncated file must parse"); return
        }
    }

    @Test("seeded random byte corruption", arguments: [UInt64(1), 2, 3])
    func randomCorruption(seed: UInt64) {
        var rng = SeededRandom(seed: seed)
        let full = sampleWriter(alignment: seed == 3 ? 64 : 32).serializedBytes()
        // Most interesting structure is in the first part; bias mutations there.
        let headerEnd = min(full.count, 1200)
        var failures = 0
        for _ in 0..<300 {
            var bytes = full
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let pos = Bool.random(using: &rng)
                    ? Int.random(in: 0..<headerEnd, using: &rng)
                    : Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: bytes[pos] = UInt8.random(in: 0...255, using: &rng)
                case 1: bytes[pos] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &rng)
                case 2: bytes[pos] = 0xFF
                default: bytes[pos] = 0
                }
            }
            if Bool.random(using: &rng) {
                bytes.removeLast(Int.random(in: 0..<bytes.count, using: &rng))
            }
            if case .failure = parseAndVerify(bytes) { failures += 1 }
        }
        #expect(failures > 0)
    }

    @Test("hostile 64-bit values at every offset")
    func hostileWords() {
        let full = sampleWriter().serializedBytes()
        let hostile: [UInt64] = [0, 1, 0xFF, 1 << 31, 1 << 32, 1 << 62, .max, .max - 7]
        // Counts and lengths are u64, types and n_dims u32; write both widths everywhere in
        // the metadata and tensor-info region.
        let region = min(full.count - 8, 1100)
        for pos in 0..<region {
            for value in hostile {
                var bytes = full
                withUnsafeBytes(of: value.littleEndian) { raw in
                    for i in 0..<8 { bytes[pos + i] = raw[i] }
                }
                parseAndVerify(bytes)
                var narrow = full
                withUnsafeBytes(of: UInt32(truncatingIfNeeded: value).littleEndian) { raw in
                    for i in 0..<4 { narrow[pos + i] = raw[i] }
                }
                parseAndVerify(narrow)
            }
        }
    }

    @Test("random garbage after a valid header")
    func garbageBodies() {
        var rng = SeededRandom(seed: 99)
        for _ in 0..<300 {
            var r = RawGGUF()
            r.header(
                version: Bool.random(using: &rng) ? 2 : 3,
                tensors: UInt64.random(in: 0...4, using: &rng),
                kvs: UInt64.random(in: 0...6, using: &rng))
            r.bytes += randomBytes(Int.random(in: 0...400, using: &rng), using: &rng)
            parseAndVerify(r.bytes)
        }
    }
}
