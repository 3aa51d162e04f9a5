// The Llama architecture on tiny synthetic models written with GGUFWriter: every weight type the
// engine multiplies, tied and separate output heads, with and without grouped-query attention, and
// the load errors of files whose metadata or tensors do not fit together.
import CMuseKernels
import Foundation
import MuseCore
import Testing
@testable import MuseEngine

/// A 2-layer decoder with random weights: dim 64, 4 heads of 16, ffn 96, vocabulary 260. As
/// `llama`, or as `qwen2` (with Q/K/V biases), `qwen3` (with per-head Q/K norms) or `gemma3` (Q/K
/// norms, post-norms, layer 0 local with a window of 5 positions and its own rope base).
struct TinyLlama {
    static let dim = 64, heads = 4, headDim = 16, ffn = 96, layers = 2, vocab = 260

    var architecture = "llama"
    var weightType: GGMLType = .q8_0
    var tied = true
    var kvHeads = 4
    var seed: UInt64 = 1
    /// Llama 3's per-frequency rope divisors (`rope_freqs.weight`).
    var ropeFactors = false

    /// Writes the file; `edit` may break it on purpose.
    func write(edit: (inout GGUFWriter) -> Void = { _ in }) throws -> String {
        var w = GGUFWriter()
        var fixture = KernelFixture(seed: seed)
        func matrix(_ name: String, rows: Int, cols: Int, type: GGMLType? = nil) {
            let t = type ?? weightType
            // Types the kernels know get valid scales; others (to be refused) just the right size.
            let bytes = muse_type_supported(Int32(t.rawValue)) != 0
                ? (0..<rows).flatMap { _ in fixture.weightRow(Int32(t.rawValue), cols) }
                : (0..<(rows * (t.byteCount(elements: cols) ?? 0))).map { UInt8(truncatingIfNeeded: $0 * 31) }
            w.addTensor(name, shape: [cols, rows], type: t, bytes: bytes)
        }
        func norm(_ name: String, count: Int = Self.dim) {
            w.addTensor(name, shape: [count], floats: (0..<count).map { _ in 0.5 + fixture.floats(1)[0] * 0.1 })
        }
        func vector(_ name: String, _ count: Int) { w.addTensor(name, shape: [count], floats: fixture.floats(count, scale: 0.5)) }
        let kvDim = kvHeads * Self.headDim
        let a = architecture
        w.set("general.architecture", .string(a))
        w.set("general.name", .string("tiny"))
        w.set("\(a).context_length", .uint32(128))
        w.set("\(a).embedding_length", .uint32(UInt32(Self.dim)))
        w.set("\(a).block_count", .uint32(UInt32(Self.layers)))
        w.set("\(a).feed_forward_length", .uint32(UInt32(Self.ffn)))
        w.set("\(a).attention.head_count", .uint32(UInt32(Self.heads)))
        w.set("\(a).attention.head_count_kv", .uint32(UInt32(kvHeads)))
        w.set("\(a).rope.dimension_count", .uint32(UInt32(Self.headDim)))
        w.set("\(a).rope.freq_base", .float32(10_000))
        w.set("\(a).attention.layer_norm_rms_epsilon", .float32(1e-5))
        if a == "gemma3" {
            w.set("gemma3.attention.sliding_window", .uint32(5))
            w.set("gemma3.attention.sliding_window_pattern", .uint32(2))
            w.set("gemma3.rope.freq_base_swa", .float32(1_000))
        }
        let vocabulary = tinyVocabulary(extra: [("<s>", 3), ("</s>", 3), (" hello", 1), (" world", 1)])
        w.set("tokenizer.ggml.model", .string("gpt2"))
        w.set("tokenizer.ggml.pre", .string("gpt-2"))
        w.set("tokenizer.ggml.tokens", .array(vocabulary.tokens.map { .string($0) }))
        w.set("tokenizer.ggml.token_type", .array(vocabulary.tokenTypes.map { .int32($0) }))
        w.set("tokenizer.ggml.merges", .array([]))
        w.set("tokenizer.ggml.bos_token_id", .uint32(256))
        w.set("tokenizer.ggml.eos_token_id", .uint32(257))
        matrix("token_embd.weight", rows: Self.vocab, cols: Self.dim)
        norm("output_norm.weight")
        if !tied { matrix("output.weight", rows: Self.vocab, cols: Self.dim) }
        if ropeFactors { w.addTensor("rope_freqs.weight", shape: [Self.headDim / 2], floats: (0..<(Self.headDim / 2)).map { 1 + Float($0) }) }
        for l in 0..<Self.layers {
            let p = "blk.\(l)."
            norm(p + "attn_norm.weight")
            matrix(p + "attn_q.weight", rows: Self.dim, cols: Self.dim)
            matrix(p + "attn_k.weight", rows: kvDim, cols: Self.dim)
            matrix(p + "attn_v.weight", rows: kvDim, cols: Self.dim)
            if a == "qwen2" {
                vector(p + "attn_q.bias", Self.dim)
                vector(p + "attn_k.bias", kvDim)
                vector(p + "attn_v.bias", kvDim)
            }
            if a == "qwen3" || a == "gemma3" {
                norm(p + "attn_q_norm.weight", count: Self.headDim)
                norm(p + "attn_k_norm.weight", count: Self.headDim)
            }
            if a == "gemma3" {
                norm(p + "post_attention_norm.weight")
                norm(p + "post_ffw_norm.weight")
            }
            matrix(p + "attn_output.weight", rows: Self.dim, cols: Self.dim)
            norm(p + "ffn_norm.weight")
            matrix(p + "ffn_gate.weight", rows: Self.ffn, cols: Self.dim)
            matrix(p + "ffn_up.weight", rows: Self.ffn, cols: Self.dim)
            matrix(p + "ffn_down.weight", rows: Self.dim, cols: Self.ffn)
        }
        edit(&w)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tiny-\(UUID().uuidString).gguf").path
        try w.write(toFile: path)
        return path
    }
}

