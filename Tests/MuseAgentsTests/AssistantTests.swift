// The modes' orchestration on a scripted model: which prompts go out, how answers are combined,
// and that one agent's failure does not sink a run.
import Foundation
import MuseCore
import Synchronization
import Testing
@testable import MuseAgents

/// A language model whose reply is a function of the prompt; it records when each call ran.
final class ScriptedModel: LanguageModel, Sendable {
    let name = "scripted"
    let reply: @Sendable ([ChatMessage]) throws -> String
    let delay: Duration
    let spans = Mutex<[(start: ContinuousClock.Instant, end: ContinuousClock.Instant, request: GenerationRequest)]>([])
    let prompts = Mutex<[[ChatMessage]]>([])
    let requests = Mutex<[GenerationRequest]>([])

    let continuesAssistantMessages: Bool

    init(delay: Duration = .zero, continuesAssistantMessages: Bool = false, reply: @escaping @Sendable ([ChatMessage]) throws -> String) {
        self.reply = reply
        self.delay = delay
        self.continuesAssistantMessages = continuesAssistantMessages
    }

    func generate(_ request: GenerationRequest) -> AsyncThrowingStream<GenerationEvent, any Error> {
        guard case .chat(let messages) = request.prompt else { return AsyncThrowingStream { $0.finish() } }
        prompts.withLock { $0.append(messages) }
        requests.withLock { $0.append(request) }
        return AsyncThrowingStream { continuation in
            Task {
                let start = ContinuousClock.now
                do {
                    try await Task.sleep(for: delay)
                    var text = try reply(messages)
                    for stop in request.stop { if let r = text.range(of: stop) { text = String(text[..<r.lowerBound]) } }
                    // Stream word by word, as a model would.
                    let words = text.split(separator: " ", omittingEmptySubsequences: false)
                    for (i, w) in words.enumerated() { continuation.yield(.text((i == 0 ? "" : " ") + w)) }
                    continuation.yield(.finished(.stop, Usage(promptTokens: 10, completionTokens: words.count),
                                                 Timings(promptSeconds: 0, generationSeconds: 0, promptTokens: 10, generatedTokens: words.count)))
                    spans.withLock { $0.append((start, .now, request)) }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
        }
    }
}

struct Failure: Error {}

func collect(_ stream: AsyncThrowingStream<TraceEvent, any Error>) async throws -> (events: [TraceEvent], result: AssistantResult) {
    var events: [TraceEvent] = []
    var result: AssistantResult?
    for try await event in stream {
        events.append(event)
        if case .done(let r) = event { result = r }
    }
    return (events, try #require(result))
}

@Suite struct AssistantTests {
    @Test func instantAnswersDirectly() async throws {
        let model = ScriptedModel { _ in "Paris." }
        let (_, result) = try await collect(Assistant(model: model).run([.user("Capital of France?")], mode: .instant))
        #expect(result.answer == "Paris.")
        #expect(result.agents.isEmpty)
        #expect(model.prompts.withLock { $0.count } == 1)
    }

    @Test func thinkingReasonsWithinTheBudgetThenAnswers() async throws {
        let model = ScriptedModel { messages in
            messages.last?.text == Assistant.answerInstruction ? "4" : "Two plus two makes four. Answer: 4"
        }
        let (events, result) = try await collect(Assistant(model: model).run([.user("2+2?")], mode: .thinking(budget: 64)))
        #expect(result.reasoning == "Two plus two makes four. ")
        #expect(result.answer == "4")
        let reasoning = events.compactMap { if case .reasoning(nil, let t) = $0 { t } else { nil } }.joined()
        #expect(reasoning == result.reasoning)
        // The first call asked for reasoning; the second saw it and asked for the answer.
        let prompts = model.prompts.withLock { $0 }
        #expect(prompts.count == 2)
        #expect(prompts[0].first?.text.contains("step by step") == true)
        #expect(prompts[1].contains { $0.role == .assistant && $0.text == result.reasoning })
    }

    /// A Contemplating agent's two turns on the scripted model: reasoning, then the answer turn,
    /// which gets `answer` as the JSON the format asks for.
    static func agentReply(_ messages: [ChatMessage], reasoning: String, answer: String) -> String {
        messages.last?.text == Assistant.agentAnswerInstruction ? #"{"answer": "\#(answer)"}"# : reasoning
    }

    @Test func contemplatingRunsKAgentsInParallelAndVotes() async throws {
        let model = ScriptedModel(delay: .milliseconds(50)) { messages in
            messages.first?.text.contains("mistake") == true
                ? Self.agentReply(messages, reasoning: "Six sevens are 41. Answer: 41", answer: "The answer is 41.")
                : Self.agentReply(messages, reasoning: "Six sevens are 42.\nAnswer: 42", answer: "It is 42.")
        }
        let (events, result) = try await collect(Assistant(model: model).run([.user("6 x 7?")], mode: .contemplating(agents: 4, rounds: 1, budget: 100)))
        #expect(result.agents.count == 4)
        #expect(Set(result.agents.map(\.role)) == ["solver", "verifier", "alternative", "skeptic"])
        let votes = events.compactMap { if case .vote(let w, let c) = $0 { (w, c) } else { nil } }
        #expect(votes.count == 1)
        #expect(votes.first?.0 == "42")
        #expect(votes.first?.1 == ["42": 3, "41": 1])
        #expect(result.answer == "It is 42.")
        // Each agent reasoned (stopped before its "Answer:" line), then answered in the format.
        #expect(result.agents.allSatisfy { $0.reasoning.hasPrefix("Six sevens are") && !$0.reasoning.contains("Answer:") })
        let agentReasoning = events.compactMap { if case .reasoning(let agent?, let t) = $0 { (agent, t) } else { nil } }
        #expect(Set(agentReasoning.map(\.0)) == [0, 1, 2, 3])
        // Every agent was asked to end with an "Answer:" line.
        let requests = model.requests.withLock { $0 }
        #expect(requests.count == 8)
        let (reasoningTurns, answerTurns) = (requests.filter { $0.format == nil }, requests.filter { $0.format != nil })
        #expect(reasoningTurns.count == 4 && answerTurns.count == 4)
        for r in reasoningTurns {
            guard case .chat(let messages) = r.prompt else { Issue.record("not a chat"); continue }
            #expect(messages.first?.text.contains(Perspective.answerFormat) == true)
            // The budget is each agent's, as in Thinking.
            #expect(r.maxTokens == 100 && r.stop == ["Answer:"])
        }
        #expect(answerTurns.allSatisfy { $0.format == Assistant.agentAnswerFormat && $0.maxTokens == Assistant.agentAnswerTokens })
        // The four agents ran at the same time: every reasoning turn overlaps every other.
        let spans = model.spans.withLock { $0 }.filter { $0.request.format == nil }
        #expect(spans.count == 4)
        for a in spans { for b in spans { #expect(a.start < b.end && b.start < a.end) } }
    }

    @Test func aModelThatContinuesMessagesWritesItsAnswerLineAfterItsReasoning() async throws {
        // The verifier runs out of budget before its "Answer:"; the others stop at it.
        let model = ScriptedModel(continuesAssistantMessages: true) { messages in
            if messages.last?.role == .assistant { return messages.last!.text.hasSuffix("\nAnswer:") ? " 42" : " 41" }
            return messages.first?.text.contains("checking each step") == true ? "Six sevens: 7, 14, 21" : "Six sevens are 42.\nAnswer: 42"
        }
        let (_, result) = try await collect(Assistant(model: model).run([.user("6 x 7?")], mode: .contemplating(agents: 4, rounds: 1, budget: 100)))
        #expect(result.answer == "42")
        #expect(result.agents.map(\.answer) == ["42", "42", "42", "42"])
        let answerTurns = model.requests.withLock { $0 }.filter { $0.format != nil }
        #expect(answerTurns.count == 4)
        for r in answerTurns {
            guard case .chat(let messages) = r.prompt else { Issue.record("not a chat"); continue }
            // The same conversation, continued: no new user turn, the marker where the model stopped.
            #expect(messages.count == 3 && messages.last?.role == .assistant)
            #expect(["Six sevens are 42.\nAnswer:", "Six sevens: 7, 14, 21\nAnswer:"].contains(messages.last?.text ?? ""))
            #expect(r.format == .line(maxLength: Assistant.agentAnswerLength) && r.maxTokens == Assistant.agentAnswerTokens)
        }
    }

    @Test func aTieBetweenResultsEndsInOneAnswerLineAfterTheSummary() async throws {
        let model = ScriptedModel(continuesAssistantMessages: true) { messages in
            let system = messages.first { $0.role == .system }?.text ?? ""
            if system.contains("compare candidate") {
                return messages.last?.role == .assistant ? " 42\n" : "Two say 42, two say 41; six sevens are 42."
            }
            if messages.last?.role == .assistant { return system.contains("directly") || system.contains("checking") ? " It is 42." : " 41" }
            return "Six sevens.\nAnswer:"
        }
        let (events, result) = try await collect(Assistant(model: model).run([.user("6 x 7?")], mode: .contemplating(agents: 4, rounds: 1, budget: 100)))
        #expect(events.contains { if case .vote("", ["42": 2, "41": 2]) = $0 { true } else { false } })
        #expect(result.answer == "42")
        let last = try #require(model.requests.withLock { $0 }.last)
        guard case .chat(let messages) = last.prompt else { Issue.record("not a chat"); return }
        #expect(messages.last == .assistant("Two say 42, two say 41; six sevens are 42.\nAnswer:"))
        #expect(last.format == .line(maxLength: Assistant.agentAnswerLength))
        #expect(!model.prompts.withLock { $0 }.contains { $0.last?.text.hasPrefix("Now write the single best") == true })
    }

    @Test func theAnswerLineIsTheFormatsStringOrTheTextsAnswerLine() {
        #expect(Assistant.answerLine(#"{"answer": "42 apples\nin all"}"#) == "42 apples in all")
        #expect(Assistant.answerLine("I think so.\nAnswer: yes") == "yes")
        #expect(Assistant.answerLine("  plain  ") == "plain")
    }

    @Test func longAnswersAreDistilledAndRefined() async throws {
        let model = ScriptedModel { messages in
            let system = messages.first { $0.role == .system }?.text ?? ""
            if messages.last?.text.hasPrefix("Now write the single best") == true { return "Restart the service, then clear the cache." }
            if system.contains("compare candidate") { return "They agree on the cause, differ on the fix." }
            // Three different long answers: no majority, so the synthesis decides.
            let then = system.contains("directly") ? "then decide what to do next" : system.contains("checking") ? "then check the database" : "then profile the app"
            return Self.agentReply(messages, reasoning: "The logs would tell which part is slow.",
                                   answer: "One should look at the service logs first and \(then).")
        }
        let (events, result) = try await collect(Assistant(model: model).run([.user("The app is slow. Why?")], mode: .contemplating(agents: 3, rounds: 2)))
        #expect(result.agents.count == 6, "two rounds of three")
        #expect(events.contains { if case .distilled = $0 { true } else { false } })
        #expect(events.contains { if case .refining = $0 { true } else { false } })
        #expect(result.answer == "Restart the service, then clear the cache.")
        // Round two saw round one's summary.
        let prompts = model.prompts.withLock { $0 }
        #expect(prompts.contains { $0.first?.text.contains("Earlier agents' findings") == true })
        // The refine turn continues the last distill conversation (so its prompt is reused).
        let refine = try #require(prompts.last)
        #expect(refine.count == 4)
        #expect(refine[2] == .assistant("They agree on the cause, differ on the fix."))
        // The distill step saw each agent's answer line and its reasoning, and was kept short.
        #expect(refine[1].text.contains("(solver) One should look at the service logs first"))
        #expect(refine[1].text.contains("Reasoning: The logs would tell which part is slow."))
        #expect(model.requests.withLock { $0 }.filter { $0.maxTokens == Assistant.summaryTokens }.count == 2)
    }

    @Test func aFailingAgentDoesNotSinkTheRun() async throws {
        let model = ScriptedModel { messages in
            let system = messages.first?.text ?? ""
            if system.contains("different method") { throw Failure() }
            if system.contains("mistake") { return "   " }   // empty output
            return "7"
        }
        let (_, result) = try await collect(Assistant(model: model).run([.user("3+4?")], mode: .contemplating(agents: 4, rounds: 1)))
        #expect(result.answer == "7")
        #expect(result.agents.filter { $0.failure != nil }.count == 2)

        let broken = ScriptedModel { _ in throw Failure() }
        await #expect(throws: AssistantError.self) {
            _ = try await collect(Assistant(model: broken).run([.user("x")], mode: .contemplating(agents: 2, rounds: 1)))
        }
    }

    @Test func votesNormaliseAnswers() {
        #expect(Vote.key("The total is 1,250.50 dollars") == "1250.5")
        #expect(Vote.key("Yes.") == "yes")
        #expect(Vote.final("6 times 7: 6+6+6+6+6+6+6 = 42.\nAnswer: 42\n") == "42")
        #expect(Vote(["Let me see, 40 + 2.\nAnswer: 42", "42", "Answer: 41"]).winner == "42")
        #expect(Vote(["42", "It's 42", "41"]).winner == "42")
        #expect(Vote(["yes", "no"]).winner == nil)
        // Fragments without letters or digits do not vote, even when they agree.
        #expect(Vote(["]", "]", "42"]).winner == "42")
        #expect(Vote(["]", "..."]).winner == nil)
        // Long answers decide when most agree; short ones when one leads; ties never.
        let sum = "150 - (7 * 24) = 150 - 168 = -18, so it is 18"
        #expect(Vote(["\\boxed{18}", "There are 18 muffins left.", sum, "The baker has 20 muffins left over."]).decision == "18")
        #expect(Vote(["The baker has 18 muffins left.", "There are 18 muffins left.", "It is 20 in the end", "None, 168 were sold"]).decision == "18")
        #expect(Vote(["The baker has 18 muffins left.", "There are 18 muffins left.", "It is 20 in the end", "Twenty, as it is 20"]).decision == nil)
        #expect(Vote(["Restart the service first.", "Clear the cache, then restart it."]).decision == nil)
        #expect(Vote(["18", "18", "20", "20"]).decision == nil)
        #expect(Vote(["18", "19", "20"]).decision == nil)
        #expect(Vote(["18"]).decision == "18")
        #expect(Vote(["The baker has 18 muffins left over at the end.", "There are 18 muffins left in the shop now.",
                      "It is 20 in the end, after all of the sales", "None at all, since 168 were sold"]).decision == nil)
        #expect(Vote.haveResults(["It is 42 in all.", "The product of six and seven, which is forty-two.", "42"]) == false)
        #expect(Vote.haveResults(["It is 42 in all, as six sevens make.", "Forty-two", "42"]))
        #expect(Vote.isShort(["42", "Yes", "It is 42."]))
        #expect(!Vote.isShort(["The sky is blue because of Rayleigh scattering."]))
        #expect(!Vote.isShort(["First multiply 6 by 7, which gives 42, then check it."]))
    }

    @Test func modesParseByName() {
        #expect(Mode(name: "instant") == .instant)
        #expect(Mode(name: "Thinking", budget: 99) == .thinking(budget: 99))
        #expect(Mode(name: "contemplating") == .contemplating(agents: 4, rounds: 1))
        #expect(Mode(name: "pondering") == nil)
    }
}

/// A scripted model that reasons in <think> tags, as models trained to do so, and reports what is
/// inside them as reasoning, as the local engine does.
final class ThinkingModel: LanguageModel, Sendable {
    let name = "thinker"
    let reply: String
    init(reply: String) { self.reply = reply }
    var reasons: Bool { true }
    func generate(_ request: GenerationRequest) -> AsyncThrowingStream<GenerationEvent, any Error> {
        ReasoningSplitter.split(written(request), tags: .think)
    }

