// Whisper's encoder–decoder on the engine's float kernels: two convolutions and a pre-norm
// transformer over 30-second windows of log-mel frames, and a text decoder that attends to them.
// Weights come from a CTranslate2 conversion (faster-whisper's): the encoder's widened to f32 at
// load (its products are bound by arithmetic), the decoder's kept fp16 (its steps are bound by
// the bytes they read).
import CMuseKernels
import Foundation

public final class WhisperModel: @unchecked Sendable {
    public struct Configuration: Sendable, Equatable {
        public var melCount: Int
        public var width: Int
        public var encoderHeads: Int
        public var decoderHeads: Int
        public var encoderLayers: Int
        public var decoderLayers: Int
        public var vocabularySize: Int
        /// Encoder positions: one per two mel frames of a window.
        public var audioContext: Int
        /// Decoder positions.
        public var textContext: Int
        public var feedForward: Int
    }

    /// A linear layer of `rows` outputs of `cols` inputs, and its bias (if any). The encoder's
    /// multiply hundreds of rows at once, a compute-bound product, and keep f32 weights transposed
    /// (k-major: `cols` rows of `rows` floats, as `muse_sgemm_kn` reads them). The decoder's
    /// multiply a token or a few, a pass over the weights bound by memory, and keep the file's fp16
    /// rows (`muse_sgemm_f16`), half the bytes to read.
    struct Linear {
        enum Weights {
            case kMajor([Float])
            case halfRows([UInt16])
        }

        let weights: Weights
        let bias: [Float]?
        let rows: Int
        let cols: Int
    }

    struct Norm {
        let gamma: [Float]
        let beta: [Float]
    }

    /// A pre-norm feed-forward block: x += down(gelu(up(norm(x)))).
    struct FeedForward {
        let norm: Norm, up: Linear, down: Linear
    }

    struct EncoderLayer {
        let attentionNorm: Norm, qkv: Linear, attentionOut: Linear
        let ffn: FeedForward
    }

    struct DecoderLayer {
        let selfNorm: Norm, selfQKV: Linear, selfOut: Linear
        let crossNorm: Norm, crossQuery: Linear, crossKV: Linear, crossOut: Linear
        let ffn: FeedForward
    }

    public let configuration: Configuration
    let conv1: Linear, conv2: Linear
    let encoderPositions: [Float]
    let encoderLayers: [EncoderLayer]
    let encoderNorm: Norm
    /// The token embeddings in fp16, which are also the output layer.
    let embeddings: [UInt16]
    let decoderPositions: [Float]
    let decoderLayers: [DecoderLayer]
    let decoderNorm: Norm
    let pool: WorkerPool

