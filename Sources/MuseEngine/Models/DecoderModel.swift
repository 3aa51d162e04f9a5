// The forward pass shared by the decoder-only architectures (Llama, Qwen2, Qwen3, Gemma 3):
// RMSNorm, rotary embeddings, grouped-query attention over the paged KV cache (global or in a
// sliding window), a gated feed-forward, and the output head. What differs between them is read
// from a DecoderConfiguration.
import CMuseKernels
import Foundation

final class DecoderModel: CausalModel {
    struct Layer {
        let attentionNorm: UnsafePointer<Float>   // (dim)
        let wq: WeightMatrix                      // (qDim, dim)
        let wk: WeightMatrix                      // (kvDim, dim)
        let wv: WeightMatrix                      // (kvDim, dim)
        let bq, bk, bv: UnsafePointer<Float>?     // (qDim), (kvDim), (kvDim) with attention biases
        let qNorm, kNorm: UnsafePointer<Float>?   // (headDim) each, with per-head query/key norms
        let wo: WeightMatrix                      // (dim, qDim)
        let postAttentionNorm: UnsafePointer<Float>?  // (dim) with post-norms
        let ffnNorm: UnsafePointer<Float>         // (dim)
        let postFFNNorm: UnsafePointer<Float>?    // (dim) with post-norms
        let gate: WeightMatrix                    // (ffn, dim)
        let up: WeightMatrix                      // (ffn, dim)
        let down: WeightMatrix                    // (dim, ffn)
    }

    let config: DecoderConfiguration
    /// Keeps the mapping that every weight pointer points into alive.
    private let file: GGUFFile
    let pool: WorkerPool
    private let tokenEmbedding: WeightMatrix      // (vocab, dim)
    private let layers: [Layer]
    private let outputNorm: UnsafePointer<Float>  // (dim)
    private let output: WeightMatrix              // (vocab, dim); the embedding when tied
    /// Per-frequency divisors of the rotation angles (Llama 3.1+ `rope_freqs.weight`), if any.
    private let ropeFactors: UnsafePointer<Float>?  // (ropeDimensions / 2)
    var scratch: DecoderScratch
    var kernelOrder = KernelOrder.active

    var vocabularySize: Int { config.vocabularySize }
    var contextLength: Int { config.contextLength }

    /// Prompt tokens processed per forward call at most; longer prompts go in chunks.
    static let maxBatch = 256
    /// From this many tokens in one call, attention runs many queries per pass over the keys in f32
    /// (as llama.cpp switches to its tiled kernel at 64 rows); below, the fp16 one-query kernel.
    static let manyQueryThreshold = 64
    /// Tokens per work unit of many-query attention.
    static let queryChunk = 16

