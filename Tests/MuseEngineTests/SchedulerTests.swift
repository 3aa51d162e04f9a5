// The scheduler on the real model: batching changes nothing in a completion's tokens, forks share
// blocks, cached prefixes are reused, cancellation frees blocks, many requests all complete.
import Foundation
import MuseCore
import Testing
@testable import MuseEngine

@Suite(.serialized, .enabled(if: TestEnvironment.hasSmolLM2, "needs the SmolLM2 GGUF"))
struct SchedulerTests {
    let model: LocalModel

    init() throws {
        model = try #require(TestEnvironment.smolLM2)
    }

    func request(_ text: String, tokens: Int = 24, seed: UInt64? = nil, temperature: Float = 0) -> GenerationRequest {
        GenerationRequest(prompt: .text(text),
                          sampling: temperature > 0 ? SamplingParameters(temperature: temperature, seed: seed) : .greedy,
                          maxTokens: tokens)
    }

    @Test func batchedOutputsEqualUnbatchedOutputs() async throws {
        let prompts = ["The sun rises in the", "def fibonacci(n):", "Dear customer, thank you for", "Water boils at"]
        var alone: [[Int32]] = []
        for p in prompts {
            alone.append(try await Collected.run(model.generate(request(p))).tokens.map(\.id))
        }
        // All at once: they share every forward pass.
        let streams = prompts.map { model.generate(request($0)) }
        var together: [[Int32]] = []
        for s in streams { together.append(try await Collected.run(s).tokens.map(\.id)) }
        #expect(together == alone)

        // Sampled with seeds: the same tokens whatever else runs beside them.
        let seeded = prompts.map { request($0, seed: 7, temperature: 0.9) }
        var seededAlone: [[Int32]] = []
        for r in seeded { seededAlone.append(try await Collected.run(model.generate(r)).tokens.map(\.id)) }
        let seededStreams = seeded.map { model.generate($0) }
        var seededTogether: [[Int32]] = []
        for s in seededStreams { seededTogether.append(try await Collected.run(s).tokens.map(\.id)) }
        #expect(seededTogether == seededAlone)
    }

    @Test func completionsOfOnePromptShareItAndDifferBySeed() async throws {
        // A model of its own, so that the counters see only this test's work.
        let model = try LocalModel(path: TestEnvironment.smolLM2Path!, threads: 2)
        let before = model.schedulerStatistics.promptTokensComputed
        let text = "Once upon a time, in a land far away, there lived a"
        let prompt = model.tokenize(text)
        let streams = model.generate(request(text, tokens: 16, seed: 100, temperature: 1.0), count: 4)
        var outputs: [[Int32]] = []
        for s in streams { outputs.append(try await Collected.run(s).tokens.map(\.id)) }
        #expect(outputs.count == 4)
        #expect(Set(outputs.map { $0 }).count > 1, "different seeds give different completions")
        // The prompt was computed at most once (less if a cached prefix covered part of it).
        #expect(model.schedulerStatistics.promptTokensComputed - before <= prompt.count)
        // Completion i uses seed + i: the same as asking for it alone with that seed.
        let third = try await Collected.run(model.generate(request(text, tokens: 16, seed: 102, temperature: 1.0))).tokens.map(\.id)
        #expect(third == outputs[2])
    }

    @Test func aCachedPrefixIsReused() async throws {
        let model = try LocalModel(path: TestEnvironment.smolLM2Path!, threads: 2)
        let history = "You are a careful assistant. Answer briefly and exactly. The question follows."
        _ = try await Collected.run(model.generate(request(history + " What is two plus two?", tokens: 4)))
        let before = model.schedulerStatistics
        let second = try await Collected.run(model.generate(request(history + " Name a red fruit.", tokens: 4)))
        let after = model.schedulerStatistics
        let shared = zip(model.tokenize(history + " What is two plus two?"), model.tokenize(history + " Name a red fruit.")).prefix { $0 == $1 }.count
        #expect(after.promptTokensReused - before.promptTokensReused >= shared - 1)
        #expect(after.promptTokensComputed - before.promptTokensComputed <= model.tokenize(history + " Name a red fruit.").count - shared + 1)
        // Reuse changes nothing in the result.
        let fresh = try LocalModel(path: TestEnvironment.smolLM2Path!, threads: 2)
        let expected = try await Collected.run(fresh.generate(request(history + " Name a red fruit.", tokens: 4)))
        #expect(second.tokens.map(\.id) == expected.tokens.map(\.id))
    }

    @Test func cancellingFreesTheBlocks() async throws {
        // A model of its own: other suites use the shared one at the same time.
        let own = try LocalModel(path: TestEnvironment.smolLM2Path!, threads: 2)
        let stream = own.generate(request("Tell me a very long story about a dragon.", tokens: 400))
        var seen = 0
        for try await event in stream {
            if case .token = event { seen += 1 }
            if seen == 5 { break }   // stop listening: the completion is cancelled
        }
        for _ in 0..<400 where own.schedulerStatistics.running > 0 { try await Task.sleep(for: .milliseconds(5)) }
        #expect(own.schedulerStatistics.running == 0)
        #expect(own.schedulerStatistics.steps < 100, "it stopped long before 400 tokens")
        // Nothing holds blocks but the cached prefixes; without them, nothing at all.
        own.scheduler.clearRetained()
        #expect(own.cache.blocksInUse == 0)
    }

