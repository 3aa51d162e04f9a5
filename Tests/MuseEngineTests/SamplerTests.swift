// Sampler steps against hand-computed expectations; seeds make draws repeatable.
import Foundation
import MuseCore
import Testing
@testable import MuseEngine

@Suite struct SamplerTests {
    func candidates(_ logits: [Float]) -> [Candidate] {
        logits.enumerated().map { Candidate(id: Int32($0.offset), logit: $0.element) }
    }

    @Test func greedyPicksTheLargestLogit() {
        var sampler = Sampler(.greedy)
        let logits: [Float] = [0.1, 3, -2, 2.9]
        #expect(logits.withUnsafeBufferPointer { sampler.sample($0) } == 1)
    }

    @Test func topKKeepsTheKBestSorted() {
        var c = candidates([0.5, 2, -1, 3, 1])
        var step = TopKStep(k: 3)
        step.apply(&c)
        #expect(c.map(\.id) == [3, 1, 4])
    }

    @Test func topPKeepsTheSmallestPrefixReachingP() {
        // Probabilities 0.5, 0.25, 0.125, 0.125 (log-space logits).
        var c = candidates([log(0.5), log(0.25), log(0.125), log(0.125)])
        var step = TopPStep(p: 0.7)
        step.apply(&c)
        #expect(c.map(\.id) == [0, 1])
    }

    @Test func minPDropsTokensBelowTheFractionOfTheBest() {
        var c = candidates([log(0.5), log(0.3), log(0.04), log(0.16)])
        var step = MinPStep(minP: 0.1)   // threshold 0.05
        step.apply(&c)
        #expect(Set(c.map(\.id)) == [0, 1, 3])
    }

    @Test func penaltiesLowerSeenTokens() {
        var step = PenaltyStep(repetition: 2, presence: 0.5, frequency: 0.25, window: 4)
        step.accept(1)
        step.accept(1)
        step.accept(2)
        var c = candidates([1, 4, -2])
        step.apply(&c)
        #expect(c[0].logit == 1)
        let seenTwice: Float = 4 / 2 - 0.5 - 2 * 0.25   // positive logit divided, then presence and 2x frequency
        let seenOnce: Float = -2 * 2 - 0.5 - 0.25       // negative logit multiplied
        #expect(c[1].logit == seenTwice)
        #expect(c[2].logit == seenOnce)
    }

    @Test func temperatureScalesLogits() {
        var c = candidates([1, 2])
        var step = TemperatureStep(temperature: 0.5)
        step.apply(&c)
        #expect(c.map(\.logit) == [2, 4])
    }

    @Test func sameSeedSameDraws() {
        let logits = (0..<100).map { Float($0 % 7) * 0.3 }
        func draws(_ seed: UInt64) -> [Int32] {
            var sampler = Sampler(SamplingParameters(temperature: 1.5, topK: 0, topP: 1, minP: 0, seed: seed))
            return (0..<50).map { _ in logits.withUnsafeBufferPointer { sampler.sample($0) } }
        }
        #expect(draws(1) == draws(1))
        #expect(draws(1) != draws(2))
        // A hot, flat distribution actually varies.
        #expect(Set(draws(3)).count > 5)
    }

    @Test func drawsFollowTheDistribution() {
        // Two tokens with probabilities 0.75 / 0.25.
        let logits: [Float] = [log(0.75), log(0.25)]
        var sampler = Sampler(SamplingParameters(temperature: 1, topK: 0, topP: 1, minP: 0, seed: 5))
        let ones = (0..<4000).filter { _ in logits.withUnsafeBufferPointer { sampler.sample($0) } == 1 }.count
        #expect(abs(Double(ones) / 4000 - 0.25) < 0.03)
    }

    @Test func logprobsAreNormalised() {
        let logits: [Float] = [1, 2, 3]
        let token = logits.withUnsafeBufferPointer { logprobs($0, chosen: 1, top: 2) }
        let z = log(exp(1.0) + exp(2.0) + exp(3.0))
        #expect(abs(Double(token.logprob ?? 0) - (2 - z)) < 1e-5)
        #expect(token.topLogprobs.map(\.id) == [2, 1])
    }

    @Test func topCandidatesSelectsWithoutSortingEverything() {
        let logits: [Float] = [0.5, 9, -3, 9, 2, 7, 7.5]
        let top = logits.withUnsafeBufferPointer { topCandidates($0, k: 3) }
        #expect(top.map(\.logit) == [9, 9, 7.5])
        #expect(Set(top.prefix(2).map(\.id)) == [1, 3])
        let all = logits.withUnsafeBufferPointer { topCandidates($0, k: 0) }
        #expect(all.count == logits.count && all.map(\.logit) == logits.sorted(by: >))
    }

