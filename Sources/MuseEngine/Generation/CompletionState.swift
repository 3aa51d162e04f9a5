// The decoding state of one completion: its sampler, detokenizer, stop strings and counters. It
// turns each step's logits into events and says which token to feed next.
import MuseCore

struct CompletionState {
    private var sampler: Sampler
    private var detokenizer: StreamingDetokenizer
    private var stops: StopMatcher
    /// The output format being enforced, if any.
    private var constraint: TokenConstraint?
    private let tokenizer: any Tokenizer
    private let limit: Int
    private let topLogprobs: Int
    private let wantsLogprobs: Bool
    private let promptTokens: Int
    private let promptSeconds: Double
    private let clock = ContinuousClock()
    private let decodeStart: ContinuousClock.Instant
    private(set) var generated = 0

    /// - Parameters:
    ///   - limit: the most tokens to generate (the request's maximum, capped by the context).
    ///   - history: prompt tokens the repetition penalties look back on.
    init(request: GenerationRequest, sampling: SamplingParameters, tokenizer: any Tokenizer, limit: Int,
         history: ArraySlice<Int32>, promptTokens: Int, promptSeconds: Double, constraint: TokenConstraint? = nil) {
        sampler = Sampler(sampling)
        self.constraint = constraint
        for id in history.suffix(sampling.penaltyWindow) { sampler.accept(id) }
        detokenizer = StreamingDetokenizer(tokenizer: tokenizer)
        stops = StopMatcher(stops: request.stop)
        self.tokenizer = tokenizer
        self.limit = limit
        topLogprobs = request.topLogprobs
        wantsLogprobs = request.logprobs || request.topLogprobs > 0
        self.promptTokens = promptTokens
        self.promptSeconds = promptSeconds
        decodeStart = clock.now
    }

    /// Samples from `logits` and emits the token, its text and, at the end, the finish event.
    /// Returns the token to run next, or nil when the completion is over.
    mutating func step(_ logits: UnsafeBufferPointer<Float>, emit: (GenerationEvent) -> Void) -> Int32? {
        guard let token = sampler.sample(logits, constraint: constraint) else {
            // No token fits the format (the vocabulary cannot spell what it needs): end cleanly.
            return finish(.stop, emit: emit)
        }
        constraint?.accept(token)
        generated += 1
        // The full softmax costs as much as sampling itself: only when asked for.
        emit(.token(wantsLogprobs ? logprobs(logits, chosen: token, top: topLogprobs)
                                  : GeneratedToken(id: token, logprob: nil, topLogprobs: [])))
        if tokenizer.isEndOfGeneration(token) { return finish(.stop, emit: emit) }
        let (text, stopped) = stops.append(detokenizer.append(token))
        if !text.isEmpty { emit(.text(text)) }
        if stopped { return finish(.stop, emit: emit) }
        if constraint?.isFinished == true { return finish(.formatComplete, emit: emit) }
        if generated >= limit { return finish(.length, emit: emit) }
        return token
    }

    /// Ends the completion early (cancelled, or the cache could not grow): what was held back
    /// is emitted with the finish event.
    mutating func finish(_ reason: Ending, emit: (GenerationEvent) -> Void) -> Int32? {
        if reason.flushes {
            let tail = stops.append(detokenizer.flush()).emit + stops.flush()
            if !tail.isEmpty { emit(.text(tail)) }
        }
        let timings = Timings(promptSeconds: promptSeconds, generationSeconds: (clock.now - decodeStart).seconds,
                              promptTokens: promptTokens, generatedTokens: generated)
        emit(.finished(reason.finishReason, Usage(promptTokens: promptTokens, completionTokens: generated), timings))
        return nil
    }
}

extension CompletionState {
    /// Why a completion ends, and whether text held back (a partial character or stop string)
    /// still belongs to the output.
    enum Ending {
        /// End of turn or a stop string: what was held back is dropped.
        case stop
        /// The output format is complete.
        case formatComplete
        /// The token limit or the context was reached.
        case length

        var flushes: Bool { self != .stop }
        var finishReason: FinishReason { self == .length ? .length : .stop }
    }
}