    private func written(_ request: GenerationRequest) -> AsyncThrowingStream<GenerationEvent, any Error> {
        let chunks = stride(from: 0, to: reply.count, by: 3).map { i in
            String(reply.dropFirst(i).prefix(3))
        }
        return AsyncThrowingStream { continuation in
            var n = 0
            for c in chunks.prefix(request.maxTokens) {
                continuation.yield(.token(GeneratedToken(id: 0, logprob: nil, topLogprobs: [])))
                continuation.yield(.text(c))
                n += 1
            }
            continuation.yield(.finished(.stop, Usage(promptTokens: 5, completionTokens: n),
                                         Timings(promptSeconds: 0, generationSeconds: 0, promptTokens: 5, generatedTokens: n)))
            continuation.finish()
        }
    }
}

@Suite struct NativeReasoningTests {
    @Test func tagsSplitReasoningFromAnswerAtEveryCut() {
        let text = "<think>Six sevens: 42.</think>\nThe answer is 42."
        for cut in 0...text.count {
            var splitter = ReasoningSplitter(tags: .think)
            let pieces = splitter.feed(String(text.prefix(cut))) + splitter.feed(String(text.dropFirst(cut)))
            let reasoning = pieces.compactMap { if case .reasoning(let t) = $0 { t } else { nil } }.joined()
            let answer = pieces.compactMap { if case .answer(let t) = $0 { t } else { nil } }.joined()
            #expect(reasoning == "Six sevens: 42.", "cut \(cut)")
            #expect(answer == "The answer is 42.", "cut \(cut)")
        }
    }