    /// Erasing a person's data drops the finished conversations the engine keeps for reuse: a later
    /// prompt that starts the same way is computed anew, not read from the cache.
    @Test func forgettingCachedConversationsDropsThem() async throws {
        let own = try LocalModel(path: TestEnvironment.smolLM2Path!, threads: 2)
        let prompt = "My account number is 12345678 and my name is Ada."
        _ = try await Collected.run(own.generate(request(prompt, tokens: 4)))
        #expect(own.cache.blocksInUse > 0, "the finished conversation is kept for reuse")
        own.forgetCachedConversations()
        #expect(own.cache.blocksInUse == 0)
        let reused = own.schedulerStatistics.promptTokensReused
        _ = try await Collected.run(own.generate(request(prompt, tokens: 4)))
        #expect(own.schedulerStatistics.promptTokensReused == reused)
    }

    @Test func forkedCompletionsShareThePromptBlocks() async throws {
        let own = try LocalModel(path: TestEnvironment.smolLM2Path!, threads: 2)
        let text = String(repeating: "The quick brown fox jumps over the lazy dog. ", count: 12)
        let promptBlocks = (own.tokenize(text).count + 31) / 32
        let streams = own.generate(request(text, tokens: 8, seed: 1, temperature: 0.8), count: 4)
        for s in streams { _ = try await Collected.run(s) }
        for _ in 0..<400 where own.schedulerStatistics.running > 0 { try await Task.sleep(for: .milliseconds(5)) }
        // Four private copies would need 4 x promptBlocks; forks share all but their last block.
        #expect(own.cache.blocksInUse <= promptBlocks + 4)
        #expect(own.cache.blocksInUse >= promptBlocks)
        own.scheduler.clearRetained()
        #expect(own.cache.blocksInUse == 0)
    }

    @Test func theCacheCapIsRespected() async throws {
        // Room for 256 positions: one 200-token conversation fits, two at once cannot both finish.
        let bytesPerToken = 30 * 2 * 192 * 2
        let own = try LocalModel(path: TestEnvironment.smolLM2Path!, threads: 2, contextLength: 256,
                                 cacheMiB: max(1, 256 * bytesPerToken / 1_048_576))
        #expect(own.cache.capacityBlocks * own.cache.blockSize >= 256)
        let text = String(repeating: "Counting sheep, one by one. ", count: 20)
        let a = own.generate(request(text, tokens: 40)), b = own.generate(request(text + " Again.", tokens: 40))
        var completed = 0, failures: [any Error] = []
        for s in [a, b] {
            do { _ = try await Collected.run(s); completed += 1 } catch { failures.append(error) }
        }
        #expect(completed >= 1 && completed + failures.count == 2)
        // A request the cache cannot hold fails as a generation error the server maps to 429.
        for error in failures {
            guard case .cacheFull? = error as? GenerationError else { Issue.record("not a cache error: \(error)"); continue }
        }
        #expect(own.cache.blocksInUse <= own.cache.capacityBlocks)
    }

    /// A long prompt arriving while another completion decodes is fed in chunks between its
    /// decode steps: the running stream keeps getting tokens while the long prompt is read.
    @Test func aLongPromptDoesNotStallARunningStream() async throws {
        let own = try LocalModel(path: TestEnvironment.smolLM2Path!, threads: 2)
        let running = own.generate(request("Count: one, two, three,", tokens: 40))
        var iterator = running.makeAsyncIterator()
        // Wait until the first completion is decoding.
        while let event = try await iterator.next() { if case .token = event { break } }
        let long = String(repeating: "A long document line that goes on and on. ", count: 90)
        let promptTokens = own.tokenize(long).count
        #expect(promptTokens > 4 * 128)
        let order = OrderLog()
        let late = own.generate(request(long, tokens: 2))
        async let lateFirst: Void = {
            for try await event in late { if case .token = event { await order.note("late"); break } }
        }()
        while let event = try await iterator.next() {
            if case .token = event { await order.note("running") }
        }
        try await lateFirst
        let log = await order.entries
        let beforeLate = log.prefix { $0 == "running" }.count
        // The late prompt needs at least 4 chunks; the running stream got a token in each step.
        #expect(beforeLate >= 3, "tokens of the running stream before the long prompt's first: \(beforeLate)")
    }

    @Test func thirtyTwoConcurrentRequestsAllComplete() async throws {
        let prompts = (0..<32).map { "Request number \($0): the word for \($0 % 7) in English is" }
        var alone: [Int: [Int32]] = [:]
        for i in [0, 13, 31] { alone[i] = try await Collected.run(model.generate(request(prompts[i], tokens: 12))).tokens.map(\.id) }
        let results = try await withThrowingTaskGroup(of: (Int, Collected).self) { group in
            for (i, p) in prompts.enumerated() {
                group.addTask { (i, try await Collected.run(model.generate(request(p, tokens: 12)))) }
            }
            var all: [Int: Collected] = [:]
            for try await (i, r) in group { all[i] = r }
            return all
        }
        #expect(results.count == 32)
        #expect(results.values.allSatisfy { $0.finish != nil && !$0.tokens.isEmpty })
        for (i, tokens) in alone { #expect(results[i]?.tokens.map(\.id) == tokens, "request \(i)") }
        #expect(model.schedulerStatistics.largestBatch > 1)
    }
}

/// Arrival order of events from concurrent streams.
actor OrderLog {
    private(set) var entries: [String] = []
    func note(_ entry: String) { entries.append(entry) }
}
