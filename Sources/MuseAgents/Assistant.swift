// The assistant: one conversation in, a mode chosen, events out. Instant answers directly;
// Thinking reasons within a budget, then answers; Contemplating runs K agents at once (the engine
// batches them) and combines their answers by vote or by distilling and refining.
import Foundation
import MuseCore

public enum AssistantError: Error, Sendable, CustomStringConvertible {
    case allAgentsFailed([String])
    case invalidMode(String)

    public var description: String {
        switch self {
        case .allAgentsFailed(let reasons): "every agent failed: \(reasons.joined(separator: "; "))"
        case .invalidMode(let why): "invalid mode: \(why)"
        }
    }
}

public struct Assistant: Sendable {
    public var model: any LanguageModel
    public var sampling: SamplingParameters
    /// Tokens for an answer (each agent's, and the final one).
    public var maxAnswerTokens: Int
    public var perspectives: [Perspective]
    /// Tools the assistant may call before it answers (nil: none).
    public var tools: ToolSettings?

    public init(model: any LanguageModel, sampling: SamplingParameters = SamplingParameters(),
                maxAnswerTokens: Int = 256, perspectives: [Perspective] = Perspective.defaults, tools: ToolSettings? = nil) {
        self.model = model
        self.tools = tools
        self.sampling = sampling
        self.maxAnswerTokens = maxAnswerTokens
        self.perspectives = perspectives.isEmpty ? Perspective.defaults : perspectives
    }

    public func run(_ conversation: [ChatMessage], mode: Mode) -> AsyncThrowingStream<TraceEvent, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    let result = try await execute(conversation, mode: mode) { continuation.yield($0) }
                    continuation.yield(.done(result))
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    private func execute(_ conversation: [ChatMessage], mode: Mode,
                         emit: @escaping @Sendable (TraceEvent) -> Void) async throws -> AssistantResult {
        switch mode {
        case .instant:
            return try await answerInstantly(conversation, emit: emit)
        case .thinking(let budget):
            guard budget > 0 else { throw AssistantError.invalidMode("the thinking budget must be positive") }
            return try await reason(conversation, mode: mode, emit: emit) { conversation, run in
                try await think(conversation, budget: budget, state: &run, emit: emit)
            }
        case let .contemplating(agents, rounds, budget):
            guard agents >= 1, rounds >= 1 else { throw AssistantError.invalidMode("agents and rounds must be at least 1") }
            guard budget > 0 else { throw AssistantError.invalidMode("the reasoning budget must be positive") }
            return try await reason(conversation, mode: mode, emit: emit) { conversation, run in
                try await contemplate(conversation, agents: agents, rounds: rounds, budget: budget, state: &run, emit: emit)
            }
        }
    }

    /// Instant: the answer is the tool steps' last reply (the only one, without tools).
    private func answerInstantly(_ conversation: [ChatMessage], emit: @escaping @Sendable (TraceEvent) -> Void) async throws -> AssistantResult {
        let start = ContinuousClock.now
        let choice = try await instant(conversation, options: InstantOptions()) { event in
            switch event {
            case .text(_, let text): emit(.answer(agent: nil, text: text))
            case .reasoning(_, let text): emit(.reasoning(agent: nil, text: text))
            case .trace(let event): emit(event)
            case .token, .finished, .usage: break
            }
        }[0]
        return AssistantResult(choice, mode: .instant, usage: choice.usage, seconds: (ContinuousClock.now - start).seconds)
    }

    /// Thinking and Contemplating: tools first (the mode reasons over a conversation that holds
    /// the calls and their results), then `reasoning` over it gives the answer.
    private func reason(_ conversation: [ChatMessage], mode: Mode, emit: @escaping @Sendable (TraceEvent) -> Void,
                        reasoning: ([ChatMessage], inout RunState) async throws -> String) async throws -> AssistantResult {
        let start = ContinuousClock.now
        var run = RunState()
        var conversation = conversation
        var toolCalls = 0
        let steps = ToolSteps(assistant: self, conversation: conversation, options: InstantOptions())
        if steps.settings != nil {
            let toolRun = try await steps.run(choice: 0) { if case .trace(let event) = $0 { emit(event) } }
            run.add(toolRun.usage)
            toolCalls = toolRun.toolCallsRun
            if !toolRun.calls.isEmpty {
                return AssistantResult(toolRun, mode: mode, usage: run.usage, seconds: (ContinuousClock.now - start).seconds)
            }
            if toolCalls > 0 { conversation = toolRun.messages }
        }
        let answer = try await reasoning(conversation, &run)
        return AssistantResult(answer: answer.trimmingCharacters(in: .whitespacesAndNewlines), reasoning: run.reasoning,
                               mode: mode.name, agents: run.agents, usage: run.usage,
                               seconds: (ContinuousClock.now - start).seconds, toolCalls: toolCalls)
    }