    @Test func penaltiesApplyToTheFullVocabulary() {
        var step = PenaltyStep(repetition: 2, presence: 0, frequency: 0, window: 8)
        step.accept(1)
        var logits: [Float] = [3, 3, -1]
        logits.withUnsafeMutableBufferPointer { step.apply(to: $0) }
        #expect(logits == [3, 1.5, -1])
        // Greedy with the penalty: token 1 no longer ties token 0.
        var sampler = Sampler(SamplingParameters(temperature: 0, topK: 1, repetitionPenalty: 2))
        sampler.accept(0)
        let chosen = [Float(3), 2.9, -1].withUnsafeBufferPointer { sampler.sample($0) }
        #expect(chosen == 1)
    }
}

@Suite struct StopMatcherTests {
    @Test func holdsBackPartialStopsAndCutsAtTheStop() {
        var m = StopMatcher(stops: ["</s>", "END"])
        #expect(m.append("Hello <") == ("Hello ", false))
        #expect(m.append("/") == ("", false))
        #expect(m.append("x") == ("</x", false))
        #expect(m.append(" and EN") == (" and ", false))
        #expect(m.append("Dless") == ("", true))
    }

    @Test func streamSplitAtEveryPointGivesTheSameText() {
        let text = "one two </s> three"
        for cut in 0...text.count {
            var m = StopMatcher(stops: ["</s>"])
            let a = m.append(String(text.prefix(cut)))
            let b = a.stopped ? (emit: "", stopped: true) : m.append(String(text.dropFirst(cut)))
            #expect(a.emit + b.emit == "one two ")
            #expect(a.stopped || b.stopped)
        }
    }

    @Test func flushReturnsWhatWasHeld() {
        var m = StopMatcher(stops: ["STOP"])
        #expect(m.append("abc ST").emit == "abc ")
        #expect(m.flush() == "ST")
    }
}

@Suite struct KVCacheTests {
    @Test func forkSharesBlocksAndCopiesOnWrite() throws {
        let cache = KVCache(layerCount: 2, kvDim: 4, capacityTokens: 256, blockSize: 8)
        var parent = KVSequence()
        try cache.reserve(&parent, upTo: 12)
        cache.commit(&parent, upTo: 12)
        #expect(parent.blocks.count == 2)
        cache.keys(parent, layer: 1, position: 11).pointee = 0x3C00
        var child = cache.fork(parent)
        #expect(cache.blocksInUse == 2)
        #expect(parent.blocks.allSatisfy { cache.referenceCount(ofBlock: $0) == 2 })
        // Writing position 12 touches the shared, partly filled second block: it is copied.
        try cache.reserve(&child, upTo: 13)
        #expect(child.blocks[0] == parent.blocks[0])
        #expect(child.blocks[1] != parent.blocks[1])
        #expect(cache.keys(child, layer: 1, position: 11).pointee == 0x3C00)
        #expect(cache.blocksInUse == 3)
        cache.free(&child)
        cache.free(&parent)
        #expect(cache.blocksInUse == 0)
    }

    @Test func scrubbingZeroesFreedBlocksOnly() throws {
        let cache = KVCache(layerCount: 1, kvDim: 2, capacityTokens: 32, blockSize: 8)
        var gone = KVSequence(), kept = KVSequence()
        try cache.reserve(&gone, upTo: 8)
        try cache.reserve(&kept, upTo: 8)
        cache.values(gone, layer: 0, position: 5).pointee = 0x1234
        cache.values(kept, layer: 0, position: 5).pointee = 0x5678
        let freed = gone
        cache.free(&gone)
        #expect(cache.blocksInUse == 1, "blocks reserved but never filled are released too")
        #expect(cache.values(freed, layer: 0, position: 5).pointee == 0x1234, "freeing alone leaves the bytes")
        cache.scrubFreeBlocks()
        #expect(cache.values(freed, layer: 0, position: 5).pointee == 0)
        #expect(cache.values(kept, layer: 0, position: 5).pointee == 0x5678)
    }

    @Test func capIsEnforced() throws {
        let cache = KVCache(layerCount: 1, kvDim: 2, capacityTokens: 16, blockSize: 8)
        var s = KVSequence()
        try cache.reserve(&s, upTo: 16)
        cache.commit(&s, upTo: 16)
        #expect(throws: KVCacheError.self) { try cache.reserve(&s, upTo: 17) }
        cache.truncate(&s, to: 3)
        #expect(s.blocks.count == 1)
        #expect(cache.blocksInUse == 1)
    }
}