    @Test func thinkingUsesTheModelsOwnTags() async throws {
        let model = ThinkingModel(reply: "<think>6 x 7 is 42.</think>It is 42.")
        let (events, result) = try await collect(Assistant(model: model).run([.user("6 x 7?")], mode: .thinking(budget: 100)))
        #expect(result.reasoning == "6 x 7 is 42.")
        #expect(result.answer == "It is 42.")
        #expect(events.contains { if case .reasoning(nil, _) = $0 { true } else { false } })
    }

    @Test func aModelThatAnswersWithoutItsTagsIsAskedToReasonInThePrompt() async throws {
        // As a remote server whose model does not reason: tags are possible, but the reply has none.
        let direct = ScriptedModel { messages in
            messages.first?.role == .system ? "Six times seven is forty-two. Answer: 42" : "It is 42."
        }
        let model = TaggedWrapper(direct)
        let (events, result) = try await collect(Assistant(model: model).run([.user("6 x 7?")], mode: .thinking(budget: 100)))
        #expect(result.reasoning.trimmingCharacters(in: .whitespaces) == "Six times seven is forty-two.")
        #expect(result.answer == "It is 42.")
        // The direct reply was stopped before any of it was shown as the answer.
        let answerText = events.compactMap { if case .answer(nil, let t) = $0 { t } else { nil } }.joined()
        #expect(answerText == "It is 42.")
        #expect(direct.prompts.withLock { $0.count } == 3)
    }
}

/// A model that may reason in <think> tags, around one that never does.
struct TaggedWrapper: LanguageModel {
    let inner: ScriptedModel
    init(_ inner: ScriptedModel) { self.inner = inner }
    var name: String { inner.name }
    var reasons: Bool { true }
    func generate(_ request: GenerationRequest) -> AsyncThrowingStream<GenerationEvent, any Error> {
        ReasoningSplitter.split(inner.generate(request), tags: .think)
    }
}
