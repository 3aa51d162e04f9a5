// Timing the engine the way llama-bench does: a batch of prompt tokens at once (pp), or tokens
// generated one at a time (tg), from an empty cache, with random token ids; and the speed at which
// the machine reads the weights at all, the ceiling of generation.
import CMuseKernels
import MuseCore

extension LocalModel {
    /// Runs `count` random tokens through the model from an empty cache, `batch` tokens per forward
    /// call, and returns the seconds the forward calls took.
    public func timeForward(tokens count: Int, batch: Int, seed: UInt64 = 1) throws(GenerationError) -> Double {
        var random = SeededRandom(seed: seed)
        let tokens = (0..<count).map { _ in Int32(random.next() % UInt64(model.vocabularySize)) }
        return try runFromEmptyCache(tokens, batch: batch)
    }

    /// The next-token logits after `tokens`, run from an empty cache `batch` tokens per forward call
    /// (so tests can compare the one-query and many-query attention kernels on the same text).
    func nextTokenLogits(_ tokens: [Int32], batch: Int) throws(GenerationError) -> [Float] {
        _ = try runFromEmptyCache(tokens, batch: batch)
        return Array(UnsafeBufferPointer(start: logits, count: model.vocabularySize))
    }

    private func runFromEmptyCache(_ tokens: [Int32], batch: Int) throws(GenerationError) -> Double {
        let count = tokens.count
        precondition(count > 0 && batch > 0)
        guard count < contextLength else { throw .contextExceeded(promptTokens: count, contextLength: contextLength) }
        var sequence = KVSequence()
        scheduler.stepLock.lock()
        defer {
            cache.free(&sequence)
            scheduler.stepLock.unlock()
        }
        let clock = ContinuousClock()
        let start = clock.now
        var position = 0
        while position < count {
            let end = min(count, position + batch)
            do {
                try model.forward(Array(tokens[position..<end]), sequence: &sequence, cache: cache, logits: logits)
            } catch {
                throw GenerationError(error)
            }
            position = end
        }
        return (clock.now - start).seconds
    }
}

extension LocalModel {
    /// Parallel decoding as Contemplating uses it: a `prompt`-token prompt computed once, forked
    /// into `sequences` sequences, then `steps` decode steps that advance all of them in one
    /// forward pass each. Returns the seconds of the decode steps.
    public func timeParallelDecode(sequences count: Int, prompt: Int, steps: Int, seed: UInt64 = 1) throws(GenerationError) -> Double {
        precondition(count >= 1 && prompt >= 1 && steps >= 1)
        guard prompt + steps < contextLength else { throw .contextExceeded(promptTokens: prompt + steps, contextLength: contextLength) }
        var random = SeededRandom(seed: seed)
        func token() -> Int32 { Int32(random.next() % UInt64(model.vocabularySize)) }
        var parent = KVSequence()
        scheduler.stepLock.lock()
        defer { scheduler.stepLock.unlock() }
        var forks: [KVSequence] = []
        defer {
            cache.free(&parent)
            for i in forks.indices { cache.free(&forks[i]) }
        }
        do {
            try model.forward((0..<prompt).map { _ in token() }, sequence: &parent, cache: cache, logits: logits)
            forks = (0..<count).map { _ in cache.fork(parent) }
            let rows = UnsafeMutablePointer<Float>.allocate(capacity: count * model.vocabularySize)
            defer { rows.deallocate() }
            let clock = ContinuousClock()
            let start = clock.now
            for _ in 0..<steps {
                let items = (0..<count).map { _ in ForwardItem(tokens: [token()], wantsLogits: true) }
                try model.forward(items, sequences: &forks, cache: cache, logits: rows)
            }
            return (clock.now - start).seconds
        } catch {
            throw GenerationError(error)
        }
    }
}

extension LocalModel {
    /// Gigabytes per second at which the compute threads read the bytes of a decode step
    /// (`CausalModel.decodeReads`) once as a plain sum of words, with nothing else to do: the most
    /// a decode step could reach. The best of `repetitions` passes.
    public func weightReadSpeed(repetitions: Int = 10) -> Double {
        // Pieces of at most 1 MiB of each matrix, from its first 8-byte aligned word (a file may
        // align its tensors to less).
        let piece = 1 << 20
        var pieces: [(UnsafeRawPointer, Int)] = []
        for bytes in model.decodeReads {
            guard let start = bytes.baseAddress else { continue }
            let skip = (8 - Int(bitPattern: start) % 8) % 8
            let base = start + skip, count = bytes.count - skip
            for offset in stride(from: 0, to: count, by: piece) {
                pieces.append((base + offset, min(piece, count - offset)))
            }
        }
        let total = pieces.reduce(0) { $0 + $1.1 }
        guard total > 0 else { return 0 }
        let clock = ContinuousClock()
        var best = Double.infinity
        scheduler.stepLock.lock()
        defer { scheduler.stepLock.unlock() }
        for _ in 0..<max(repetitions, 1) {
            let start = clock.now
            pool.parallelChunks(pieces.count) { range in
                var sum: UInt64 = 0
                for i in range { sum &+= muse_read_words(pieces[i].0, pieces[i].1) }
                withExtendedLifetime(sum) {}
            }
            best = min(best, (clock.now - start).seconds)
        }
        return Double(total) / best / 1e9
    }
}