    public init(file: CTranslate2File, pool: WorkerPool) throws(CTranslate2Error) {
        self.pool = pool
        let conv1Shape = try file.variable("encoder/conv1/weight").shape
        guard conv1Shape.count == 3 else { throw .badShape(variable: "encoder/conv1/weight", expected: [0, 0, 3], found: conv1Shape) }
        let width = conv1Shape[0], mels = conv1Shape[1]
        let embeddingShape = try file.variable("decoder/embeddings/weight").shape
        guard embeddingShape.count == 2, embeddingShape[1] == width else {
            throw .badShape(variable: "decoder/embeddings/weight", expected: [0, width], found: embeddingShape)
        }
        let audioShape = try file.variable("encoder/position_encodings/encodings").shape
        let textShape = try file.variable("decoder/position_encodings/encodings").shape
        // A window's prompt (the previous text, at most half the context, and four special tokens)
        // must fit in the text context.
        guard audioShape.count == 2, audioShape[0] > 0 else {
            throw .badShape(variable: "encoder/position_encodings/encodings", expected: [1500, width], found: audioShape)
        }
        guard textShape.count == 2, textShape[0] >= 8 else {
            throw .badShape(variable: "decoder/position_encodings/encodings", expected: [448, width], found: textShape)
        }
        let layers = { (prefix: String) in file.variables.keys.filter { $0.hasPrefix(prefix) && $0.hasSuffix("/ffn/linear_0/weight") }.count }
        let feedForward = try file.variable("encoder/layer_0/ffn/linear_0/weight").shape.first ?? 0
        guard width >= 64, width % 64 == 0, mels > 0 else {
            throw .badShape(variable: "encoder/conv1/weight", expected: [512, 80, 3], found: conv1Shape)
        }
        let heads = { (name: String) -> Int in
            let count = file.integer(name) ?? width / 64
            return count > 0 && width % count == 0 ? count : width / 64
        }
        configuration = Configuration(
            melCount: mels, width: width, encoderHeads: heads("encoder/num_heads"), decoderHeads: heads("decoder/num_heads"),
            encoderLayers: layers("encoder/layer_"), decoderLayers: layers("decoder/layer_"),
            vocabularySize: embeddingShape[0], audioContext: audioShape[0], textContext: textShape[0], feedForward: feedForward)
        let c = configuration

        func linear(_ name: String, rows: Int, cols: Int) throws(CTranslate2Error) -> Linear {
            let bias = file.variables["\(name)/bias"] == nil ? nil : try file.floats("\(name)/bias", shape: [rows])
            let weights: Linear.Weights = name.hasPrefix("encoder/")
                ? .kMajor(transpose(try file.floats("\(name)/weight", shape: [rows, cols]), rows: rows, cols: cols))
                : .halfRows(try file.halves("\(name)/weight", shape: [rows, cols]))
            return Linear(weights: weights, bias: bias, rows: rows, cols: cols)
        }
        func norm(_ name: String) throws(CTranslate2Error) -> Norm {
            Norm(gamma: try file.floats("\(name)/gamma", shape: [width]), beta: try file.floats("\(name)/beta", shape: [width]))
        }
        func block(_ prefix: String) throws(CTranslate2Error) -> FeedForward {
            FeedForward(norm: try norm("\(prefix)/layer_norm"), up: try linear("\(prefix)/linear_0", rows: feedForward, cols: width),
                        down: try linear("\(prefix)/linear_1", rows: width, cols: feedForward))
        }
        func convolution(_ name: String, inputs: Int) throws(CTranslate2Error) -> Linear {
            // [out, in, 3] is already the row layout of the unrolled input (channel-major, then tap).
            let weight = try file.floats("\(name)/weight", shape: [width, inputs, 3])
            return Linear(weights: .kMajor(transpose(weight, rows: width, cols: inputs * 3)),
                          bias: try file.floats("\(name)/bias", shape: [width]), rows: width, cols: inputs * 3)
        }
        conv1 = try convolution("encoder/conv1", inputs: mels)
        conv2 = try convolution("encoder/conv2", inputs: width)
        encoderPositions = try file.floats("encoder/position_encodings/encodings", shape: [c.audioContext, width])
        var encoder: [EncoderLayer] = []
        for i in 0..<c.encoderLayers {
            let p = "encoder/layer_\(i)"
            encoder.append(EncoderLayer(
                attentionNorm: try norm("\(p)/self_attention/layer_norm"),
                qkv: try linear("\(p)/self_attention/linear_0", rows: 3 * width, cols: width),
                attentionOut: try linear("\(p)/self_attention/linear_1", rows: width, cols: width),
                ffn: try block("\(p)/ffn")))
        }
        encoderLayers = encoder
        encoderNorm = try norm("encoder/layer_norm")
        embeddings = try file.halves("decoder/embeddings/weight", shape: [c.vocabularySize, width])
        decoderPositions = try file.floats("decoder/position_encodings/encodings", shape: [c.textContext, width])
        var decoder: [DecoderLayer] = []
        for i in 0..<c.decoderLayers {
            let p = "decoder/layer_\(i)"
            decoder.append(DecoderLayer(
                selfNorm: try norm("\(p)/self_attention/layer_norm"),
                selfQKV: try linear("\(p)/self_attention/linear_0", rows: 3 * width, cols: width),
                selfOut: try linear("\(p)/self_attention/linear_1", rows: width, cols: width),
                crossNorm: try norm("\(p)/attention/layer_norm"),
                crossQuery: try linear("\(p)/attention/linear_0", rows: width, cols: width),
                crossKV: try linear("\(p)/attention/linear_1", rows: 2 * width, cols: width),
                crossOut: try linear("\(p)/attention/linear_2", rows: width, cols: width),
                ffn: try block("\(p)/ffn")))
        }
        decoderLayers = decoder
        decoderNorm = try norm("decoder/layer_norm")
    }