@Suite struct SyntheticLlamaTests {
    static let variants: [(GGMLType, Bool, Int)] = [
        (.f32, true, 4), (.f16, false, 2), (.q4_0, true, 2), (.q4_1, false, 4), (.q8_0, false, 1),
    ]

    @Test(arguments: variants)
    func everyWeightTypeRunsAndBatchingChangesNothing(type: GGMLType, tied: Bool, kvHeads: Int) async throws {
        let path = try TinyLlama(weightType: type, tied: tied, kvHeads: kvHeads).write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let model = try LocalModel(path: path, threads: 2)
        let prompt: [Int32] = [258, 72, 101, 108, 108, 111, 259, 32, 119]
        // One forward call for the prompt, or one per token: the same logits, bit for bit.
        let whole = try model.nextTokenLogits(prompt, batch: prompt.count)
        let stepwise = try model.nextTokenLogits(prompt, batch: 1)
        #expect(whole.allSatisfy { $0.isFinite })
        #expect(whole == stepwise)
        let result = try await Collected.run(model.generate(GenerationRequest(prompt: .tokens(prompt), sampling: .greedy, maxTokens: 6)))
        #expect((1...6).contains(result.tokens.count))
        #expect(result.tokens.allSatisfy { (0..<Int32(TinyLlama.vocab)).contains($0.id) })
        // Greedy is deterministic.
        let again = try await Collected.run(model.generate(GenerationRequest(prompt: .tokens(prompt), sampling: .greedy, maxTokens: 6)))
        #expect(again.tokens.map(\.id) == result.tokens.map(\.id))
    }

    @Test(arguments: variants)
    func sequencesGiveTheSameBitsAloneAndTogether(type: GGMLType, tied: Bool, kvHeads: Int) throws {
        let path = try TinyLlama(weightType: type, tied: tied, kvHeads: kvHeads).write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let differences = try sequencesAloneAndTogether(try LocalModel(path: path, threads: 2))
        #expect(differences.isEmpty, "\(differences)")
    }

    func loadError(_ edit: (inout GGUFWriter) -> Void, _ base: TinyLlama = TinyLlama()) throws -> ModelLoadError? {
        let path = try base.write(edit: edit)
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            _ = try LocalModel(path: path, threads: 1)
            return nil
        } catch {
            return error
        }
    }

    @Test func metadataThatDoesNotFitIsRefused() throws {
        let mamba = try loadError { $0.set("general.architecture", .string("mamba")) }
        #expect(mamba == .unsupportedArchitecture("mamba"))
        let noLayers = try loadError { $0["llama.block_count"] = nil }
        #expect(noLayers == .missingMetadata("llama.block_count"))
        if case .invalidMetadata(let key, _)? = try loadError({ $0.set("llama.attention.head_count_kv", .uint32(3)) }) {
            #expect(key == "llama.attention.head_count_kv")
        } else {
            Issue.record("a kv head count that does not divide the head count must be refused")
        }
        if case .invalidMetadata(let key, _)? = try loadError({ $0.set("llama.embedding_length", .string("64")) }) {
            #expect(key == "llama.embedding_length")
        } else {
            Issue.record("a string where a number belongs must be refused")
        }
        let noTokens = try loadError { $0["tokenizer.ggml.tokens"] = nil }
        #expect(noTokens == .missingMetadata("tokenizer.ggml.tokens"))
    }

    @Test func tensorsThatDoNotFitAreRefused() throws {
        // The file declares 3 layers but holds 2.
        let missing = try loadError { $0.set("llama.block_count", .uint32(3)) }
        #expect(missing == .missingTensor("blk.2.attn_norm.weight"))
        // A feed-forward width the tensors do not have: the shape check names the tensor.
        if case .badTensorShape(let tensor, _, _)? = try loadError({ $0.set("llama.feed_forward_length", .uint32(128)) }) {
            #expect(tensor == "blk.0.ffn_gate.weight")
        } else {
            Issue.record("a tensor of the wrong shape must be refused")
        }
        // A weight type the engine cannot multiply yet.
        let iq4 = TinyLlama(weightType: .iq4_nl)
        if case .unsupportedTensorType(_, let type)? = try loadError({ _ in }, iq4) {
            #expect(type == "IQ4_NL")
        } else {
            Issue.record("an IQ4_NL model must be refused with the type named")
        }
        // A qwen2 file without the biases its architecture has.
        let noBias = try loadError({ $0.removeTensor("blk.0.attn_k.bias") }, TinyLlama(architecture: "qwen2"))
        #expect(noBias == .missingTensor("blk.0.attn_k.bias"))
    }
}
