// Timing the engine the way llama-bench does: a batch of prompt tokens at once (pp), or tokens
// generated one at a time (tg), from an empty cache, with random token ids.

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
                throw .cache(error)
            }
            position = end
        }
        return (clock.now - start).seconds
    }
}
