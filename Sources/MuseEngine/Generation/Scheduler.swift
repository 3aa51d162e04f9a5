// Continuous batching: one owner of the model and the KV cache runs, in each step, one forward pass
// that advances every active completion by a token and feeds the next chunk of waiting prompts.
// Requests arrive at any time and each streams its own events; n completions of one prompt share
// the prompt's KV blocks (forked), and finished conversations stay cached so that a new prompt
// starting with the same tokens (a system prompt, a chat's history) skips recomputing them.
import Foundation
import MuseCore

final class Scheduler: @unchecked Sendable {
    struct Limits: Sendable {
        /// Completions decoding at once; more requests wait in a queue.
        var maxSequences = 32
        /// Prompt tokens fed per step and per prompt, so that a long prompt delays the others'
        /// next token by at most one such chunk.
        var prefillChunk = 128
        /// Prompts fed in the same step at most.
        var prefillsPerStep = 4
        /// Finished sequences kept for prefix reuse (evicted least recently used first, and all of
        /// them when the cache runs out of blocks).
        var retainedSequences = 16
    }

    typealias Statistics = EngineStatistics

    let model: any CausalModel
    let cache: KVCache
    let tokenizer: any Tokenizer
    let contextLength: Int
    let limits: Limits
    /// Held for the duration of each step; whoever holds it has the model and the cache (benchmarks
    /// take it to drive the model directly).
    let stepLock = NSLock()

    private let logits: UnsafeMutablePointer<Float>
    private let wake = NSCondition()
    // Guarded by `wake`.
    private var incoming: [Job] = []
    private var stopping = false
    private var stats = Statistics()

    // Owned by the scheduler thread, under `stepLock`.
    private var waiting: [Job] = []
    private var prefilling: [Job] = []
    private var decoding: [Slot] = []
    private var retained: [Retained] = []

    init(model: any CausalModel, cache: KVCache, tokenizer: any Tokenizer, contextLength: Int, limits: Limits = Limits()) {
        self.model = model
        self.cache = cache
        self.tokenizer = tokenizer
        self.contextLength = contextLength
        self.limits = limits
        stats.kvBlocksCapacity = cache.capacityBlocks
        logits = .allocate(capacity: (limits.maxSequences + limits.prefillsPerStep) * model.vocabularySize)
        // The thread keeps the scheduler alive until `shutdown` lets it end.
        let thread = Thread { self.run() }
        thread.name = "muse-scheduler"
        thread.stackSize = 4 << 20
        thread.start()
    }

    deinit { logits.deallocate() }

    /// Stops the scheduler thread; queued and running requests end with an error.
    func shutdown() {
        wake.lock()
        stopping = true
        wake.broadcast()
        wake.unlock()
    }

    var statistics: Statistics {
        wake.lock()
        defer { wake.unlock() }
        return stats
    }

    /// Queues `count` completions of one prompt. Each stream ends after its `.finished` event;
    /// a consumer that stops listening cancels its completion and frees its blocks.
    /// `constraint` (in its start state) is copied to each completion.
    func submit(prompt: [Int32], request: GenerationRequest, count: Int = 1,
                constraint: TokenConstraint? = nil) -> [AsyncThrowingStream<GenerationEvent, any Error>] {
        precondition(!prompt.isEmpty && count >= 1)
        var streams: [AsyncThrowingStream<GenerationEvent, any Error>] = []
        var outputs: [Output] = []
        for _ in 0..<count {
            let (stream, continuation) = AsyncThrowingStream<GenerationEvent, any Error>.makeStream()
            let output = Output(continuation: continuation)
            continuation.onTermination = { _ in output.cancelled.set() }
            streams.append(stream)
            outputs.append(output)
        }
        let job = Job(prompt: prompt, request: request, outputs: outputs, constraint: constraint)
        wake.lock()
        if stopping {
            wake.unlock()
            for output in outputs { output.continuation.finish(throwing: SchedulerError.shutDown) }
            return streams
        }
        incoming.append(job)
        wake.signal()
        wake.unlock()
        return streams
    }

    /// Frees every cached prefix (tests, and callers that want the memory back); with `scrubbing`,
    /// the freed blocks are overwritten too, so that no conversation's keys and values stay in memory.
    func clearRetained(scrubbing: Bool = false) {
        stepLock.lock()
        defer { stepLock.unlock() }
        evictRetained(all: true)
        if scrubbing { cache.scrubFreeBlocks() }
    }

    // MARK: - The loop

    private func run() {
        while true {
            wake.lock()
            while incoming.isEmpty && waiting.isEmpty && prefilling.isEmpty && decoding.isEmpty && !stopping {
                wake.wait()
            }
            let stop = stopping
            waiting.append(contentsOf: incoming)
            incoming.removeAll()
            wake.unlock()
            stepLock.lock()
            if stop {
                failAll(SchedulerError.shutDown)
                stepLock.unlock()
                return
            }
            step()
            stepLock.unlock()
        }
    }

