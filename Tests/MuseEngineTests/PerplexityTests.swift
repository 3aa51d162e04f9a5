// Perplexity and KL divergence on tiny synthetic models: the figures against a direct computation,
// llama.cpp's base file written and read back, and hostile base files refused with a reason.
import Foundation
import Testing
@testable import MuseEngine

@Suite struct PerplexityTests {
    static let chunk = 32

    /// 3 chunks of random tokens of the tiny vocabulary.
    static func tokens(seed: UInt64 = 7) -> [Int32] {
        var random = SeededRandom(seed: seed)
        return (0..<(3 * chunk)).map { _ in Int32(random.next() % UInt64(TinyLlama.vocab)) }
    }

    static func temporary(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString)").path
    }

    @Test func perplexityIsTheMeanLikelihoodOfEachChunksSecondHalf() throws {
        let path = try TinyLlama(weightType: .f32, tied: false, kvHeads: 2).write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let model = try LocalModel(path: path, threads: 2)
        let tokens = Self.tokens()
        let report = try model.perplexity(tokens: tokens, chunkSize: Self.chunk)
        #expect(report.chunks == 3)
        #expect(report.tokensScored == 3 * (Self.chunk - 1 - Self.chunk / 2))

        // The same figure, one position at a time from an empty cache.
        var nll = 0.0, count = 0
        for c in 0..<3 {
            let chunk = Array(tokens[(c * Self.chunk)..<((c + 1) * Self.chunk)])
            for p in (Self.chunk / 2)..<(Self.chunk - 1) {
                let logits = try model.nextTokenLogits(Array(chunk[0...p]), batch: p + 1).map(Double.init)
                let m = logits.max()!
                let logZ = m + log(logits.reduce(0) { $0 + exp($1 - m) })
                nll += logZ - logits[Int(chunk[p + 1])]
                count += 1
            }
        }
        #expect(count == report.tokensScored)
        #expect(abs(exp(nll / Double(count)) - report.perplexity) <= 1e-3 * report.perplexity)
        #expect(report.kl == nil)
    }

    @Test func aBaseWrittenAndReadBackGivesNoDivergenceFromItself() throws {
        // F32 weights: the tiny random Q8_0 model is so sure of itself that the base's floor (16
        // nats below the best token) would cut most of the likelihoods it scores.
        let path = try TinyLlama(weightType: .f32, tied: false, kvHeads: 2).write()
        let other = try TinyLlama(weightType: .f32, tied: false, kvHeads: 2, seed: 99).write()
        let basePath = Self.temporary("base")
        defer { for p in [path, other, basePath] { try? FileManager.default.removeItem(atPath: p) } }
        let model = try LocalModel(path: path, threads: 2)
        let written = try model.perplexity(tokens: Self.tokens(), chunkSize: Self.chunk, maxChunks: 2, recordTo: basePath)

        let base = try LogitsBase(contentsOf: URL(fileURLWithPath: basePath))
        #expect(base.chunkSize == Self.chunk && base.chunkCount == 2 && base.vocabularySize == TinyLlama.vocab)
        #expect(base.tokens == Array(Self.tokens().prefix(2 * Self.chunk)))

        let same = try model.perplexity(tokens: [], base: base)
        let kl = try #require(same.kl)
        #expect(kl.mean < 1e-4, "a model against its own logits: \(kl.mean)")
        #expect(kl.sameTopRate == 1)
        #expect(abs(kl.basePerplexity - written.perplexity) <= 1e-3 * written.perplexity,
                "perplexity \(written.perplexity), from the base \(kl.basePerplexity)")
        #expect(same.perplexity == written.perplexity)

        // Another model's predictions diverge, and its top token differs somewhere.
        let different = try LocalModel(path: other, threads: 2).perplexity(tokens: [], base: base)
        let divergence = try #require(different.kl)
        #expect(divergence.mean > 0.01)
        #expect(divergence.percentile99 >= divergence.median)
    }

    @Test func hostileBaseFilesAreRefusedWithAReason() throws {
        let path = try TinyLlama(weightType: .q8_0, tied: false, kvHeads: 2).write()
        let basePath = Self.temporary("base")
        defer { for p in [path, basePath] { try? FileManager.default.removeItem(atPath: p) } }
        let model = try LocalModel(path: path, threads: 2)
        _ = try model.perplexity(tokens: Self.tokens(), chunkSize: Self.chunk, maxChunks: 2, recordTo: basePath)
        let good = try Data(contentsOf: URL(fileURLWithPath: basePath))

        func reason(_ bytes: Data) -> String? {
            let broken = Self.temporary("broken")
            defer { try? FileManager.default.removeItem(atPath: broken) }
            _ = FileManager.default.createFile(atPath: broken, contents: bytes)
            do {
                _ = try LogitsBase(contentsOf: URL(fileURLWithPath: broken))
                return nil
            } catch {
                return "\(error)"
            }
        }
        func patched(_ offset: Int, _ value: Int32) -> Data {
            var data = good
            withUnsafeBytes(of: value) { data.replaceSubrange(offset..<(offset + 4), with: $0) }
            return data
        }
        #expect(reason(good) == nil)
        #expect(reason(Data()).map { $0.contains("_logits_") } == true)
        #expect(reason(good.prefix(14)).map { $0.contains("header") } == true)
        #expect(reason(good.dropLast(3)).map { $0.contains("bytes") } == true)
        #expect(reason(patched(8, -5)).map { $0.contains("chunk size") } == true)
        #expect(reason(patched(16, Int32.max)).map { $0.contains("chunk count") } == true)
        #expect(reason(patched(20, 100_000)).map { $0.contains("outside the vocabulary") } == true)

        // A well-formed base of another vocabulary does not fit this model.
        let foreignPath = Self.temporary("foreign")
        defer { try? FileManager.default.removeItem(atPath: foreignPath) }
        do {
            let writer = try LogitsBaseWriter(path: foreignPath, chunkSize: Self.chunk, vocabularySize: 300,
                                              tokens: Array(Self.tokens().prefix(2 * Self.chunk)))
            let logits = (0..<300).map { Float($0) / 100 }
            for _ in 0..<(2 * LogitsBase.scoredPerChunk(Self.chunk)) {
                try logits.withUnsafeBufferPointer { try writer.append(logits: $0, max: 2.99, logSumExp: 4.0) }
            }
        }
        let foreign = try LogitsBase(contentsOf: URL(fileURLWithPath: foreignPath))
        #expect { _ = try model.perplexity(tokens: [], base: foreign) } throws: { error in
            guard case PerplexityError.mismatch = error else { return false }
            return "\(error)".contains("300")
        }
        // Too little text for two chunks.
        #expect(throws: PerplexityError.self) { _ = try model.perplexity(tokens: [1, 2, 3], chunkSize: Self.chunk) }
    }
}
