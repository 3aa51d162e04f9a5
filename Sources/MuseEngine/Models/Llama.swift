// The Llama architecture (SmolLM2 and the many models converted as `llama`): RMSNorm, RoPE,
// grouped-query attention with a causal mask, SwiGLU feed-forward, tied or separate output head.
import CMuseKernels

struct LlamaConfiguration: Equatable {
    var contextLength: Int
    var embeddingLength: Int          // dim
    var blockCount: Int
    var feedForwardLength: Int
    var headCount: Int
    var headCountKV: Int
    var headDim: Int
    var ropeDimensions: Int
    var ropeFreqBase: Float
    var rmsEpsilon: Float
    var vocabularySize: Int

    var qDim: Int { headCount * headDim }
    var kvDim: Int { headCountKV * headDim }

    init(_ meta: MetadataReader, prefix: String = "llama") throws(ModelLoadError) {
        contextLength = try meta.positiveInt("\(prefix).context_length")
        embeddingLength = try meta.positiveInt("\(prefix).embedding_length", max: 1 << 16)
        blockCount = try meta.positiveInt("\(prefix).block_count", max: 1024)
        feedForwardLength = try meta.positiveInt("\(prefix).feed_forward_length", max: 1 << 18)
        headCount = try meta.positiveInt("\(prefix).attention.head_count", max: 1024)
        headCountKV = try meta.int("\(prefix).attention.head_count_kv", default: headCount)
        headDim = try meta.int("\(prefix).attention.key_length", default: embeddingLength / headCount)
        ropeDimensions = try meta.int("\(prefix).rope.dimension_count", default: headDim)
        ropeFreqBase = try meta.float("\(prefix).rope.freq_base", default: 10_000)
        rmsEpsilon = try meta.float("\(prefix).attention.layer_norm_rms_epsilon")
        if let size = meta.file.metadata["\(prefix).vocab_size"] {
            guard let size = size.int else { throw .invalidMetadata(key: "\(prefix).vocab_size", reason: "expected an integer") }
            vocabularySize = size
        } else if let tokens = meta.file.metadata["tokenizer.ggml.tokens"]?.array?.count {
            vocabularySize = tokens
        } else {
            throw .missingMetadata("tokenizer.ggml.tokens")
        }

        guard headCountKV > 0, headCount % headCountKV == 0 else {
            throw .invalidMetadata(key: "\(prefix).attention.head_count_kv", reason: "\(headCountKV) does not divide the head count \(headCount)")
        }
        guard headDim > 0, headDim % 2 == 0, headDim <= 1024 else {
            throw .invalidMetadata(key: "\(prefix).attention.key_length", reason: "head size \(headDim) must be even and at most 1024")
        }
        guard ropeDimensions > 0, ropeDimensions <= headDim, ropeDimensions % 2 == 0 else {
            throw .invalidMetadata(key: "\(prefix).rope.dimension_count", reason: "\(ropeDimensions) must be even and at most the head size \(headDim)")
        }
        guard vocabularySize > 0, vocabularySize <= 1 << 22 else {
            throw .invalidMetadata(key: "\(prefix).vocab_size", reason: "\(vocabularySize) is out of range")
        }
        guard rmsEpsilon >= 0 else { throw .invalidMetadata(key: "\(prefix).attention.layer_norm_rms_epsilon", reason: "negative") }
    }
}

final class LlamaModel: CausalModel {
    struct Layer {
        let attentionNorm: UnsafePointer<Float>   // (dim)
        let wq: WeightMatrix                      // (qDim, dim)
        let wk: WeightMatrix                      // (kvDim, dim)
        let wv: WeightMatrix                      // (kvDim, dim)
        let wo: WeightMatrix                      // (dim, qDim)
        let ffnNorm: UnsafePointer<Float>         // (dim)
        let gate: WeightMatrix                    // (ffn, dim)
        let up: WeightMatrix                      // (ffn, dim)
        let down: WeightMatrix                    // (dim, ffn)
    }

    let config: LlamaConfiguration
    /// Keeps the mapping that every weight pointer points into alive.
    private let file: GGUFFile
    private let pool: WorkerPool
    private let tokenEmbedding: WeightMatrix      // (vocab, dim)
    private let layers: [Layer]
    private let outputNorm: UnsafePointer<Float>  // (dim)
    private let output: WeightMatrix              // (vocab, dim); the embedding when tied
    private var scratch: Scratch

    var vocabularySize: Int { config.vocabularySize }
    var contextLength: Int { config.contextLength }