    init(file: GGUFFile, configuration c: DecoderConfiguration, pool: WorkerPool) throws(ModelLoadError) {
        let meta = MetadataReader(file: file)
        config = c
        self.file = file
        self.pool = pool
        // The matrices that are multiplied are packed for the block-order kernels where their type
        // allows; the mapped pages they were read from then leave resident memory (the ggml-order
        // reference reads them back from the file if it runs).
        func multiplied(_ name: String, rows: Int, cols: Int) throws(ModelLoadError) -> WeightMatrix {
            var w = try meta.matrix(name, rows: rows, cols: cols)
            w.pack(pool: pool, packedSlice: file.evict)
            return w
        }
        outputNorm = try meta.vector("output_norm.weight", count: c.embeddingLength)
        // Without an output layer of its own, the model multiplies by its embedding table (packed),
        // and looks its rows up there too.
        if file.tensor(named: "output.weight") == nil {
            output = try multiplied("token_embd.weight", rows: c.vocabularySize, cols: c.embeddingLength)
            tokenEmbedding = output
        } else {
            output = try multiplied("output.weight", rows: c.vocabularySize, cols: c.embeddingLength)
            tokenEmbedding = try meta.matrix("token_embd.weight", rows: c.vocabularySize, cols: c.embeddingLength)
        }
        ropeFactors = file.tensor(named: "rope_freqs.weight") == nil
            ? nil : try meta.vector("rope_freqs.weight", count: c.ropeDimensions / 2)
        var layers: [Layer] = []
        for i in 0..<c.blockCount {
            let p = "blk.\(i)."
            func bias(_ name: String, _ count: Int) throws(ModelLoadError) -> UnsafePointer<Float>? {
                c.attentionBias ? try meta.vector(p + name, count: count) : nil
            }
            func headNorm(_ name: String) throws(ModelLoadError) -> UnsafePointer<Float>? {
                c.queryKeyNorm ? try meta.vector(p + name, count: c.headDim) : nil
            }
            func postNorm(_ name: String) throws(ModelLoadError) -> UnsafePointer<Float>? {
                c.postNorms ? try meta.vector(p + name, count: c.embeddingLength) : nil
            }
            layers.append(Layer(
                attentionNorm: try meta.vector(p + "attn_norm.weight", count: c.embeddingLength),
                wq: try multiplied(p + "attn_q.weight", rows: c.qDim, cols: c.embeddingLength),
                wk: try multiplied(p + "attn_k.weight", rows: c.kvDim, cols: c.embeddingLength),
                wv: try multiplied(p + "attn_v.weight", rows: c.kvDim, cols: c.embeddingLength),
                bq: try bias("attn_q.bias", c.qDim), bk: try bias("attn_k.bias", c.kvDim), bv: try bias("attn_v.bias", c.kvDim),
                qNorm: try headNorm("attn_q_norm.weight"), kNorm: try headNorm("attn_k_norm.weight"),
                wo: try multiplied(p + "attn_output.weight", rows: c.embeddingLength, cols: c.qDim),
                postAttentionNorm: try postNorm("post_attention_norm.weight"),
                ffnNorm: try meta.vector(p + "ffn_norm.weight", count: c.embeddingLength),
                postFFNNorm: try postNorm("post_ffw_norm.weight"),
                gate: try multiplied(p + "ffn_gate.weight", rows: c.feedForwardLength, cols: c.embeddingLength),
                up: try multiplied(p + "ffn_up.weight", rows: c.feedForwardLength, cols: c.embeddingLength),
                down: try multiplied(p + "ffn_down.weight", rows: c.embeddingLength, cols: c.feedForwardLength)))
        }
        self.layers = layers
        scratch = DecoderScratch(config: c, batch: Self.maxBatch, threads: pool.threadCount)
    }

    deinit { scratch.deallocate() }

    func makeCache(capacityTokens: Int) -> KVCache {
        KVCache(layerCount: config.blockCount, kvDim: config.kvDim, capacityTokens: capacityTokens)
    }

    var maxBatchTokens: Int { Self.maxBatch }

    var decodeReads: [UnsafeRawBufferPointer] {
        let order = kernelOrder
        return (layers.flatMap { [$0.wq, $0.wk, $0.wv, $0.wo, $0.gate, $0.up, $0.down] } + [output]).map { $0.multipliedBytes(in: order) }
    }

