// Each architecture's forward pass against a plain reference written from the equations (double
// precision, every weight dequantized, no cache, no batching): llama (with and without Llama 3's
// rope frequency factors), qwen2 (biases, NeoX rope),
// qwen3 (per-head Q/K norms) and gemma3 (embedding scale, post-norms, GELU, a local layer with a
// sliding window and its own rope base) on tiny synthetic models.
import CMuseKernels
import Foundation
import Testing
@testable import MuseEngine

/// The equations of a Llama-family decoder, one sequence, straight from the file's tensors.
struct ReferenceDecoder {
    let file: GGUFFile
    let architecture: String
    let dim: Int, heads: Int, kvHeads: Int, headDim: Int, layers: Int, vocab: Int
    let ropeBase: Double, epsilon: Double
    /// Gemma 3: layers with `l % period < period - 1` see the last `window` positions only.
    let window: Int, period: Int, localRopeBase: Double
    var isGemma: Bool { architecture == "gemma3" }

    init(path: String) throws {
        let file = try GGUFFile(path: path)
        let a = try #require(file.architecture)
        let metadata = file.metadata
        func int(_ key: String) throws -> Int { try #require(metadata["\(a).\(key)"]?.int) }
        self.file = file
        architecture = a
        dim = try int("embedding_length")
        heads = try int("attention.head_count")
        kvHeads = try int("attention.head_count_kv")
        headDim = dim / heads
        layers = try int("block_count")
        vocab = try #require(metadata["tokenizer.ggml.tokens"]?.array?.count)
        ropeBase = try #require(metadata["\(a).rope.freq_base"]?.double)
        epsilon = try #require(metadata["\(a).attention.layer_norm_rms_epsilon"]?.double)
        window = metadata["\(a).attention.sliding_window"]?.int ?? 0
        period = metadata["\(a).attention.sliding_window_pattern"]?.int ?? 6
        localRopeBase = metadata["\(a).rope.freq_base_swa"]?.double ?? 10_000
    }

    func isLocal(_ layer: Int) -> Bool { window > 0 && layer % period < period - 1 }

    /// Llama 3's per-frequency divisors of the rotation angles, when the file has them.
    var ropeFactors: [Double]? { ignoreRopeFactors ? nil : tensor("rope_freqs.weight") }
    /// Leaves them out, to show that the comparison would notice.
    var ignoreRopeFactors = false

    /// A tensor's values, row by row (rows of ne[0] elements), or nil if the file lacks it.
    func tensor(_ name: String) -> [Double]? {
        guard let info = file.tensor(named: name) else { return nil }
        let cols = info.shape[0], rows = info.shape.dropFirst().reduce(1, *)
        let rowBytes = muse_row_bytes(Int32(info.type.rawValue), Int64(cols))
        var out = [Float](repeating: 0, count: rows * cols)
        out.withUnsafeMutableBufferPointer { buffer in
            for r in 0..<rows {
                muse_dequantize_row(Int32(info.type.rawValue), file.data(for: info) + r * rowBytes, buffer.baseAddress! + r * cols, Int64(cols))
            }
        }
        return out.map(Double.init)
    }

    func matvec(_ w: [Double], _ x: [Double], bias: [Double]? = nil) -> [Double] {
        let cols = x.count, rows = w.count / cols
        var y = bias ?? [Double](repeating: 0, count: rows)
        for r in 0..<rows {
            for c in 0..<cols { y[r] += w[r * cols + c] * x[c] }
        }
        return y
    }

    func rmsnorm(_ x: [Double], _ weight: [Double]) -> [Double] {
        let scale = 1 / (x.reduce(0) { $0 + $1 * $1 } / Double(x.count) + epsilon).squareRoot()
        return zip(x, weight).map { $0 * scale * $1 }
    }

    /// Rotates one head: pairs (2i, 2i+1) for llama, (i, i + d/2) for NeoX-style models.
    func rope(_ head: [Double], position: Int, base: Double) -> [Double] {
        var out = head
        let half = headDim / 2
        for i in 0..<half {
            let theta = Double(position) * pow(base, -2 * Double(i) / Double(headDim)) / (ropeFactors?[i] ?? 1)
            let (a, b) = architecture == "llama" ? (2 * i, 2 * i + 1) : (i, i + half)
            out[a] = head[a] * cos(theta) - head[b] * sin(theta)
            out[b] = head[a] * sin(theta) + head[b] * cos(theta)
        }
        return out
    }

    /// The next-token logits after `tokens`.
    func logits(_ tokens: [Int32]) throws -> [Double] {
        let embedding = try #require(tensor("token_embd.weight"))
        let scale = isGemma ? Double(dim).squareRoot() : 1
        var xs = tokens.map { embedding[Int($0) * dim..<(Int($0) + 1) * dim].map { $0 * scale } }
        let group = heads / kvHeads
        for l in 0..<layers {
            let p = "blk.\(l)."
            func w(_ name: String) throws -> [Double] { try #require(tensor(p + name), "\(p + name)") }
            var keys: [[Double]] = [], values: [[Double]] = []
            var queries: [[Double]] = []
            for (t, x) in xs.enumerated() {
                let xn = rmsnorm(x, try w("attn_norm.weight"))
                var q = matvec(try w("attn_q.weight"), xn, bias: tensor(p + "attn_q.bias"))
                var k = matvec(try w("attn_k.weight"), xn, bias: tensor(p + "attn_k.bias"))
                let v = matvec(try w("attn_v.weight"), xn, bias: tensor(p + "attn_v.bias"))
                func heads(_ x: [Double], _ count: Int, norm: [Double]?) -> [Double] {
                    (0..<count).flatMap { h -> [Double] in
                        var head = Array(x[h * headDim..<(h + 1) * headDim])
                        if let norm { head = rmsnorm(head, norm) }
                        return rope(head, position: t, base: isLocal(l) ? localRopeBase : ropeBase)
                    }
                }
                q = heads(q, self.heads, norm: tensor(p + "attn_q_norm.weight"))
                k = heads(k, kvHeads, norm: tensor(p + "attn_k_norm.weight"))
                queries.append(q)
                keys.append(k)
                values.append(v)
            }
            for t in xs.indices {
                var attention = [Double](repeating: 0, count: heads * headDim)
                for h in 0..<heads {
                    let kv = (h / group) * headDim
                    let visible = isLocal(l) ? max(0, t - window + 1)...t : 0...t
                    let scores = visible.map { j -> Double in
                        var dot = 0.0
                        for d in 0..<headDim { dot += queries[t][h * headDim + d] * keys[j][kv + d] }
                        return dot / Double(headDim).squareRoot()
                    }
                    let m = scores.max()!
                    let e = scores.map { exp($0 - m) }, z = e.reduce(0, +)
                    for (i, j) in visible.enumerated() {
                        for d in 0..<headDim { attention[h * headDim + d] += e[i] / z * values[j][kv + d] }
                    }
                }
                var o = matvec(try w("attn_output.weight"), attention)
                if isGemma { o = rmsnorm(o, try w("post_attention_norm.weight")) }
                xs[t] = zip(xs[t], o).map { $0 + $1 }
                let xn = rmsnorm(xs[t], try w("ffn_norm.weight"))
                let gate = matvec(try w("ffn_gate.weight"), xn), up = matvec(try w("ffn_up.weight"), xn)
                let hidden = zip(gate, up).map { g, u in
                    isGemma ? 0.5 * g * (1 + tanh((2 / Double.pi).squareRoot() * (g + 0.044715 * g * g * g))) * u
                            : g / (1 + exp(-g)) * u
                }
                var down = matvec(try w("ffn_down.weight"), hidden)
                if isGemma { down = rmsnorm(down, try w("post_ffw_norm.weight")) }
                xs[t] = zip(xs[t], down).map { $0 + $1 }
            }
        }
        let out = rmsnorm(xs[xs.count - 1], try #require(tensor("output_norm.weight")))
        return matvec(try #require(tensor("output.weight") ?? tensor("token_embd.weight")), out)
    }
}

@Suite struct DecoderReferenceTests {
    @Test(arguments: [("llama", false), ("llama", true), ("qwen2", false), ("qwen3", false), ("gemma3", false)])
    func forwardPassFollowsTheEquations(architecture: String, ropeFactors: Bool) throws {
        let path = try TinyLlama(architecture: architecture, weightType: .f32, tied: false, kvHeads: 2, ropeFactors: ropeFactors).write()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let model = try LocalModel(path: path, threads: 2)
        // Past the many-query threshold in one call, so that both attention kernels are checked.
        let prompt = (0..<(DecoderModel.manyQueryThreshold + 6)).map { Int32(($0 * 37 + 11) % 256) }
        let expected = try ReferenceDecoder(path: path).logits(prompt)
        // The engine keeps keys and values in fp16 and quantizes nothing else for F32 weights (0.2%
        // of the largest logit seen); the one-query kernel (token by token) also sums values in
        // fp16, as llama.cpp's does (0.5% seen).
        for (batch, tolerance) in [(prompt.count, 5e-3), (1, 1e-2)] {
            let got = try model.nextTokenLogits(prompt, batch: batch)
            let worst = zip(got, expected).map { abs(Double($0) - $1) }.max() ?? .infinity
            let scale = expected.map(abs).max() ?? 1
            #expect(worst <= tolerance * max(scale, 1), "\(architecture), batch \(batch): largest logit error \(worst) (logits up to \(scale))")
        }
        if ropeFactors {
            var careless = try ReferenceDecoder(path: path)
            careless.ignoreRopeFactors = true
            let wrong = try careless.logits(prompt)
            let got = try model.nextTokenLogits(prompt, batch: prompt.count)
            let gap = zip(got, wrong).map { abs(Double($0) - $1) }.max() ?? 0
            #expect(gap > 5e-2 * max(expected.map(abs).max() ?? 1, 1), "the factors should matter: \(gap)")
        }
    }
}
