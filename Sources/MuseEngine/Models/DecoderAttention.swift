// The decoder's f32 attention: for a long run of one sequence's tokens (a prompt), and for rows
// of one query each (decode steps) sharing the blocks of forked sequences; and the working memory
// of a forward call.
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
                        rows.begin(nq, query: s.q + (base + t) * c.qDim + h * headDim, position: start + t)
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
                        rows.finish(i, into: s.attention + (base + t) * c.qDim + h * headDim, headDim: headDim)
                        i += 1
                    }
                }
            }
        }
    }
}

extension DecoderModel {
    /// Causal grouped-query attention for rows that each bring one query (decode steps, short
    /// prompts), in f32 as the many-query kernel computes it: each row's query against its own
    /// sequence's positions up to its own (the last `window` of them when positive).
    ///
    /// Rows of sequences forked from one prompt start with the same cache block; they form a
    /// cluster. A work unit is a part of one cluster's queries under one kv head. It walks the
    /// blocks in position order, and the queries that read the same block (every row of the
    /// cluster, in its shared prompt) take it in one call: the block is read and converted to f32
    /// once for all of them. Each query's arithmetic depends only on its own row (the same blocks,
    /// the same visible positions, in the same order), never on what else is in the batch.
    func attentionSharingBlocks(layer l: Int, rows selected: [Int], positions rows: [(item: Int, position: Int)],
                                window: Int, sequences: [KVSequence], cache: KVCache) {
        let c = config, s = scratch
        let group = c.headCount / c.headCountKV
        let scale = 1 / Float(c.headDim).squareRoot()
        let blockSize = cache.blockSize, headDim = c.headDim, kvDim = c.kvDim
        var clusterOfBlock: [Int: Int] = [:]
        var clusters: [[Int]] = []
        for t in selected {
            let first = sequences[rows[t].item].blocks[0]
            if let k = clusterOfBlock[first] {
                clusters[k].append(t)
            } else {
                clusterOfBlock[first] = clusters.count
                clusters.append([t])
            }
        }
        // Parts of at most a chunk of rows each, and enough of them to keep every worker busy.
        let wanted = (2 * pool.threadCount + clusters.count * c.headCountKV - 1) / (clusters.count * c.headCountKV)
        let parts: [(cluster: Int, rows: Range<Int>)] = clusters.indices.flatMap { k in
            let n = clusters[k].count
            let count = min(n, max(wanted, (n + Self.queryChunk - 1) / Self.queryChunk))
            return (0..<count).map { i in (k, (n * i / count)..<(n * (i + 1) / count)) }
        }
        let units = parts.count * c.headCountKV
        pool.run { worker in
            let state = s.manyRows(worker)
            for unit in (units * worker / pool.threadCount)..<(units * (worker + 1) / pool.threadCount) {
                let part = parts[unit / c.headCountKV], kvHead = unit % c.headCountKV
                let members = clusters[part.cluster][part.rows]
                var nq = 0, lastBlock = 0
                for t in members {
                    for h in (kvHead * group)..<((kvHead + 1) * group) {
                        state.begin(nq, query: s.q + t * c.qDim + h * headDim, position: rows[t].position)
                        nq += 1
                    }
                    lastBlock = max(lastBlock, rows[t].position / blockSize)
                }
                state.acc.initialize(repeating: 0, count: nq * headDim)
                for block in 0...lastBlock {
                    // Runs of consecutive rows holding the same cache block at this index.
                    var i = members.startIndex
                    while i < members.endIndex {
                        let t = members[i], end = rows[t].position + 1
                        let sequence = sequences[rows[t].item]
                        let firstSeen = window > 0 ? max(0, end - window) / blockSize : 0
                        guard block <= (end - 1) / blockSize, block >= firstSeen else { i += 1; continue }
                        let id = sequence.blocks[block]
                        var j = i + 1, filled = min(blockSize, end - block * blockSize)
                        while j < members.endIndex, case let u = members[j], rows[u].position / blockSize >= block,
                              sequences[rows[u].item].blocks[block] == id {
                            filled = max(filled, min(blockSize, rows[u].position + 1 - block * blockSize))
                            j += 1
                        }
                        let q0 = (i - members.startIndex) * group, nRun = (j - i) * group
                        muse_attention_rows_step(Int64(nRun), state.queries + q0, state.positions + q0,
                                                 cache.keys(sequence, layer: l, position: block * blockSize) + kvHead * headDim,
                                                 cache.values(sequence, layer: l, position: block * blockSize) + kvHead * headDim,
                                                 kvDim, Int64(filled), Int64(block * blockSize), Int64(headDim), Int64(headDim), scale,
                                                 Int64(window), state.max + q0, state.sum + q0, state.acc + q0 * headDim, state.convert)
                        i = j
                    }
                }
                var q = 0
                for t in members {
                    for h in (kvHead * group)..<((kvHead + 1) * group) {
                        state.finish(q, into: s.attention + t * c.qDim + h * headDim, headDim: headDim)
                        q += 1
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

    /// Query `i` reads `query` at `position`, with nothing seen yet (its `acc` is zeroed apart).
    func begin(_ i: Int, query: UnsafeMutablePointer<Float>, position: Int) {
        queries[i] = UnsafePointer(query)
        positions[i] = Int64(position)
        max[i] = -.infinity
        sum[i] = 0
    }

    /// Query `i`'s attention output: its weighted sum of values over its sum of weights.
    func finish(_ i: Int, into out: UnsafeMutablePointer<Float>, headDim: Int) {
        let inv = sum[i] > 0 ? 1 / sum[i] : 0
        for d in 0..<headDim { out[d] = acc[i * headDim + d] * inv }
    }
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