    // MARK: - Building blocks

    /// y[t] = W x[t] + b for `count` rows of x (`ldx` apart) into rows of y (`ldy` apart).
    func apply(_ l: Linear, _ x: UnsafePointer<Float>, count: Int, ldx: Int? = nil, into y: UnsafeMutablePointer<Float>, ldy: Int? = nil) {
        let ldx = ldx ?? l.cols, ldy = ldy ?? l.rows
        let (k, n) = (Int64(l.cols), Int64(count))
        func addBias(_ rows: Range<Int>) {
            guard let bias = l.bias else { return }
            for t in 0..<count {
                let row = y + t * ldy
                for r in rows { row[r] += bias[r] }
            }
        }
        switch l.weights {
        case .kMajor(let weights):
            weights.withUnsafeBufferPointer { w in
                pool.parallelFor(l.rows, granule: 32) { rows in
                    muse_sgemm_kn(k, w.baseAddress!, Int64(l.rows), Int64(rows.lowerBound), Int64(rows.upperBound), x, Int64(ldx), n, y, Int64(ldy))
                    addBias(rows)
                }
            }
        case .halfRows(let weights):
            weights.withUnsafeBufferPointer { w in
                pool.parallelFor(l.rows, granule: 32) { rows in
                    muse_sgemm_f16(k, w.baseAddress!, k, Int64(rows.lowerBound), Int64(rows.upperBound), x, Int64(ldx), n, y, Int64(ldy))
                    addBias(rows)
                }
            }
        }
    }

    func layerNorm(_ n: Norm, _ x: UnsafePointer<Float>, count: Int, into y: UnsafeMutablePointer<Float>) {
        let width = configuration.width
        n.gamma.withUnsafeBufferPointer { g in
            n.beta.withUnsafeBufferPointer { b in
                for t in 0..<count { muse_layernorm(y + t * width, x + t * width, g.baseAddress, b.baseAddress, Int64(width), 1e-5) }
            }
        }
    }

    func gelu(_ x: UnsafeMutablePointer<Float>, count: Int) {
        pool.parallelFor(count, granule: 4096) { range in
            muse_gelu_erf(x + range.lowerBound, Int64(range.count))
        }
    }

    /// x += down(gelu(up(norm(x)))) for `count` rows, through the caller's scratch rows.
    func feedForward(_ f: FeedForward, _ x: UnsafeMutablePointer<Float>, count: Int, normed: UnsafeMutablePointer<Float>,
                     up: UnsafeMutablePointer<Float>, delta: UnsafeMutablePointer<Float>) {
        layerNorm(f.norm, x, count: count, into: normed)
        apply(f.up, normed, count: count, into: up)
        gelu(up, count: count * f.up.rows)
        apply(f.down, up, count: count, into: delta)
        for i in 0..<(count * configuration.width) { x[i] += delta[i] }
    }

    /// Softmax of rows of `n` scores (`ld` apart), each first multiplied by `scale`.
    static func softmax(_ s: UnsafeMutablePointer<Float>, rows: Range<Int>, n: Int, ld: Int, scale: Float) {
        for t in rows { muse_softmax(s + t * ld, Int64(n), scale) }
    }