    /// Prompt tokens processed per forward call at most; longer prompts go in chunks.
    static let maxBatch = 256
    /// From this many tokens in one call, attention runs many queries per pass over the keys in f32
    /// (as llama.cpp switches to its tiled kernel at 64 rows); below, the fp16 one-query kernel.
    static let manyQueryThreshold = 64
    /// Tokens per work unit of many-query attention.
    static let queryChunk = 16

    init(file: GGUFFile, pool: WorkerPool) throws(ModelLoadError) {
        let meta = MetadataReader(file: file)
        let c = try LlamaConfiguration(meta)
        config = c
        self.file = file
        self.pool = pool
        tokenEmbedding = try meta.matrix("token_embd.weight", rows: c.vocabularySize, cols: c.embeddingLength)
        outputNorm = try meta.vector("output_norm.weight", count: c.embeddingLength)
        output = file.tensor(named: "output.weight") == nil
            ? tokenEmbedding
            : try meta.matrix("output.weight", rows: c.vocabularySize, cols: c.embeddingLength)
        var layers: [Layer] = []
        for i in 0..<c.blockCount {
            let p = "blk.\(i)."
            layers.append(Layer(
                attentionNorm: try meta.vector(p + "attn_norm.weight", count: c.embeddingLength),
                wq: try meta.matrix(p + "attn_q.weight", rows: c.qDim, cols: c.embeddingLength),
                wk: try meta.matrix(p + "attn_k.weight", rows: c.kvDim, cols: c.embeddingLength),
                wv: try meta.matrix(p + "attn_v.weight", rows: c.kvDim, cols: c.embeddingLength),
                wo: try meta.matrix(p + "attn_output.weight", rows: c.embeddingLength, cols: c.qDim),
                ffnNorm: try meta.vector(p + "ffn_norm.weight", count: c.embeddingLength),
                gate: try meta.matrix(p + "ffn_gate.weight", rows: c.feedForwardLength, cols: c.embeddingLength),
                up: try meta.matrix(p + "ffn_up.weight", rows: c.feedForwardLength, cols: c.embeddingLength),
                down: try meta.matrix(p + "ffn_down.weight", rows: c.embeddingLength, cols: c.feedForwardLength)))
        }
        self.layers = layers
        scratch = Scratch(config: c, batch: Self.maxBatch, threads: pool.threadCount)
    }

    deinit { scratch.deallocate() }

    func makeCache(capacityTokens: Int) -> KVCache {
        KVCache(layerCount: config.blockCount, kvDim: config.kvDim, capacityTokens: capacityTokens)
    }

    var maxBatchTokens: Int { Self.maxBatch }