    // MARK: Thinking

    static let thinkingInstruction = "Think step by step before answering. Write your reasoning, then end with a line that starts with \"Answer:\" and gives the final answer."
    static let answerInstruction = "Now give only the final answer, in one short sentence."

    /// Reasoning up to `budget` tokens (stopping early at "Answer:"), then the answer in a second turn
    /// that sees the reasoning: the budget caps reasoning, never the answer. Models with their own
    /// reasoning tags reason in them instead of following the prompted scaffold, unless they start
    /// answering without opening them.
    private func think(_ conversation: [ChatMessage], budget: Int, state run: inout RunState,
                       emit: @escaping @Sendable (TraceEvent) -> Void) async throws -> String {
        if model.reasons, let answer = try await thinkNatively(conversation, budget: budget, state: &run, emit: emit) {
            return answer
        }
        return try await thinkByPrompting(conversation, budget: budget, state: &run, emit: emit)
    }

    /// Reasoning asked for in the prompt, then the answer in a turn that sees it: for models without
    /// reasoning of their own.
    private func thinkByPrompting(_ conversation: [ChatMessage], budget: Int, state run: inout RunState,
                                  emit: @escaping @Sendable (TraceEvent) -> Void) async throws -> String {
        let reasoning = try await generate(withSystem(Self.thinkingInstruction, conversation), maxTokens: budget,
                                           sampling: sampling, stop: ["Answer:"], state: &run) {
            emit(.reasoning(agent: nil, text: $0))
        }
        run.reasoning = reasoning
        let followUp = conversation + [.assistant(reasoning), .user(Self.answerInstruction)]
        return try await generate(followUp, maxTokens: maxAnswerTokens, sampling: sampling, state: &run) {
            emit(.answer(agent: nil, text: $0))
        }
    }

