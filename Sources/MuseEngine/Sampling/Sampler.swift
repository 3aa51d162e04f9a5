// Picks the next token from logits: a chain of small steps (penalties, top-k, top-p, min-p,
// temperature) followed by a draw, in the order llama.cpp's default chain applies them.
import Foundation
import MuseCore

/// A token and its score; steps narrow and reshape a list of these.
public struct Candidate: Sendable, Equatable {
    public var id: Int32
    public var logit: Float
    public init(id: Int32, logit: Float) {
        self.id = id
        self.logit = logit
    }
}

/// One step of the chain. `apply` may reorder, drop or rescale candidates; `accept` sees each
/// token chosen; `reset` forgets history.
public protocol SamplerStep: Sendable {
    mutating func apply(_ candidates: inout [Candidate])
    mutating func accept(_ token: Int32)
    mutating func reset()
}

extension SamplerStep {
    public mutating func accept(_ token: Int32) {}
    public mutating func reset() {}
}

/// Repetition, presence and frequency penalties over the last `window` tokens.
public struct PenaltyStep: SamplerStep {
    let repetition: Float, presence: Float, frequency: Float, window: Int
    private var recent: [Int32] = []

    public init(repetition: Float, presence: Float, frequency: Float, window: Int) {
        self.repetition = repetition
        self.presence = presence
        self.frequency = frequency
        self.window = max(window, 0)
    }

    public mutating func apply(_ candidates: inout [Candidate]) {
        guard let counts = recentCounts() else { return }
        for i in candidates.indices {
            if let count = counts[candidates[i].id] { candidates[i].logit = penalized(candidates[i].logit, count: count) }
        }
    }

    /// The same adjustment applied in place to a full vocabulary of logits.
    func apply(to logits: UnsafeMutableBufferPointer<Float>) {
        guard let counts = recentCounts() else { return }
        for (token, count) in counts where token >= 0 && Int(token) < logits.count {
            logits[Int(token)] = penalized(logits[Int(token)], count: count)
        }
    }

    /// How often each recent token occurred; nil when no penalty would change anything.
    private func recentCounts() -> [Int32: Int]? {
        guard !recent.isEmpty, repetition != 1 || presence != 0 || frequency != 0 else { return nil }
        return recent.reduce(into: [:]) { $0[$1, default: 0] += 1 }
    }

    private func penalized(_ logit: Float, count: Int) -> Float {
        (logit > 0 ? logit / repetition : logit * repetition) - (Float(count) * frequency + presence)
    }

    public mutating func accept(_ token: Int32) {
        guard window > 0 else { return }
        recent.append(token)
        if recent.count > window { recent.removeFirst(recent.count - window) }
    }

    public mutating func reset() { recent.removeAll() }
}

/// Keeps the k highest logits, sorted descending.
public struct TopKStep: SamplerStep {
    let k: Int
    public init(k: Int) { self.k = k }

    public mutating func apply(_ candidates: inout [Candidate]) {
        candidates = selectTop(k, of: candidates, count: candidates.count)
    }
}

/// The k highest of `logits` as candidates, sorted descending (all of them when k is 0 or more than
/// the count), without materialising a candidate per vocabulary entry.
func topCandidates(_ logits: UnsafeBufferPointer<Float>, k: Int) -> [Candidate] {
    selectTop(k, of: logits.lazy.enumerated().map { Candidate(id: Int32($0.offset), logit: $0.element) }, count: logits.count)
}

/// Partial selection: a small sorted buffer instead of sorting everything; a full sort when k is 0
/// or not smaller than the count.
private func selectTop(_ k: Int, of candidates: some Sequence<Candidate>, count: Int) -> [Candidate] {
    guard k > 0, k < count else { return candidates.sorted { $0.logit > $1.logit } }
    var top: [Candidate] = []
    top.reserveCapacity(k + 1)
    for c in candidates where top.count < k || c.logit > top[k - 1].logit {
        var i = top.count
        while i > 0 && top[i - 1].logit < c.logit { i -= 1 }
        top.insert(c, at: i)
        if top.count > k { top.removeLast() }
    }
    return top
}

/// Softmax of the candidates' logits (which must be sorted descending) as probabilities.
func probabilities(_ candidates: [Candidate]) -> [Float] {
    guard let max = candidates.first?.logit else { return [] }
    var p = candidates.map { expf($0.logit - max) }
    let sum = p.reduce(0, +)
    for i in p.indices { p[i] /= sum }
    return p
}

/// Keeps the smallest prefix whose probability mass reaches p.
public struct TopPStep: SamplerStep {
    let p: Float
    public init(p: Float) { self.p = p }

    public mutating func apply(_ candidates: inout [Candidate]) {
        guard p < 1, candidates.count > 1 else { return }
        candidates.sort { $0.logit > $1.logit }
        var mass: Float = 0
        for (i, prob) in probabilities(candidates).enumerated() {
            mass += prob
            if mass >= p {
                candidates.removeSubrange((i + 1)...)
                return
            }
        }
    }
}