    func forward(_ items: [ForwardItem], sequences: inout [KVSequence], cache: KVCache,
                 logits: UnsafeMutablePointer<Float>) throws(KVCacheError) {
        precondition(items.count == sequences.count)
        let c = config, s = scratch, pool = pool, dim = c.embeddingLength
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
                tokenEmbedding.dequantizeRow(id, into: s.x + rows.count * dim)
                rows.append((i, sequences[i].count + t))
            }
        }
        let seqs = sequences

        for (l, layer) in layers.enumerated() {
            // Attention block: x += Wo · attention(rope(Wq·norm(x)), rope(Wk·norm(x)), Wv·norm(x))
            for t in 0..<n { muse_rmsnorm(s.xb + t * dim, s.x + t * dim, layer.attentionNorm, Int64(dim), c.rmsEpsilon) }
            scratch.act.convert(s.xb, count: n, cols: dim, for: layer.wq.cType, pool: pool)
            pool.matmul(layer.wq, scratch.act, into: s.q, ldy: c.qDim)
            convertIfNeeded(s.xb, count: n, cols: dim, for: layer.wk)
            pool.matmul(layer.wk, scratch.act, into: s.k, ldy: c.kvDim)
            convertIfNeeded(s.xb, count: n, cols: dim, for: layer.wv)
            pool.matmul(layer.wv, scratch.act, into: s.v, ldy: c.kvDim)
            for (t, row) in rows.enumerated() {
                let pos = Int64(row.position)
                muse_rope_norm(s.q + t * c.qDim, Int64(c.headCount), Int64(c.headDim), Int64(c.ropeDimensions), pos, c.ropeFreqBase)
                muse_rope_norm(s.k + t * c.kvDim, Int64(c.headCountKV), Int64(c.headDim), Int64(c.ropeDimensions), pos, c.ropeFreqBase)
                muse_f32_to_f16_row(s.k + t * c.kvDim, cache.keys(seqs[row.item], layer: l, position: row.position), Int64(c.kvDim))
                muse_f32_to_f16_row(s.v + t * c.kvDim, cache.values(seqs[row.item], layer: l, position: row.position), Int64(c.kvDim))
            }
            // Items with many tokens (prompts) take the many-query kernel; the other rows (decode
            // steps, short prompts) the one-query kernel, all of them in one parallel pass.
            var oneQueryRows: [Int] = []
            var first = 0
            for (i, item) in items.enumerated() {
                let count = item.tokens.count
                if count >= Self.manyQueryThreshold {
                    attentionManyQueries(layer: l, rows: first..<(first + count), start: seqs[i].count, sequence: seqs[i], cache: cache)
                } else {
                    oneQueryRows.append(contentsOf: first..<(first + count))
                }
                first += count
            }
            if !oneQueryRows.isEmpty {
                attention(layer: l, rows: oneQueryRows, positions: rows, sequences: seqs, cache: cache)
            }
            scratch.act.convert(s.attention, count: n, cols: c.qDim, for: layer.wo.cType, pool: pool)
            pool.matmul(layer.wo, scratch.act, into: s.xb, ldy: dim)
            for i in 0..<(n * dim) { s.x[i] += s.xb[i] }

            // Feed-forward block: x += Wdown · (silu(Wgate·norm(x)) * Wup·norm(x))
            for t in 0..<n { muse_rmsnorm(s.xb + t * dim, s.x + t * dim, layer.ffnNorm, Int64(dim), c.rmsEpsilon) }
            scratch.act.convert(s.xb, count: n, cols: dim, for: layer.gate.cType, pool: pool)
            pool.matmul(layer.gate, scratch.act, into: s.hidden, ldy: c.feedForwardLength)
            convertIfNeeded(s.xb, count: n, cols: dim, for: layer.up)
            pool.matmul(layer.up, scratch.act, into: s.hidden2, ldy: c.feedForwardLength)
            muse_swiglu(s.hidden, s.hidden2, Int64(n * c.feedForwardLength))
            scratch.act.convert(s.hidden, count: n, cols: c.feedForwardLength, for: layer.down.cType, pool: pool)
            pool.matmul(layer.down, scratch.act, into: s.xb, ldy: dim)
            for i in 0..<(n * dim) { s.x[i] += s.xb[i] }
        }
        for i in items.indices { cache.commit(&sequences[i], upTo: sequences[i].count + items[i].tokens.count) }

        // Only the last position of each item that asks is needed to pick its next token.
        var outputs = 0, last = -1
        for item in items {
            last += item.tokens.count
            guard item.wantsLogits else { continue }
            muse_rmsnorm(s.xb + outputs * dim, s.x + last * dim, outputNorm, Int64(dim), c.rmsEpsilon)
            outputs += 1
        }
        guard outputs > 0 else { return }
        scratch.act.convert(s.xb, count: outputs, cols: dim, for: output.cType, pool: pool)
        pool.matmul(output, scratch.act, into: logits, ldy: c.vocabularySize)
    }

    /// Converts again only when `w` pairs with another activation type than the rows held now.
    private func convertIfNeeded(_ x: UnsafeMutablePointer<Float>, count: Int, cols: Int, for w: WeightMatrix) {
        if muse_activation_type(scratch.act.weightType) != muse_activation_type(w.cType) {
            scratch.act.convert(x, count: count, cols: cols, for: w.cType, pool: pool)
        }
    }

    /// Causal grouped-query attention, one query at a time, for the given batch rows: each row's
    /// query against its own sequence's positions up to its own; (row, head) pairs are split
    /// across workers; positions are read block by block.
    private func attention(layer l: Int, rows selected: [Int], positions rows: [(item: Int, position: Int)],
                           sequences: [KVSequence], cache: KVCache) {
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
                var position = 0
                let end = rows[t].position + 1
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

extension LlamaModel {
    /// Attention for a large batch: work units of (kv head, chunk of tokens), each walking the
    /// cached blocks once for all the queries of the heads that share that kv head.
    /// `rows` are consecutive batch rows of one sequence, at positions `start`, `start + 1`, ...
    fileprivate func attentionManyQueries(layer l: Int, rows batchRows: Range<Int>, start: Int, sequence: KVSequence, cache: KVCache) {
        let n = batchRows.count, base = batchRows.lowerBound
        let c = config, s = scratch
        let group = c.headCount / c.headCountKV
        let scale = 1 / Float(c.headDim).squareRoot()
        let blockSize = cache.blockSize, headDim = c.headDim, kvDim = c.kvDim
        let chunks = (n + Self.queryChunk - 1) / Self.queryChunk
        let units = c.headCountKV * chunks
        pool.run { worker in
            let rows = s.manyRows(worker)
            for unit in (units * worker / pool.threadCount)..<(units * (worker + 1) / pool.threadCount) {
                let kvHead = unit / chunks, chunk = unit % chunks
                let t0 = chunk * Self.queryChunk, t1 = min(n, t0 + Self.queryChunk)
                var nq = 0
                for t in t0..<t1 {
                    for h in (kvHead * group)..<((kvHead + 1) * group) {
                        rows.queries[nq] = UnsafePointer(s.q + (base + t) * c.qDim + h * headDim)
                        rows.positions[nq] = Int64(start + t)
                        rows.max[nq] = -.infinity
                        rows.sum[nq] = 0
                        nq += 1
                    }
                }
                rows.acc.initialize(repeating: 0, count: nq * headDim)
                let end = start + t1
                var position = 0
                while position < end {
                    let count = min(blockSize - position % blockSize, end - position)
                    muse_attention_rows_step(Int64(nq), rows.queries, rows.positions,
                                             cache.keys(sequence, layer: l, position: position) + kvHead * headDim,
                                             cache.values(sequence, layer: l, position: position) + kvHead * headDim,
                                             kvDim, Int64(count), Int64(position), Int64(headDim), Int64(headDim), scale,
                                             rows.max, rows.sum, rows.acc, rows.convert)
                    position += count
                }
                var i = 0
                for t in t0..<t1 {
                    for h in (kvHead * group)..<((kvHead + 1) * group) {
                        let out = s.attention + (base + t) * c.qDim + h * headDim
                        let inv = rows.sum[i] > 0 ? 1 / rows.sum[i] : 0
                        for d in 0..<headDim { out[d] = rows.acc[i * headDim + d] * inv }
                        i += 1
                    }
                }
            }
        }
    }
}

/// Per-worker state of many-query attention.
private struct ManyQueryRows {
    let queries: UnsafeMutablePointer<UnsafePointer<Float>?>
    let positions: UnsafeMutablePointer<Int64>
    let max, sum, acc, convert: UnsafeMutablePointer<Float>
}

/// Working memory of one forward call, sized for `batch` tokens.
private struct Scratch {
    let x, xb, q, k, v, attention, hidden, hidden2: UnsafeMutablePointer<Float>
    /// Per-worker fp16 query and accumulator of one head each.
    let query16, accumulator16: UnsafeMutablePointer<UInt16>
    /// Per-worker state for many-query attention.
    private let rowStates: [ManyQueryRows]
    var act: ActivationRows

    init(config c: LlamaConfiguration, batch: Int, threads: Int) {
        func buffer(_ count: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: count)
            p.initialize(repeating: 0, count: count)
            return p
        }
        x = buffer(batch * c.embeddingLength)
        xb = buffer(batch * c.embeddingLength)
        q = buffer(batch * c.qDim)
        k = buffer(batch * c.kvDim)
        v = buffer(batch * c.kvDim)
        attention = buffer(batch * c.qDim)
        hidden = buffer(batch * c.feedForwardLength)
        hidden2 = buffer(batch * c.feedForwardLength)
        query16 = .allocate(capacity: threads * c.headDim)
        accumulator16 = .allocate(capacity: threads * c.headDim)
        let rows = LlamaModel.queryChunk * (c.headCount / c.headCountKV)
        rowStates = (0..<threads).map { _ in
            ManyQueryRows(queries: .allocate(capacity: rows), positions: .allocate(capacity: rows),
                          max: .allocate(capacity: rows), sum: .allocate(capacity: rows),
                          acc: .allocate(capacity: rows * c.headDim),
                          convert: .allocate(capacity: 32 * 2 * c.headDim))
        }
        act = ActivationRows(capacity: batch * max(c.feedForwardLength, c.qDim, c.embeddingLength) * 4)
    }

    func deallocate() {
        for p in [x, xb, q, k, v, attention, hidden, hidden2] { p.deallocate() }
        query16.deallocate()
        accumulator16.deallocate()
        for r in rowStates {
            r.queries.deallocate(); r.positions.deallocate()
            for p in [r.max, r.sum, r.acc, r.convert] { p.deallocate() }
        }
        act.deallocate()
    }

    func manyRows(_ worker: Int) -> ManyQueryRows { rowStates[worker] }
}