    /// The model reasons on its own (`.reasoning` events), then answers (`.text`). If the budget runs
    /// out while it reasons, the answer is asked for in a new turn. Nil when the reply starts
    /// answering without reasoning (a remote server whose model does not reason, say): it is stopped
    /// there, before any answer is shown, so that reasoning can be asked for in the prompt.
    private func thinkNatively(_ conversation: [ChatMessage], budget: Int, state run: inout RunState,
                               emit: @escaping @Sendable (TraceEvent) -> Void) async throws -> String? {
        var reasoningTokens = 0, reasoning = "", answer = ""
        var inReasoning = false
        let request = GenerationRequest(prompt: .chat(conversation), sampling: sampling, maxTokens: budget + maxAnswerTokens)
        stream: for try await event in model.generate(request) {
            switch event {
            case .reasoning(let t):
                inReasoning = true
                reasoning += t
                emit(.reasoning(agent: nil, text: t))
            case .text(let t) where reasoning.isEmpty:
                if t.allSatisfy(\.isWhitespace) { continue }
                return nil
            case .text(let t):
                inReasoning = false
                answer += t
                emit(.answer(agent: nil, text: t))
            case .token:
                if inReasoning { reasoningTokens += 1 }
                if inReasoning && reasoningTokens >= budget { break stream }
            case .toolCalls:
                break
            case .finished(_, let usage, _):
                run.add(usage)
            }
        }
        run.reasoning = reasoning
        if inReasoning || answer.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            let followUp = conversation + [.assistant(reasoning), .user(Self.answerInstruction)]
            return try await generate(followUp, maxTokens: maxAnswerTokens, sampling: sampling, state: &run) {
                emit(.answer(agent: nil, text: $0))
            }
        }
        return answer
    }

    // MARK: Contemplating

    /// How a Contemplating agent's answer is bounded, so that every agent ends with an answer that
    /// can be voted on: the local engine continues the reasoning after "Answer:" with one line of
    /// at most `agentAnswerLength` characters; a remote server is asked in a turn of its own for
    /// one JSON string of that length, as `response_format`.
    static let agentAnswerInstruction = #"Now give your final answer alone, as briefly as the question allows, as JSON: {"answer": "..."}"#
    static let agentAnswerLength = 160
    static let agentAnswerFormat = OutputFormat.jsonSchema(
        #"{"type": "object", "properties": {"answer": {"type": "string", "minLength": 1, "maxLength": \#(agentAnswerLength)}}, "required": ["answer"]}"#)
    /// Tokens of an agent's answer: its at most 160 characters (and the JSON around them).
    static let agentAnswerTokens = 128
    /// Tokens of the distilled summary: a short list for the final answer to start from.
    static let summaryTokens = 160

    private func contemplate(_ conversation: [ChatMessage], agents count: Int, rounds: Int, budget: Int, state run: inout RunState,
                             emit: @escaping @Sendable (TraceEvent) -> Void) async throws -> String {
        var summary: String?
        var answers: [AgentRecord] = []
        var distillMessages: [ChatMessage] = []
        let question = conversation.last { $0.role == .user }?.text ?? ""
        for round in 1...rounds {
            answers = try await parallelRound(conversation, agents: count, round: round, budget: budget, summary: summary,
                                              state: &run, emit: emit)
            let tally = Vote(answers.map(\.answer))
            if tally.decision != nil || tally.allShort {
                emit(.vote(winner: tally.decision ?? "", counts: tally.counts))
            }
            if let winner = tally.decision, let representative = answers.first(where: { Vote.key(Vote.final($0.answer)) == winner }) {
                let final = Vote.final(representative.answer)
                emit(.answer(agent: nil, text: final))
                return final
            }
            // No majority (among short answers, a tie): the synthesis decides.
            distillMessages = [
                .system("You compare candidate answers. List briefly where they agree, where they disagree, and what checks decide between them."),
                .user(Self.candidatesText(question: question, answers: answers)),
            ]
            summary = try await generate(distillMessages, maxTokens: Self.summaryTokens, sampling: synthesisSampling, state: &run) { _ in }
            emit(.distilled(summary: summary ?? ""))
        }
        emit(.refining)
        // The last step continues the distill conversation, so the engine reuses its cached prompt
        // (the candidates) instead of reading them again. Answers that each have a result (a number,
        // a few words) get one answer line after the summary; others a refined answer.
        if model.continuesAssistantMessages && Vote.haveResults(answers.map(\.answer)) {
            let line = try await generate(distillMessages + [.assistant(Self.marked(summary ?? ""))], maxTokens: Self.agentAnswerTokens,
                                          sampling: synthesisSampling, format: .line(maxLength: Self.agentAnswerLength), state: &run) { _ in }
            let final = line.trimmingCharacters(in: .whitespacesAndNewlines)
            emit(.answer(agent: nil, text: final))
            return final
        }
        let refine = distillMessages + [
            .assistant(summary ?? ""),
            .user("Now write the single best final answer to the question."),
        ]
        return try await generate(refine, maxTokens: maxAnswerTokens, sampling: synthesisSampling, state: &run) {
            emit(.answer(agent: nil, text: $0))
        }
    }

    /// The synthesis steps sample coldly: they summarise rather than explore.
    var coldSampling: SamplingParameters { synthesisSampling }

    private var synthesisSampling: SamplingParameters {
        var s = sampling
        s.temperature = min(s.temperature, 0.3)
        return s
    }

    /// K agents at once: each its own perspective and seed, reasoning up to `budget` tokens, then
    /// its answer line; the engine batches their decoding.
    private func parallelRound(_ conversation: [ChatMessage], agents count: Int, round: Int, budget: Int, summary: String?,
                               state run: inout RunState, emit: @escaping @Sendable (TraceEvent) -> Void) async throws -> [AgentRecord] {
        let baseSeed = sampling.seed ?? UInt64.random(in: 0...UInt64.max)
        let agents = (0..<count).map { id in
            let perspective = perspectives[id % perspectives.count]
            var instruction = perspective.instruction + " " + Perspective.answerFormat
            if let summary { instruction += "\nEarlier agents' findings:\n\(summary)" }
            var agentSampling = sampling
            agentSampling.seed = baseSeed &+ UInt64(round * 1000 + id)
            emit(.agentStarted(id: id, role: perspective.role, perspective: perspective.instruction))
            return AgentRun(id: id, role: perspective.role, messages: withSystem(instruction, conversation), sampling: agentSampling,
                            reasonsThenAnswers: true)
        }
        return try await runAgents(agents, maxTokens: budget, finished: { .agentFinished($0) }, state: &run, emit: emit)
    }

    /// Runs the agents at the same time (the engine batches their decoding). An agent that
    /// `reasonsThenAnswers` streams up to `maxTokens` of reasoning as `.reasoning(agent:)`, then its
    /// answer line as `.answer(agent:)`; the others stream up to `maxTokens` of answer. A failure or
    /// an empty answer is recorded and left out; only when every agent fails is the run lost.
    func runAgents(_ agents: [AgentRun], maxTokens: Int, finished: @escaping @Sendable (AgentRecord) -> TraceEvent,
                   state run: inout RunState, emit: @escaping @Sendable (TraceEvent) -> Void) async throws -> [AgentRecord] {
        let model = model
        let records = await withTaskGroup(of: (AgentRecord, Usage).self) { group in
            for agent in agents {
                group.addTask {
                    let start = ContinuousClock.now
                    var reasoning = "", text = "", usage = Usage(promptTokens: 0, completionTokens: 0), failure: String?
                    do {
                        if agent.reasonsThenAnswers {
                            let request = GenerationRequest(prompt: .chat(agent.messages), sampling: agent.sampling, maxTokens: maxTokens,
                                                            stop: ["Answer:"])
                            // A model that reasons on its own does so first; all of it is the agent's reasoning.
                            let reply = try await Self.reply(request, from: model, usage: &usage,
                                                             onText: { emit(.reasoning(agent: agent.id, text: $0)) },
                                                             onReasoning: { emit(.reasoning(agent: agent.id, text: $0)) })
                            reasoning = reply.reasoning.isEmpty ? reply.text : reply.reasoning + "\n\n" + reply.text
                            text = try await Self.answerTurn(after: reasoning, of: agent, from: model, usage: &usage)
                            emit(.answer(agent: agent.id, text: text))
                        } else {
                            let request = GenerationRequest(prompt: .chat(agent.messages), sampling: agent.sampling, maxTokens: maxTokens)
                            text = try await Self.stream(request, from: model, usage: &usage) { emit(.answer(agent: agent.id, text: $0)) }
                        }
                    } catch {
                        failure = "\(error)"
                    }
                    let answer = text.trimmingCharacters(in: .whitespacesAndNewlines)
                    let record = AgentRecord(id: agent.id, role: agent.role, answer: answer, tokens: usage.completionTokens,
                                             seconds: (ContinuousClock.now - start).seconds,
                                             failure: failure ?? (answer.isEmpty ? "empty answer" : nil),
                                             reasoning: reasoning.trimmingCharacters(in: .whitespacesAndNewlines))
                    emit(finished(record))
                    return (record, usage)
                }
            }
            var all: [(AgentRecord, Usage)] = []
            for await r in group { all.append(r) }
            return all.sorted { $0.0.id < $1.0.id }
        }
        for (record, usage) in records {
            run.agents.append(record)
            run.add(usage)
        }
        let good = records.map(\.0).filter { $0.failure == nil }
        guard !good.isEmpty else { throw AssistantError.allAgentsFailed(records.map { $0.0.failure ?? "?" }) }
        return good
    }

    /// What one generation produced: its answer text, the model's own reasoning, the calls its
    /// server reported in structured form, and why it ended.
    struct Reply {
        var text = ""
        var reasoning = ""
        var calls: [ToolCall] = []
        var finish = FinishReason.stop
    }

    /// One generation, its usage added to `usage`; text and reasoning are passed on as they come.
    static func reply(_ request: GenerationRequest, from model: any LanguageModel, usage: inout Usage,
                      onText: (String) -> Void, onReasoning: (String) -> Void = { _ in }) async throws -> Reply {
        try await reply(model.generate(request), usage: &usage, onText: onText, onReasoning: onReasoning)
    }

    /// As the other `reply`, from a generation already started; with `onToken`, each token is passed on too.
    static func reply(_ stream: AsyncThrowingStream<GenerationEvent, any Error>, usage: inout Usage,
                      onText: (String) -> Void, onReasoning: (String) -> Void = { _ in },
                      onToken: ((GeneratedToken) -> Void)? = nil) async throws -> Reply {
        var reply = Reply()
        for try await event in stream {
            switch event {
            case .text(let t):
                reply.text += t
                onText(t)
            case .reasoning(let t):
                reply.reasoning += t
                onReasoning(t)
            case .toolCalls(let calls): reply.calls += calls
            case .finished(let reason, let u, _):
                reply.finish = reason
                usage.add(u)
            case .token(let token): onToken?(token)
            }
        }
        return reply
    }

    /// The answer text of one generation (the model's own reasoning, if any, left out).
    static func stream(_ request: GenerationRequest, from model: any LanguageModel, usage: inout Usage,
                       onText: (String) -> Void) async throws -> String {
        try await reply(request, from: model, usage: &usage, onText: onText).text
    }

    /// An agent's answer after its reasoning. A model that continues assistant messages writes on
    /// from its own reasoning after "Answer:", one line of at most `agentAnswerLength` characters:
    /// the line it was about to write (or, when the budget ended the reasoning first, the one the
    /// marker asks for). Other models answer a turn of their own in `agentAnswerFormat`.
    static func answerTurn(after reasoning: String, of agent: AgentRun, from model: any LanguageModel,
                           usage: inout Usage) async throws -> String {
        if model.continuesAssistantMessages {
            let request = GenerationRequest(prompt: .chat(agent.messages + [.assistant(marked(reasoning))]), sampling: agent.sampling,
                                            maxTokens: agentAnswerTokens, format: .line(maxLength: agentAnswerLength))
            return try await stream(request, from: model, usage: &usage) { _ in }.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let followUp = agent.messages + [.assistant(reasoning), .user(agentAnswerInstruction)]
        let json = try await stream(GenerationRequest(prompt: .chat(followUp), sampling: agent.sampling,
                                                      maxTokens: agentAnswerTokens, format: agentAnswerFormat),
                                    from: model, usage: &usage) { _ in }
        return answerLine(json)
    }

    /// `text` followed by the "Answer:" marker that an answer line continues. Reasoning that stopped
    /// at the marker ends where the model began its line ("", "**"); text that ran out of budget, or
    /// a summary, gets the marker on a line of its own.
    static func marked(_ text: String) -> String {
        let lastLine = text.split(separator: "\n", omittingEmptySubsequences: false).last ?? ""
        return text + (lastLine.allSatisfy { " *#>-".contains($0) } ? "" : "\n") + "Answer:"
    }

    /// The answer of an agent's answer turn: the JSON's string, on one line; if the text is not that
    /// JSON (a server that ignored the format), its "Answer:" line or the whole text.
    static func answerLine(_ text: String) -> String {
        var answer = Vote.final(text)
        if case .string(let given)? = (try? JSONValue.parse(text))?["answer"] { answer = given }
        return answer.split(whereSeparator: \.isNewline).joined(separator: " ").trimmingCharacters(in: .whitespaces)
    }

    /// Characters of an agent's reasoning shown to the distill step, from its end (where the
    /// conclusion is): enough to compare, bounded so that the step stays short.
    static let reasoningShown = 600

    static func candidatesText(question: String, answers: [AgentRecord]) -> String {
        var text = "Question: \(question)\n\nCandidate answers:"
        for (i, a) in answers.enumerated() {
            text += "\n\(i + 1). (\(a.role)) \(a.answer)"
            if !a.reasoning.isEmpty {
                let shown = a.reasoning.count > reasoningShown ? "…" + a.reasoning.suffix(reasoningShown) : a.reasoning
                text += "\n   Reasoning: \(shown)"
            }
        }
        return text
    }

    // MARK: Plumbing

    func withSystem(_ instruction: String, _ conversation: [ChatMessage]) -> [ChatMessage] {
        MuseAgents.withSystem(instruction, conversation)
    }

    /// The answer text of one generation from `messages`, its usage added to the run's.
    func generate(_ messages: [ChatMessage], maxTokens: Int, sampling: SamplingParameters, stop: [String] = [],
                  format: OutputFormat? = nil, state run: inout RunState, onText: (String) -> Void) async throws -> String {
        let request = GenerationRequest(prompt: .chat(messages), sampling: sampling, maxTokens: maxTokens, stop: stop, format: format)
        var usage = Usage(promptTokens: 0, completionTokens: 0)
        let text = try await Self.stream(request, from: model, usage: &usage, onText: onText)
        run.add(usage)
        return text
    }
}

/// One agent to run: its place, its role and its whole prompt; a Contemplating agent reasons, then
/// answers in a turn of its own in `Assistant.agentAnswerFormat`.
struct AgentRun: Sendable {
    let id: Int
    let role: String
    let messages: [ChatMessage]
    let sampling: SamplingParameters
    var reasonsThenAnswers = false
}

/// Totals of one run.
struct RunState {
    var reasoning = ""
    var agents: [AgentRecord] = []
    var usage = Usage(promptTokens: 0, completionTokens: 0)

    mutating func add(_ u: Usage) { usage.add(u) }
}