    /// Where attention finds its keys: transposed (one row per dimension, over the keys: the
    /// encoder's, many queries at once) or as rows (the decoder's cache, a query or a few).
    /// The audio's keys and values as the decoder reads them at every step: fp16 (half the bytes
    /// of the pass that bounds a step), keys as rows, values transposed (a row per dimension).
    enum Keys {
        case transposed(UnsafePointer<Float>, ld: Int)
        case rows(UnsafePointer<Float>, ld: Int)
        case halfRows(UnsafePointer<UInt16>, ld: Int)
    }

    /// Where attention finds its values: rows (`ld` apart, head h at columns h * d), or fp16
    /// transposed (a row of `ld` per dimension over the keys, head h at rows h * d).
    enum Values {
        case rows(UnsafePointer<Float>, ld: Int)
        case halfTransposed(UnsafePointer<UInt16>, ld: Int)
    }

    /// Attention of `nq` queries over `nk` keys for every head. Queries are rows `ldq` apart, head
    /// h at columns h * d; outputs go into rows of `out` (`width` apart). `causalOffset`, if set,
    /// lets query i see keys 0...offset + i only. `scores` holds nq * nk floats.
    func attention(q: UnsafePointer<Float>, ldq: Int, keys: Keys, values: Values,
                   nq: Int, nk: Int, heads: Int, causalOffset: Int?, out: UnsafeMutablePointer<Float>,
                   scores: UnsafeMutablePointer<Float>) {
        let width = configuration.width, d = width / heads
        let scale = 1 / Float(d).squareRoot()
        for h in 0..<heads {
            let qh = q + h * d
            switch keys {
            case let .transposed(kt, ld):
                pool.parallelFor(nk, granule: 32) { range in
                    muse_sgemm_kn(Int64(d), kt + h * d * ld, Int64(ld), Int64(range.lowerBound), Int64(range.upperBound), qh, Int64(ldq), Int64(nq), scores, Int64(nk))
                }
            case let .rows(k, ld):
                pool.parallelFor(nk, granule: 32) { range in
                    muse_sgemm(Int64(d), k + h * d, Int64(ld), Int64(range.lowerBound), Int64(range.upperBound), qh, Int64(ldq), Int64(nq), scores, Int64(nk))
                }
            case let .halfRows(k, ld):
                pool.parallelFor(nk, granule: 32) { range in
                    muse_sgemm_f16(Int64(d), k + h * d, Int64(ld), Int64(range.lowerBound), Int64(range.upperBound), qh, Int64(ldq), Int64(nq), scores, Int64(nk))
                }
            }
            pool.parallelFor(nq) { rows in
                if let offset = causalOffset {
                    for i in rows {
                        let seen = min(nk, offset + i + 1)
                        for j in seen..<nk { scores[i * nk + j] = -.infinity }
                    }
                }
                Self.softmax(scores, rows: rows, n: nk, ld: nk, scale: scale)
            }
            switch values {
            case let .rows(v, ld):
                pool.parallelFor(d, granule: 32) { dims in
                    muse_sgemm_kn(Int64(nk), v + h * d, Int64(ld), Int64(dims.lowerBound), Int64(dims.upperBound), scores, Int64(nk), Int64(nq), out + h * d, Int64(width))
                }
            case let .halfTransposed(vt, ld):
                pool.parallelFor(d, granule: 8) { dims in
                    muse_sgemm_f16(Int64(nk), vt + h * d * ld, Int64(ld), Int64(dims.lowerBound), Int64(dims.upperBound), scores, Int64(nk), Int64(nq), out + h * d, Int64(width))
                }
            }
        }
    }

    // MARK: - Encoder