    func forward(_ items: [ForwardItem], sequences: inout [KVSequence], cache: KVCache,
                 logits: UnsafeMutablePointer<Float>) throws(KVCacheError) {
        precondition(items.count == sequences.count)
        let c = config, s = scratch, dim = c.embeddingLength
        let n = items.reduce(0) { $0 + $1.tokens.count }
        precondition(n > 0 && n <= Self.maxBatch, "a forward call takes 1...\(Self.maxBatch) tokens")
        for i in items.indices { try cache.reserve(&sequences[i], upTo: sequences[i].count + items[i].tokens.count) }

        // Row r of the batch: which item it belongs to and its position in that item's sequence.
        var rows: [(item: Int, position: Int)] = []
        rows.reserveCapacity(n)
        for (i, item) in items.enumerated() {
            for (t, token) in item.tokens.enumerated() {
                let id = Int(token)
                precondition(id >= 0 && id < c.vocabularySize, "token id \(id) outside the vocabulary")
                let x = s.x + rows.count * dim
                tokenEmbedding.dequantizeRow(id, into: x)
                if c.embeddingScale != 1 { for d in 0..<dim { x[d] *= c.embeddingScale } }
                rows.append((i, sequences[i].count + t))
            }
        }
        let seqs = sequences

        for (l, layer) in layers.enumerated() {
            let window = c.isLocal(l) ? c.slidingWindow : 0
            // Attention block: x += Wo · attention(rope(Wq·norm(x)), rope(Wk·norm(x)), Wv·norm(x))
            for t in 0..<n { muse_rmsnorm(s.xb + t * dim, s.x + t * dim, layer.attentionNorm, Int64(dim), c.rmsEpsilon) }
            project(s.xb, count: n, through: layer.wq, bias: layer.bq, into: s.q)
            project(s.xb, count: n, through: layer.wk, bias: layer.bk, into: s.k, sameInput: true)
            project(s.xb, count: n, through: layer.wv, bias: layer.bv, into: s.v, sameInput: true)
            for (t, row) in rows.enumerated() {
                let q = s.q + t * c.qDim, k = s.k + t * c.kvDim
                if let qNorm = layer.qNorm, let kNorm = layer.kNorm {
                    for h in 0..<c.headCount { muse_rmsnorm(q + h * c.headDim, q + h * c.headDim, qNorm, Int64(c.headDim), c.rmsEpsilon) }
                    for h in 0..<c.headCountKV { muse_rmsnorm(k + h * c.headDim, k + h * c.headDim, kNorm, Int64(c.headDim), c.rmsEpsilon) }
                }
                rotate(q, heads: c.headCount, position: row.position, layer: l)
                rotate(k, heads: c.headCountKV, position: row.position, layer: l)
                muse_f32_to_f16_row(k, cache.keys(seqs[row.item], layer: l, position: row.position), Int64(c.kvDim))
                muse_f32_to_f16_row(s.v + t * c.kvDim, cache.values(seqs[row.item], layer: l, position: row.position), Int64(c.kvDim))
            }
            // Items with many tokens (prompts) take the many-query kernel; the other rows (decode
            // steps, short prompts) the one-query kernel, all of them in one parallel pass.
            var oneQueryRows: [Int] = []
            var first = 0
            for (i, item) in items.enumerated() {
                let count = item.tokens.count
                if count >= Self.manyQueryThreshold {
                    attentionManyQueries(layer: l, rows: first..<(first + count), start: seqs[i].count, window: window,
                                         sequence: seqs[i], cache: cache)
                } else {
                    oneQueryRows.append(contentsOf: first..<(first + count))
                }
                first += count
            }
            if !oneQueryRows.isEmpty {
                if kernelOrder == .ggml {
                    attention(layer: l, rows: oneQueryRows, positions: rows, window: window, sequences: seqs, cache: cache)
                } else {
                    attentionSharingBlocks(layer: l, rows: oneQueryRows, positions: rows, window: window, sequences: seqs, cache: cache)
                }
            }
            project(s.attention, count: n, through: layer.wo, into: s.xb)
            addToResidual(s.xb, count: n, norm: layer.postAttentionNorm)

            // Feed-forward block: x += Wdown · (silu(Wgate·norm(x)) * Wup·norm(x))
            for t in 0..<n { muse_rmsnorm(s.xb + t * dim, s.x + t * dim, layer.ffnNorm, Int64(dim), c.rmsEpsilon) }
            project(s.xb, count: n, through: layer.gate, into: s.hidden)
            project(s.xb, count: n, through: layer.up, into: s.hidden2, sameInput: true)
            switch c.activation {
            case .silu: muse_swiglu(s.hidden, s.hidden2, Int64(n * c.feedForwardLength))
            case .gelu: muse_geglu(s.hidden, s.hidden2, Int64(n * c.feedForwardLength))
            }
            project(s.hidden, count: n, through: layer.down, into: s.xb)
            addToResidual(s.xb, count: n, norm: layer.postFFNNorm)
        }
        for i in items.indices { cache.commit(&sequences[i], upTo: sequences[i].count + items[i].tokens.count) }

        // Only the last position of each item that asks is needed to pick its next token (every
        // position of an item that wants them all).
        var outputs = 0, end = 0
        for item in items {
            end += item.tokens.count
            for row in (end - item.logitRows)..<end {
                muse_rmsnorm(s.xb + outputs * dim, s.x + row * dim, outputNorm, Int64(dim), c.rmsEpsilon)
                outputs += 1
            }
        }
        guard outputs > 0 else { return }
        project(s.xb, count: outputs, through: output, into: logits)
        if c.logitSoftcap > 0 {
            for i in 0..<(outputs * c.vocabularySize) { logits[i] = c.logitSoftcap * tanhf(logits[i] / c.logitSoftcap) }
        }
    }

