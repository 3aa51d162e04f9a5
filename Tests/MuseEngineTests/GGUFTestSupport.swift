// Shared helpers for GGUF tests: a raw byte builder for malformed files, a seeded RNG, parse shims.

import Foundation
@testable import MuseEngine

/// Builds GGUF bytes field by field, with no validation, so tests can produce exactly the
/// malformed input they want and record the offset of the field under test.
struct RawGGUF {
    var bytes: [UInt8] = []

    var count: Int { bytes.count }

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }

    /// gguf_string: u64 length + bytes (raw so tests can inject invalid UTF-8).
    mutating func string(_ raw: [UInt8]) {
        u64(UInt64(raw.count))
        bytes.append(contentsOf: raw)
    }
    mutating func string(_ s: String) { string(Array(s.utf8)) }

    mutating func header(version: UInt32 = 3, tensors: UInt64, kvs: UInt64) {
        u32(0x4655_4747)
        u32(version)
        u64(tensors)
        u64(kvs)
    }

    /// A key with a uint32 value.
    mutating func kvU32(_ key: String, _ v: UInt32) {
        string(key)
        u32(GGUFValueType.uint32.rawValue)
        u32(v)
    }

    mutating func tensorInfo(_ name: String, dims: [UInt64], type: UInt32, offset: UInt64) {
        string(name)
        u32(UInt32(dims.count))
        for d in dims { u64(d) }
        u32(type)
        u64(offset)
    }

    mutating func pad(to alignment: Int) {
        while bytes.count % alignment != 0 { bytes.append(0) }
    }

    mutating func zeros(_ n: Int) { bytes.append(contentsOf: repeatElement(0, count: n)) }
}

/// Parses and returns the error, or nil on success, so expectations show both sides.
func parseError(_ bytes: some Collection<UInt8>) -> GGUFError? {
    do {
        _ = try GGUFFile(data: bytes)
        return nil
    } catch {
        return error
    }
}

func randomBytes(_ n: Int, using rng: inout SeededRandom) -> [UInt8] {
    (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
}

/// A small but representative valid file: every value type, nested arrays, a few tensors.
func sampleWriter(version: UInt32 = 3, alignment: Int = 32) -> GGUFWriter {
    var rng = SeededRandom(seed: 42)
    var w = GGUFWriter(version: version, alignment: alignment)
    w["general.architecture"] = "llama"
    w["general.name"] = .string("tiny ünïcödé 🦙")
    w["general.empty"] = .string("")
    w["v.u8"] = .uint8(200)
    w["v.i8"] = .int8(-100)
    w["v.u16"] = .uint16(60000)
    w["v.i16"] = .int16(-30000)
    w["v.u32"] = .uint32(4_000_000_000)
    w["v.i32"] = .int32(-2_000_000_000)
    w["v.f32"] = .float32(3.25)
    w["v.bool.t"] = .bool(true)
    w["v.bool.f"] = .bool(false)
    w["v.u64"] = .uint64(.max)
    w["v.i64"] = .int64(.min)
    w["v.f64"] = .float64(-1e300)
    w["v.f32.inf"] = .float32(-.infinity)
    w["llama.block_count"] = 2
    w["tokenizer.ggml.tokens"] = .array(["<s>", "</s>", "a", "b", "ab", "ünï"])
    w["tokenizer.ggml.scores"] = .array([0.0, -1.5, 2.25, 3, 4, 5].map { GGUFValue.float32($0) })
    w["tokenizer.ggml.token_type"] = .array([1, 2, 3, 1, 1, 1].map { GGUFValue.int32($0) })
    w["v.arr.u8"] = .array([.uint8(0), .uint8(255)])
    w["v.arr.bool"] = .array([.bool(true), .bool(false)])
    w["v.arr.f64"] = .array([.float64(1.5), .float64(-2)])
    w["v.arr.empty"] = .array([])
    w["v.arr.nested"] = .array([
        .array([.uint16(1), .uint16(2)]),
        .array([.string("x")]),
        .array([]),
        .array([.array([.int64(-7)])]),
    ])
    w.addTensor("token_embd.weight", shape: [32, 3], type: .q8_0, bytes: randomBytes(34 * 3, using: &rng))
    w.addTensor("output_norm.weight", shape: [5], floats: [1, 2, 3, 4, 5])
    w.addTensor("blk.0.attn_q.weight", shape: [256, 2], type: .q4_K, bytes: randomBytes(144 * 2, using: &rng))
    w.addTensor("blk.0.ffn_up.weight", shape: [64, 2, 1, 3], type: .q4_1, bytes: randomBytes(2 * 20 * 6, using: &rng))
    w.addTensor("blk.0.f16", shape: [3, 3], type: .f16, bytes: randomBytes(18, using: &rng))
    w.addTensor("blk.0.mx", shape: [32], type: .mxfp4, bytes: randomBytes(17, using: &rng))
    return w
}

func temporaryPath(_ name: String) -> String {
    let dir = FileManager.default.temporaryDirectory.path
    return "\(dir)/muse-gguf-\(ProcessInfo.processInfo.processIdentifier)-\(name)"
}
