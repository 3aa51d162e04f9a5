// SmolLM2-135M-Instruct (Q4_1) through Muse's engine against llama.cpp on the same file:
// tokenization exact, greedy continuations equal, top log-probabilities close, templates exact.
// The model runs on the ggml-order reference kernels: this small model is sensitive enough that
// the default kernels' rounding moves some log-probabilities by more than 0.05 and changes a
// greedy continuation after a few tokens, though their KL divergence to the F32 weights is
// llama.cpp's own (benchmarks/).
import Foundation
import MuseCore
import Testing
@testable import MuseEngine

@Suite(.serialized, .enabled(if: TestEnvironment.hasSmolLM2, "needs the SmolLM2 GGUF (scripts/test fetches it) and ../shared/fixtures"))
struct SmolLM2FixtureTests {
    let fixture: LlamaCppFixture
    let model: LocalModel

    init() throws {
        fixture = try LlamaCppFixture.load(TestEnvironment.smolLM2Fixture)
        model = try #require(TestEnvironment.smolLM2Reference)
    }

    @Test func chatTemplateRendersExactly() throws {
        for c in fixture.chat {
            let messages = c.messages.map { ChatMessage(role: ChatRole(rawValue: $0.role) ?? .user, text: $0.content) }
            #expect(try model.renderChat(messages) == c.templated)
        }
    }

    @Test func greedyContinuationsAndLogprobsMatchLlamaCpp() async throws {
        var report: [String] = []
        for c in fixture.complete {
            let tokens = try await Collected.run(model.generate(GenerationRequest(
                prompt: .text(c.prompt), sampling: .greedy, maxTokens: c.tokens.count, topLogprobs: 10))).tokens
            let ids = tokens.map(\.id)
            let agree = zip(ids, c.tokens).prefix { $0 == $1 }.count
            report.append("\(agree)/\(c.tokens.count) \(c.prompt.debugDescription)")
            // llama.cpp stops early at an end-of-turn token; then all of its tokens must match.
            #expect(agree >= min(20, c.tokens.count), "first divergence at \(agree) for \(c.prompt.debugDescription): \(ids) vs \(c.tokens)")

            // The top-5 log-probabilities of llama.cpp's first 8 steps, token by token.
            for (step, expected) in c.top_logprobs_first8.enumerated() where step < min(agree + 1, tokens.count) {
                let ours = Dictionary(tokens[step].topLogprobs.map { ($0.id, $0.logprob) }, uniquingKeysWith: { a, _ in a })
                for e in expected {
                    let got = try #require(ours[e.id], "step \(step): token \(e.id) not in our top 10")
                    #expect(abs(got - e.logprob) <= 0.05, "step \(step) token \(e.id): \(got) vs llama.cpp \(e.logprob)")
                }
            }
        }
        print("greedy agreement with llama.cpp (tokens of 40):\n  " + report.joined(separator: "\n  "))
    }

    @Test func streamingEqualsCollectedAndSeedsRepeat() async throws {
        let request = GenerationRequest(prompt: .chat([.user("Name a color.")]),
                                        sampling: SamplingParameters(temperature: 0.9, seed: 1234), maxTokens: 24)
        func run() async throws -> (String, [Int32]) {
            var text = "", ids: [Int32] = []
            for try await event in model.generate(request) {
                if case .text(let t) = event { text += t }
                if case .token(let t) = event { ids.append(t.id) }
            }
            return (text, ids)
        }
        let first = try await run(), second = try await run()
        #expect(first.1 == second.1)
        #expect(first.0 == second.0)
        #expect(!first.1.isEmpty)
        // The text is exactly the decoding of the tokens (minus an end-of-turn token).
        let visible = first.1.filter { !model.tokenizer.isEndOfGeneration($0) }
        #expect(model.tokenizer.decode(visible, renderSpecial: false) == first.0)
    }

    /// A prompt of 100+ tokens in one call (many-query f32 attention) and in calls of 8 tokens
    /// (one-query fp16 attention) predict the same next token with nearly the same distribution.
    @Test func manyQueryAndOneQueryAttentionAgree() throws {
        let text = fixture.complete.map(\.text).joined(separator: " ")
        let tokens = Array(model.tokenize(text).prefix(120))
        #expect(tokens.count >= DecoderModel.manyQueryThreshold + 32)
        let batched = try model.nextTokenLogits(tokens, batch: tokens.count)
        let chunked = try model.nextTokenLogits(tokens, batch: 8)
        func logSoftmax(_ x: [Float]) -> [Double] {
            let m = Double(x.max()!), z = m + log(x.reduce(0.0) { $0 + exp(Double($1) - m) })
            return x.map { Double($0) - z }
        }
        let a = logSoftmax(batched), b = logSoftmax(chunked)
        let best = a.indices.max { a[$0] < a[$1] }!
        #expect(best == b.indices.max { b[$0] < b[$1] }!)
        // The two kernels round differently (f32 against fp16 accumulators); 0.1 covers it on this model.
        for id in a.indices.sorted(by: { a[$0] > a[$1] }).prefix(5) {
            #expect(abs(a[id] - b[id]) < 0.1, "token \(id): \(a[id]) vs \(b[id])")
        }
    }

    @Test func badPromptsEndTheStreamWithAClearError() async throws {
        func failure(_ prompt: GenerationRequest.Prompt) async -> String? {
            do {
                _ = try await Collected.run(model.generate(GenerationRequest(prompt: prompt, maxTokens: 4)))
                return nil
            } catch {
                return "\(error)"
            }
        }
        #expect(await failure(.tokens([]))?.contains("empty") == true)
        #expect(await failure(.tokens([1, 999_999]))?.contains("outside the model's vocabulary") == true)
        let tooLong = [Int32](repeating: 504, count: model.contextLength + 1)
        #expect(await failure(.tokens(tooLong))?.contains("context window") == true)
        #expect(await failure(.chat([ChatMessage(role: .user, content: [.image(ImageSource(url: "data:image/png;base64,AAAA"))])]))?
            .contains("cannot read images") == true)
    }

    @Test func stopStringsCutTheAnswer() async throws {
        let r = try await Collected.run(model.generate(
            GenerationRequest(prompt: .text("1, 2, 3, 4,"), sampling: .greedy, maxTokens: 30, stop: [" 7"])))
        #expect(r.finish == .stop)
        #expect(!r.text.contains("7"))
        #expect(r.text.contains("6"))
    }
}