    private func step() {
        dropCancelled()
        admit()
        var items: [ForwardItem] = []
        var owners: [Owner] = []
        for slot in decoding {
            items.append(ForwardItem(tokens: [slot.next], wantsLogits: true))
            owners.append(.slot(slot))
        }
        var budget = model.maxBatchTokens - items.count
        for job in prefilling.prefix(limits.prefillsPerStep) where budget > 0 {
            let chunk = min(job.prompt.count - job.sequence.count, limits.prefillChunk, budget)
            let end = job.sequence.count + chunk
            items.append(ForwardItem(tokens: Array(job.prompt[job.sequence.count..<end]), wantsLogits: end == job.prompt.count))
            owners.append(.job(job, chunk))
            budget -= chunk
        }
        defer {
            wake.lock()
            stats.running = waiting.count + prefilling.reduce(0) { $0 + $1.outputs.count } + decoding.count
            stats.kvBlocksInUse = cache.blocksInUse
            wake.unlock()
        }
        guard !items.isEmpty else { return }

        var sequences = owners.map(\.sequence)
        do {
            try model.forward(items, sequences: &sequences, cache: cache, logits: logits)
        } catch {
            // Out of KV blocks: give back cached prefixes first; if there are none, the newest
            // request cannot be served now.
            for (owner, sequence) in zip(owners, sequences) { owner.sequence = sequence }
            if !retained.isEmpty {
                evictRetained(all: true)
            } else if let last = owners.last {
                fail(last, GenerationError(error))
            }
            return
        }
        for (owner, sequence) in zip(owners, sequences) { owner.sequence = sequence }

        wake.lock()
        stats.steps += 1
        stats.lastBatch = items.count
        stats.sequencesStepped += items.count
        stats.largestBatch = max(stats.largestBatch, items.count)
        stats.promptTokensComputed += owners.reduce(0) { if case .job(_, let chunk) = $1 { $0 + chunk } else { $0 } }
        wake.unlock()

        var row = 0
        for (item, owner) in zip(items, owners) where item.wantsLogits {
            let rowLogits = UnsafeBufferPointer(start: logits + row * model.vocabularySize, count: model.vocabularySize)
            row += 1
            switch owner {
            case .slot(let slot):
                advance(slot, rowLogits)
            case .job(let job, _):
                startDecoding(job, rowLogits)
            }
        }
    }

    /// Moves waiting jobs in while there is room for their completions, reusing a cached prefix.
    private func admit() {
        while let job = waiting.first, decoding.count + prefilling.reduce(0, { $0 + $1.outputs.count }) + job.outputs.count <= limits.maxSequences
            || (decoding.isEmpty && prefilling.isEmpty) {
            waiting.removeFirst()
            job.admitted = ContinuousClock.now
            if job.outputs.allSatisfy(\.cancelled.isSet) { job.outputs.forEach { $0.continuation.finish() }; continue }
            reusePrefix(for: job)
            prefilling.append(job)
        }
    }

    private func reusePrefix(for job: Job) {
        var best: (index: Int, length: Int)?
        for (i, entry) in retained.enumerated() {
            let common = zip(entry.tokens, job.prompt).prefix { $0 == $1 }.count
            if common > (best?.length ?? 0) { best = (i, common) }
        }
        // At least the last prompt token must run, to produce the logits that follow it.
        guard let best, case let length = min(best.length, job.prompt.count - 1), length > 0 else { return }
        let entry = retained.remove(at: best.index)
        retained.append(entry)  // most recently used last
        job.sequence = cache.fork(entry.sequence)
        cache.truncate(&job.sequence, to: length)
        wake.lock()
        stats.promptTokensReused += length
        wake.unlock()
    }

    /// The prompt is in the cache: fork it for each completion and sample their first tokens.
    private func startDecoding(_ job: Job, _ rowLogits: UnsafeBufferPointer<Float>) {
        prefilling.removeAll { $0 === job }
        let promptSeconds = (ContinuousClock.now - (job.admitted ?? .now)).seconds
        let limit = min(job.request.maxTokens, contextLength - job.prompt.count)
        for (i, output) in job.outputs.enumerated() {
            var sampling = job.request.sampling
            // Completions of one prompt differ by seed; each is still reproducible.
            if let seed = sampling.seed { sampling.seed = seed &+ UInt64(i) }
            let state = CompletionState(request: job.request, sampling: sampling, tokenizer: tokenizer, limit: limit,
                                        history: job.prompt[...], promptTokens: job.prompt.count, promptSeconds: promptSeconds,
                                        constraint: job.constraint)
            let sequence = i == job.outputs.count - 1 ? job.sequence : cache.fork(job.sequence)
            let slot = Slot(output: output, state: state, sequence: sequence, tokens: job.prompt)
            decoding.append(slot)
            advance(slot, rowLogits)
        }
        if job.outputs.isEmpty { cache.free(&job.sequence) }
    }