    /// x += y for `count` rows, y first RMS-normalised with `norm` when the architecture has post-norms.
    private func addToResidual(_ y: UnsafeMutablePointer<Float>, count: Int, norm: UnsafePointer<Float>?) {
        let dim = config.embeddingLength, x = scratch.x
        if let norm {
            for t in 0..<count { muse_rmsnorm(y + t * dim, y + t * dim, norm, Int64(dim), config.rmsEpsilon) }
        }
        for i in 0..<(count * dim) { x[i] += y[i] }
    }

    /// y = W · x (+ bias) for `count` rows of x, W's input width apart. With `sameInput`, x is the
    /// input of the previous projection, unchanged since: its converted rows are reused when W
    /// pairs with the same activation type (q, k, v; gate, up usually do).
    private func project(_ x: UnsafeMutablePointer<Float>, count: Int, through w: WeightMatrix,
                         bias: UnsafePointer<Float>? = nil, into y: UnsafeMutablePointer<Float>, sameInput: Bool = false) {
        if !sameInput || muse_activation_type(scratch.act.weightType) != muse_activation_type(w.cType) {
            scratch.act.convert(x, count: count, cols: w.cols, for: w.cType, pool: pool)
        }
        pool.matmul(w, scratch.act, into: y, ldy: w.rows, order: kernelOrder)
        guard let bias else { return }
        for t in 0..<count {
            let row = y + t * w.rows
            for r in 0..<w.rows { row[r] += bias[r] }
        }
    }

    /// Rotates the first `ropeDimensions` of each of `heads` heads for `position`, with the base
    /// (and scale) of a local or a global layer.
    private func rotate(_ x: UnsafeMutablePointer<Float>, heads: Int, position: Int, layer: Int) {
        let c = config
        let (base, scale) = c.isLocal(layer) ? (c.localRopeFreqBase, Float(1)) : (c.ropeFreqBase, c.ropeFreqScale)
        switch c.ropeStyle {
        case .normal:
            muse_rope_norm(x, Int64(heads), Int64(c.headDim), Int64(c.ropeDimensions), Int64(position), base, scale, ropeFactors)
        case .neox:
            muse_rope_neox(x, Int64(heads), Int64(c.headDim), Int64(c.ropeDimensions), Int64(position), base, scale, ropeFactors)
        }
    }

    /// Causal grouped-query attention, one query at a time, for the given batch rows, in ggml's
    /// arithmetic (the reference order): each row's query against its own sequence's positions up
    /// to its own (the last `window` of them when positive); (row, head) pairs are split across
    /// workers; positions are read block by block.
    private func attention(layer l: Int, rows selected: [Int], positions rows: [(item: Int, position: Int)],
                           window: Int, sequences: [KVSequence], cache: KVCache) {
        let c = config, s = scratch
        let group = c.headCount / c.headCountKV
        let scale = 1 / Float(c.headDim).squareRoot()
        let blockSize = cache.blockSize, kvDim = c.kvDim, headDim = c.headDim
        pool.run { worker in
            let pairs = selected.count * c.headCount
            let lo = pairs * worker / pool.threadCount, hi = pairs * (worker + 1) / pool.threadCount
            let q16 = s.query16 + worker * headDim
            let acc = s.accumulator16 + worker * headDim
            for pair in lo..<hi {
                let t = selected[pair / c.headCount], h = pair % c.headCount
                let sequence = sequences[rows[t].item]
                let kvOffset = (h / group) * headDim
                muse_f32_to_f16_row(s.q + t * c.qDim + h * headDim, q16, Int64(headDim))
                var state = muse_attention_state()
                muse_attention_begin(&state, acc, Int64(headDim))
                let end = rows[t].position + 1
                var position = window > 0 ? max(0, end - window) : 0
                while position < end {
                    let count = min(blockSize - position % blockSize, end - position)
                    muse_attention_step(&state, acc, q16,
                                        cache.keys(sequence, layer: l, position: position) + kvOffset, kvDim,
                                        cache.values(sequence, layer: l, position: position) + kvOffset, kvDim,
                                        Int64(count), Int64(headDim), Int64(headDim), scale)
                    position += count
                }
                muse_attention_end(&state, acc, s.attention + t * c.qDim + h * headDim, Int64(headDim))
            }
        }
    }
}