    /// The encoder's output for one window of `melCount` x (2 * audioContext) log-mel frames
    /// (rows of mel bins): audioContext rows of `width`.
    public func encode(_ mel: [Float]) -> [Float] {
        let c = configuration, width = c.width, frames = 2 * c.audioContext, n = c.audioContext
        precondition(mel.count == c.melCount * frames, "a window is \(c.melCount) x \(frames) frames")
        // First convolution (kernel 3, padding 1): each frame's three taps of every mel bin in a row.
        var unrolled = [Float](repeating: 0, count: frames * c.melCount * 3)
        for t in 0..<frames {
            for m in 0..<c.melCount {
                for tap in 0..<3 {
                    let s = t + tap - 1
                    if s >= 0, s < frames { unrolled[(t * c.melCount + m) * 3 + tap] = mel[m * frames + s] }
                }
            }
        }
        var hidden = [Float](repeating: 0, count: frames * width)
        unrolled.withUnsafeBufferPointer { x in hidden.withUnsafeMutableBufferPointer { y in
            apply(conv1, x.baseAddress!, count: frames, into: y.baseAddress!)
            gelu(y.baseAddress!, count: frames * width)
        } }
        // Second convolution, stride 2.
        unrolled = [Float](repeating: 0, count: n * width * 3)
        for t in 0..<n {
            for tap in 0..<3 {
                let s = 2 * t + tap - 1
                guard s >= 0, s < frames else { continue }
                for ch in 0..<width { unrolled[(t * width + ch) * 3 + tap] = hidden[s * width + ch] }
            }
        }
        var x = [Float](repeating: 0, count: n * width)
        unrolled.withUnsafeBufferPointer { u in x.withUnsafeMutableBufferPointer { y in
            apply(conv2, u.baseAddress!, count: n, into: y.baseAddress!)
            gelu(y.baseAddress!, count: n * width)
        } }
        for i in 0..<(n * width) { x[i] += encoderPositions[i] }

        let ff = c.feedForward
        var normed = [Float](repeating: 0, count: n * width)
        var qkv = [Float](repeating: 0, count: n * 3 * width)
        var attended = [Float](repeating: 0, count: n * width)
        var up = [Float](repeating: 0, count: n * ff)
        var delta = [Float](repeating: 0, count: n * width)
        var scores = [Float](repeating: 0, count: n * n)
        var keysT = [Float](repeating: 0, count: width * n)
        x.withUnsafeMutableBufferPointer { xb in
            let x = xb.baseAddress!
            for layer in encoderLayers {
                normed.withUnsafeMutableBufferPointer { nb in qkv.withUnsafeMutableBufferPointer { qb in
                    attended.withUnsafeMutableBufferPointer { ab in delta.withUnsafeMutableBufferPointer { db in
                        up.withUnsafeMutableBufferPointer { ub in scores.withUnsafeMutableBufferPointer { sb in keysT.withUnsafeMutableBufferPointer { kb in
                            let (normed, qkv, attended, delta, up, keysT) = (nb.baseAddress!, qb.baseAddress!, ab.baseAddress!, db.baseAddress!, ub.baseAddress!, kb.baseAddress!)
                            layerNorm(layer.attentionNorm, x, count: n, into: normed)
                            apply(layer.qkv, normed, count: n, into: qkv)
                            transposeRows(qkv + width, ld: 3 * width, rows: n, cols: width, into: keysT, ldt: n)
                            attention(q: qkv, ldq: 3 * width, keys: .transposed(keysT, ld: n), values: .rows(qkv + 2 * width, ld: 3 * width),
                                      nq: n, nk: n, heads: c.encoderHeads, causalOffset: nil, out: attended, scores: sb.baseAddress!)
                            apply(layer.attentionOut, attended, count: n, into: delta)
                            for i in 0..<(n * width) { x[i] += delta[i] }
                            feedForward(layer.ffn, x, count: n, normed: normed, up: up, delta: delta)
                        } } }
                    } }
                } }
            }
            normed.withUnsafeMutableBufferPointer { nb in
                layerNorm(encoderNorm, x, count: n, into: nb.baseAddress!)
            }
        }
        return normed
    }

    // MARK: - Decoder