/// Drops tokens whose probability is below minP times the best one's.
public struct MinPStep: SamplerStep {
    let minP: Float
    public init(minP: Float) { self.minP = minP }

    public mutating func apply(_ candidates: inout [Candidate]) {
        guard minP > 0, let best = candidates.map(\.logit).max() else { return }
        // p_i / p_max >= minP  <=>  logit_i >= logit_max + ln(minP)
        let threshold = best + logf(minP)
        candidates.removeAll { $0.logit < threshold }
    }
}

public struct TemperatureStep: SamplerStep {
    let temperature: Float
    public init(temperature: Float) { self.temperature = temperature }

    public mutating func apply(_ candidates: inout [Candidate]) {
        guard temperature > 0, temperature != 1 else { return }
        for i in candidates.indices { candidates[i].logit /= temperature }
    }
}

/// The configured chain and the final choice: the best candidate when greedy, else a seeded draw.
/// Penalties adjust a copy of the logits in place; top-k picks its candidates straight from that
/// copy, so no step touches a candidate per vocabulary entry.
public struct Sampler: Sendable {
    private var penalty: PenaltyStep
    private let topK: Int
    /// The steps after top-k: top-p, min-p, temperature.
    public private(set) var steps: [any SamplerStep]
    private let greedy: Bool
    private var random: SeededRandom
    private var scratch: [Float] = []

    public init(_ parameters: SamplingParameters) {
        greedy = parameters.isGreedy
        random = SeededRandom(seed: parameters.seed ?? UInt64.random(in: 0...UInt64.max))
        penalty = PenaltyStep(repetition: parameters.repetitionPenalty, presence: parameters.presencePenalty,
                              frequency: parameters.frequencyPenalty, window: parameters.penaltyWindow)
        topK = parameters.topK
        steps = greedy ? [] : [
            TopPStep(p: parameters.topP),
            MinPStep(minP: parameters.minP),
            TemperatureStep(temperature: parameters.temperature),
        ]
    }

    /// Chooses a token from `logits` (one per vocabulary entry).
    public mutating func sample(_ logits: UnsafeBufferPointer<Float>) -> Int32 {
        // Without a constraint some token is always allowed.
        sample(logits, constraint: nil)!
    }

    /// Chooses a token among those `constraint` allows: the same chain over the allowed tokens only.
    /// Nil when the constraint allows none.
    mutating func sample(_ logits: UnsafeBufferPointer<Float>, constraint: TokenConstraint?) -> Int32? {
        if scratch.count != logits.count { scratch = [Float](repeating: 0, count: logits.count) }
        // Greedy picks are made on the scratch copy; a draw needs the candidates it leaves.
        var candidates: [Candidate] = []
        let picked: Int32? = scratch.withUnsafeMutableBufferPointer { adjusted in
            _ = adjusted.initialize(from: logits)
            penalty.apply(to: adjusted)
            let view = UnsafeBufferPointer(adjusted)
            if let constraint {
                candidates = constraint.allowedTop(greedy ? 1 : topK, of: adjusted)
                return greedy ? candidates.first?.id : nil
            } else if greedy {
                var best = 0
                for i in 1..<view.count where view[i] > view[best] { best = i }
                return Int32(best)
            }
            candidates = topCandidates(view, k: topK)
            return nil
        }
        let chosen = picked ?? (candidates.isEmpty ? nil : draw(from: &candidates))
        if let chosen { accept(chosen) }
        return chosen
    }

    /// The steps after top-k, then a seeded draw by probability.
    private mutating func draw(from candidates: inout [Candidate]) -> Int32 {
        for i in steps.indices { steps[i].apply(&candidates) }
        candidates.sort { $0.logit > $1.logit }
        let p = probabilities(candidates)
        let r = random.nextUnit()
        var mass: Float = 0
        var pick = candidates.count - 1
        for (i, prob) in p.enumerated() {
            mass += prob
            if r < mass { pick = i; break }
        }
        return candidates[max(pick, 0)].id
    }

    /// Tells the steps about a token that is part of the history (prompt or generated).
    public mutating func accept(_ token: Int32) {
        penalty.accept(token)
        for i in steps.indices { steps[i].accept(token) }
    }

    public mutating func reset() {
        penalty.reset()
        for i in steps.indices { steps[i].reset() }
    }
}

/// Log-probabilities under the model's full distribution: the chosen token's and the top `n`.
func logprobs(_ logits: UnsafeBufferPointer<Float>, chosen: Int32, top n: Int) -> GeneratedToken {
    var max = -Float.infinity
    for v in logits where v > max { max = v }
    var sum = 0.0
    for v in logits { sum += Double(expf(v - max)) }
    let logZ = max + Float(log(sum))
    let top = n > 0 ? topCandidates(logits, k: n).map { TokenLogprob(id: $0.id, logprob: $0.logit - logZ) } : []
    return GeneratedToken(id: chosen, logprob: logits[Int(chosen)] - logZ, topLogprobs: top)
}
