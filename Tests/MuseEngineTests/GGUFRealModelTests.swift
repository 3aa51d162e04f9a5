// Real-model test: reads SmolLM2-135M (from the model store or MUSE_TEST_MODEL); skipped when absent.

import Foundation
import Testing
@testable import MuseEngine

let realModelPath = TestEnvironment.smolLM2Path ?? ""

@Suite("GGUF real model", .enabled(if: TestEnvironment.smolLM2Path != nil))
struct GGUFRealModelTests {
    @Test("SmolLM2-135M-Instruct Q4_1 metadata and tensors")
    func smolLM2() throws {
        let clock = ContinuousClock()
        var opened: GGUFFile?
        let elapsed = try clock.measure { opened = try GGUFFile(path: realModelPath) }
        let file = try #require(opened)
        print("GGUF: opened \(realModelPath) in \(elapsed)")

        #expect(file.version == 3)
        #expect(file.architecture == "llama")
        #expect(file.tensors.count == 272)
        #expect(file["llama.block_count"]?.int == 30)
        #expect(file.alignment == 32)
        #expect(file.metadataKeys.count == file.metadata.count)

        let tokens = try #require(file["tokenizer.ggml.tokens"]?.strings)
        #expect(tokens.count == 49_152)
        #expect(file["tokenizer.ggml.merges"]?.strings?.count == 48_900)

        let embd = try #require(file.tensor(named: "token_embd.weight"))
        #expect(embd.shape == [576, 49_152])
        #expect(embd.type == .q8_0)
        #expect(embd.byteCount == 576 / 32 * 34 * 49_152)

        let down = try #require(file.tensor(named: "blk.0.ffn_down.weight"))
        #expect(down.shape == [1536, 576])
        #expect(down.type == .q4_1)
        #expect(down.byteCount == 1536 / 32 * 20 * 576)

        // Tensors tile the data section without overlapping and end inside the file.
        let sorted = file.tensors.sorted { $0.offset < $1.offset }
        for (a, b) in zip(sorted, sorted.dropFirst()) {
            #expect(a.offset + a.byteCount <= b.offset, "\(a.name) overlaps \(b.name)")
        }
        let last = try #require(sorted.last)
        #expect(file.dataOffset + last.offset + last.byteCount <= file.fileSize)

        // The first q8_0 block's f16 scale is a small finite number in a real embedding.
        let scaleBits = file.data(for: embd).loadUnaligned(as: UInt16.self)
        let scale = halfToFloat(scaleBits)
        #expect(scale.isFinite && abs(scale) < 1)
    }
}

/// IEEE half → Float without relying on `Float16` (unavailable on some x86 toolchains).
private func halfToFloat(_ bits: UInt16) -> Float {
    let sign: Float = bits & 0x8000 == 0 ? 1 : -1
    let exponent = Int((bits >> 10) & 0x1F)
    let mantissa = Float(bits & 0x3FF)
    switch exponent {
    case 0: return sign * mantissa * 0x1p-24
    case 31: return mantissa == 0 ? sign * .infinity : .nan
    default: return sign * (1 + mantissa / 1024) * Float(sign: .plus, exponent: exponent - 15, significand: 1)
    }
}