    /// What the decoder keeps for one window: the encoder's keys and values for every layer, and
    /// the text so far.
    public struct DecoderState {
        /// Per layer, the audio's keys in fp16 rows (audioContext of width) and its values in
        /// fp16 transposed (width rows of audioContext).
        var crossKeys: [[UInt16]]
        var crossValuesT: [[UInt16]]
        /// Per layer, textContext rows of the text's keys then values, `length` of them filled.
        var selfKV: [[Float]]
        public private(set) var length = 0

        mutating func append(_ count: Int) { length += count }
    }

    /// Starts decoding over an encoded window.
    public func beginDecoding(_ encoded: [Float]) -> DecoderState {
        let c = configuration, n = c.audioContext, width = c.width
        var keys: [[UInt16]] = [], valuesT: [[UInt16]] = []
        var kv = [Float](repeating: 0, count: n * 2 * width), vt = [Float](repeating: 0, count: width * n)
        encoded.withUnsafeBufferPointer { e in
            for layer in decoderLayers {
                var k16 = [UInt16](repeating: 0, count: n * width), vt16 = [UInt16](repeating: 0, count: width * n)
                kv.withUnsafeMutableBufferPointer { kvb in
                    let kv = kvb.baseAddress!
                    apply(layer.crossKV, e.baseAddress!, count: n, into: kv)
                    k16.withUnsafeMutableBufferPointer { keys in
                        for t in 0..<n { muse_f32_to_f16_row(kv + t * 2 * width, keys.baseAddress! + t * width, Int64(width)) }
                    }
                    vt.withUnsafeMutableBufferPointer { transposeRows(kv + width, ld: 2 * width, rows: n, cols: width, into: $0.baseAddress!, ldt: n) }
                }
                vt.withUnsafeBufferPointer { v in vt16.withUnsafeMutableBufferPointer { muse_f32_to_f16_row(v.baseAddress, $0.baseAddress, Int64(width * n)) } }
                keys.append(k16)
                valuesT.append(vt16)
            }
        }
        let empty = [Float](repeating: 0, count: c.textContext * 2 * width)
        return DecoderState(crossKeys: keys, crossValuesT: valuesT, selfKV: decoderLayers.map { _ in empty })
    }