    private func advance(_ slot: Slot, _ rowLogits: UnsafeBufferPointer<Float>) {
        let output = slot.output
        if let next = slot.state.step(rowLogits, emit: { output.yield($0) }) {
            if slot.tokens.count > slot.sequence.count { slot.tokens.removeLast(slot.tokens.count - slot.sequence.count) }
            slot.next = next
            slot.tokens.append(next)
        } else {
            finish(slot)
        }
    }

    private func finish(_ slot: Slot) {
        decoding.removeAll { $0 === slot }
        slot.output.continuation.finish()
        // Keep the conversation's blocks for a later prompt that starts the same way.
        slot.tokens.removeLast(max(0, slot.tokens.count - slot.sequence.count))
        retained.append(Retained(tokens: slot.tokens, sequence: slot.sequence))
        if retained.count > limits.retainedSequences { evictRetained(all: false) }
    }

    private func evictRetained(all: Bool) {
        repeat {
            guard !retained.isEmpty else { return }
            var oldest = retained.removeFirst()
            cache.free(&oldest.sequence)
        } while all
    }

    private func dropCancelled() {
        for slot in decoding where slot.output.cancelled.isSet {
            decoding.removeAll { $0 === slot }
            cache.free(&slot.sequence)
            slot.output.continuation.finish()
        }
        for job in prefilling where job.outputs.allSatisfy(\.cancelled.isSet) {
            prefilling.removeAll { $0 === job }
            cache.free(&job.sequence)
            job.outputs.forEach { $0.continuation.finish() }
        }
    }

    private func fail(_ owner: Owner, _ error: any Error) {
        switch owner {
        case .slot(let slot):
            decoding.removeAll { $0 === slot }
            cache.free(&slot.sequence)
            slot.output.continuation.finish(throwing: error)
        case .job(let job, _):
            prefilling.removeAll { $0 === job }
            cache.free(&job.sequence)
            job.outputs.forEach { $0.continuation.finish(throwing: error) }
        }
    }

    private func failAll(_ error: any Error) {
        for slot in decoding { fail(.slot(slot), error) }
        for job in prefilling + waiting {
            cache.free(&job.sequence)
            job.outputs.forEach { $0.continuation.finish(throwing: error) }
        }
        prefilling.removeAll()
        waiting.removeAll()
        evictRetained(all: true)
    }
}

public enum SchedulerError: Error, Sendable, CustomStringConvertible {
    case shutDown
    public var description: String { "the model is shutting down" }
}

/// One completion's way out.
private final class Output: Sendable {
    let continuation: AsyncThrowingStream<GenerationEvent, any Error>.Continuation
    let cancelled = CancellationFlag()
    init(continuation: AsyncThrowingStream<GenerationEvent, any Error>.Continuation) { self.continuation = continuation }

    func yield(_ event: GenerationEvent) {
        if case .terminated = continuation.yield(event) { cancelled.set() }
    }
}

/// A prompt on its way into the cache.
private final class Job {
    let prompt: [Int32]
    let request: GenerationRequest
    let outputs: [Output]
    let constraint: TokenConstraint?
    var sequence = KVSequence()
    var admitted: ContinuousClock.Instant?
    init(prompt: [Int32], request: GenerationRequest, outputs: [Output], constraint: TokenConstraint?) {
        self.prompt = prompt
        self.request = request
        self.outputs = outputs
        self.constraint = constraint
    }
}

/// A completion decoding one token per step.
private final class Slot {
    let output: Output
    var state: CompletionState
    var sequence: KVSequence
    /// The tokens of `sequence` followed by `next`.
    var tokens: [Int32]
    var next: Int32 = 0
    init(output: Output, state: CompletionState, sequence: KVSequence, tokens: [Int32]) {
        self.output = output
        self.state = state
        self.sequence = sequence
        self.tokens = tokens
    }
}

/// A finished conversation kept for prefix reuse.
private struct Retained {
    var tokens: [Int32]
    var sequence: KVSequence
}

/// What a forward item belongs to.
private enum Owner {
    case slot(Slot)
    case job(Job, Int)

    var sequence: KVSequence {
        get {
            switch self {
            case .slot(let slot): slot.sequence
            case .job(let job, _): job.sequence
            }
        }
        nonmutating set {
            switch self {
            case .slot(let slot): slot.sequence = newValue
            case .job(let job, _): job.sequence = newValue
            }
        }
    }
}
