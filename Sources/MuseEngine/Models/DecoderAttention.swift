// Attention for the decoder's forward pass when a call carries a long run of one sequence's
// tokens (a prompt), and the working memory of a forward call.
import CMuseKernels

extension DecoderModel {
    /// Attention for a large batch: work units of (kv head, chunk of tokens), each walking the
    /// cached blocks once for all the queries of the heads that share that kv head.
    /// `rows` are consecutive batch rows of one sequence, at positions `start`, `start + 1`, ...;
    /// with a positive `window` each sees only the last `window` positions up to its own.
    func attentionManyQueries(layer l: Int, rows batchRows: Range<Int>, start: Int, window: Int, sequence: KVSequence, cache: KVCache) {
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
                // Blocks before the first query's window hold nothing any query of the chunk sees.
                var position = window > 0 ? max(0, start + t0 - window + 1) / blockSize * blockSize : 0
                while position < end {
                    let count = min(blockSize - position % blockSize, end - position)
                    muse_attention_rows_step(Int64(nq), rows.queries, rows.positions,
                                             cache.keys(sequence, layer: l, position: position) + kvHead * headDim,
                                             cache.values(sequence, layer: l, position: position) + kvHead * headDim,
                                             kvDim, Int64(count), Int64(position), Int64(headDim), Int64(headDim), scale, Int64(window),
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
struct ManyQueryRows {
    let queries: UnsafeMutablePointer<UnsafePointer<Float>?>
    let positions: UnsafeMutablePointer<Int64>
    let max, sum, acc, convert: UnsafeMutablePointer<Float>
}

/// Working memory of one forward call, sized for `batch` tokens.
struct DecoderScratch {
    let x, xb, q, k, v, attention, hidden, hidden2: UnsafeMutablePointer<Float>
    /// Per-worker fp16 query and accumulator of one head each.
    let query16, accumulator16: UnsafeMutablePointer<UInt16>
    /// Per-worker state for many-query attention.
    private let rowStates: [ManyQueryRows]
    var act: ActivationRows

    init(config c: DecoderConfiguration, batch: Int, threads: Int) {
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
        let rows = DecoderModel.queryChunk * (c.headCount / c.headCountKV)
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