    /// Runs `tokens` through the decoder after the state's text and returns the logits of the
    /// last one (vocabularySize floats). The tokens must fit in the text context.
    public func decode(_ tokens: [Int], state: inout DecoderState) -> [Float] {
        let c = configuration, width = c.width, count = tokens.count, start = state.length
        precondition(count > 0 && start + count <= c.textContext, "the decoder holds \(c.textContext) tokens")
        var x = [Float](repeating: 0, count: count * width)
        for (i, token) in tokens.enumerated() {
            let id = min(max(token, 0), c.vocabularySize - 1)
            for j in 0..<width { x[i * width + j] = muse_f16_to_f32(embeddings[id * width + j]) + decoderPositions[(start + i) * width + j] }
        }
        let ff = c.feedForward, audio = c.audioContext, total = start + count
        var normed = [Float](repeating: 0, count: count * width)
        var qkv = [Float](repeating: 0, count: count * 3 * width)
        var attended = [Float](repeating: 0, count: count * width)
        var delta = [Float](repeating: 0, count: count * width)
        var up = [Float](repeating: 0, count: count * ff)
        var scratch = [Float](repeating: 0, count: count * max(audio, total))
        x.withUnsafeMutableBufferPointer { xb in
            let x = xb.baseAddress!
            for (index, layer) in decoderLayers.enumerated() {
                normed.withUnsafeMutableBufferPointer { nb in qkv.withUnsafeMutableBufferPointer { qb in
                    attended.withUnsafeMutableBufferPointer { ab in delta.withUnsafeMutableBufferPointer { db in
                        up.withUnsafeMutableBufferPointer { ub in scratch.withUnsafeMutableBufferPointer { sb in
                            state.selfKV[index].withUnsafeMutableBufferPointer { kvb in
                            state.crossKeys[index].withUnsafeBufferPointer { ckb in state.crossValuesT[index].withUnsafeBufferPointer { cvb in
                                let (normed, qkv, attended, delta, up) = (nb.baseAddress!, qb.baseAddress!, ab.baseAddress!, db.baseAddress!, ub.baseAddress!)
                                let kv = kvb.baseAddress!
                                // Self-attention over the text so far, these tokens included.
                                layerNorm(layer.selfNorm, x, count: count, into: normed)
                                apply(layer.selfQKV, normed, count: count, into: qkv)
                                for i in 0..<count {
                                    let row = kv + (start + i) * 2 * width
                                    for j in 0..<(2 * width) { row[j] = qkv[i * 3 * width + width + j] }
                                }
                                attention(q: qkv, ldq: 3 * width, keys: .rows(kv, ld: 2 * width), values: .rows(kv + width, ld: 2 * width),
                                          nq: count, nk: total, heads: c.decoderHeads, causalOffset: start, out: attended, scores: sb.baseAddress!)
                                apply(layer.selfOut, attended, count: count, into: delta)
                                for i in 0..<(count * width) { x[i] += delta[i] }
                                // Attention to the audio.
                                layerNorm(layer.crossNorm, x, count: count, into: normed)
                                apply(layer.crossQuery, normed, count: count, into: qkv, ldy: width)
                                attention(q: qkv, ldq: width, keys: .halfRows(ckb.baseAddress!, ld: width), values: .halfTransposed(cvb.baseAddress!, ld: audio),
                                          nq: count, nk: audio, heads: c.decoderHeads, causalOffset: nil, out: attended, scores: sb.baseAddress!)
                                apply(layer.crossOut, attended, count: count, into: delta)
                                for i in 0..<(count * width) { x[i] += delta[i] }
                                feedForward(layer.ffn, x, count: count, normed: normed, up: up, delta: delta)
                            } } }
                        } }
                    } }
                } }
            }
        }
        state.append(count)
        // Logits of the last token against the tied embeddings.
        var last = [Float](repeating: 0, count: width)
        var logits = [Float](repeating: 0, count: c.vocabularySize)
        x.withUnsafeBufferPointer { xb in last.withUnsafeMutableBufferPointer { lb in
            layerNorm(decoderNorm, xb.baseAddress! + (count - 1) * width, count: 1, into: lb.baseAddress!)
        } }
        let vocabulary = c.vocabularySize
        embeddings.withUnsafeBufferPointer { e in last.withUnsafeBufferPointer { l in logits.withUnsafeMutableBufferPointer { y in
            let (e, l, y) = (e.baseAddress!, l.baseAddress!, y.baseAddress!)
            pool.parallelFor(vocabulary, granule: 32) { rows in
                muse_sgemm_f16(Int64(width), e, Int64(width), Int64(rows.lowerBound), Int64(rows.upperBound), l, Int64(width), 1, y, Int64(vocabulary))
            }
        } } }
        return logits
    }
}

/// A row-major (rows, cols) matrix transposed to (cols, rows).
func transpose(_ m: [Float], rows: Int, cols: Int) -> [Float] {
    var t = [Float](repeating: 0, count: m.count)
    m.withUnsafeBufferPointer { src in
        t.withUnsafeMutableBufferPointer { transposeRows(src.baseAddress!, ld: cols, rows: rows, cols: cols, into: $0.baseAddress!, ldt: rows) }
    }
    return t
}

/// Writes `rows` rows of `cols` floats (`ld` apart) as `cols` rows of `rows` floats (`ldt` apart),
/// in tiles so that both sides stay in cache.
func transposeRows(_ m: UnsafePointer<Float>, ld: Int, rows: Int, cols: Int, into t: UnsafeMutablePointer<Float>, ldt: Int) {
    let tile = 32
    for r0 in stride(from: 0, to: rows, by: tile) {
        for c0 in stride(from: 0, to: cols, by: tile) {
            for r in r0..<min(rows, r0 + tile) {
                for c in c0..<min(cols, c0 + tile) { t[c * ldt + r] = m[r * ld + c] }
            }
        }
    }
}
