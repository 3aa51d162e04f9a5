// Runs a chat job and tells what happens as pieces: text and reasoning deltas per choice, tool
// calls, trace events, the end. A whole response and a stream are two ways of writing the same
// pieces, so the two cannot drift apart.
import Foundation
import MuseAgents
import MuseCore
import MuseOpenAI
import Synchronization

enum ChatPiece: Sendable {
    case delta(choice: Int, content: String?, reasoning: String?, logprobs: [ChoiceLogprobs.TokenLogprob]?)
    /// A choice ended; `content` is its whole answer when tool calls were cut out of it.
    case finish(choice: Int, reason: String, toolCalls: [ToolCall], content: String?)
    case trace(JSONValue)
    case usage(MuseCore.Usage)
}

struct ChatService: Sendable {
    let model: any LanguageModel
    var metrics: ServerMetrics?

    /// The pieces of `job`, in order per choice (choices interleave), within `timeLimit`. A raw
    /// `prompt` replaces the conversation (the text completions endpoint). Ending the consumption
    /// cancels the work, and with it the sequences in the engine.
    func pieces(_ job: ChatJob, timeLimit: Duration, prompt: GenerationRequest.Prompt? = nil) -> AsyncThrowingStream<ChatPiece, any Error> {
        AsyncThrowingStream { continuation in
            let start = ContinuousClock.now
            let first = FirstTime()
            let emit: @Sendable (ChatPiece) -> Void = { [metrics] piece in
                if let metrics {
                    if case .usage(let usage) = piece { metrics.tokens(usage) }
                    if first.now() { metrics.firstPiece(after: .now - start) }
                }
                continuation.yield(piece)
            }
            let task = Task {
                do {
                    try await withTimeLimit(timeLimit) {
                        if let mode = job.mode {
                            try await assistant(job, mode: mode, emit: emit)
                        } else {
                            try await direct(job, prompt: prompt, emit: emit)
                        }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// Instant: the model itself, `n` completions of one prompt decoded together; with tools, the
    /// reply is read for calls.
    private func direct(_ job: ChatJob, prompt: GenerationRequest.Prompt?, emit: @escaping @Sendable (ChatPiece) -> Void) async throws {
        var request = job.generation
        if let prompt { request.prompt = prompt }
        let turn = job.toolChoice == .none ? nil : toolTurn(job, choice: job.toolChoice)
        if let turn { apply(turn, to: &request) }
        let streams = model.generate(request, count: job.choices)
        let usages = try await withThrowingTaskGroup(of: MuseCore.Usage.self) { group in
            for (index, stream) in streams.enumerated() {
                group.addTask { [request] in
                    var choice = ChoiceRun(index: index, job: job, model: model, emit: emit)
                    try await choice.consume(stream, turn: turn)
                    if turn != nil, !choice.calls.isEmpty, choice.calls.allSatisfy({ Self.wasAnswered($0, in: job.conversation) }) {
                        // A small model may ask again for what the conversation already answers:
                        // it then answers from those results, without tools.
                        choice.calls = []
                        let plain = toolTurn(job, choice: .none)
                        var again = job.generation
                        apply(plain, to: &again)
                        again.sampling = request.sampling
                        try await choice.consume(model.generate(again), turn: plain)
                    }
                    return choice.finish()
                }
            }
            var all: [MuseCore.Usage] = []
            for try await usage in group { all.append(usage) }
            return all
        }
        // The prompt is read once for all choices.
        emit(.usage(MuseCore.Usage(promptTokens: usages.map { $0.promptTokens }.max() ?? 0,
                                   completionTokens: usages.reduce(0) { $0 + $1.completionTokens })))
    }

    private func toolTurn(_ job: ChatJob, choice: MuseAgents.ToolChoice) -> ToolTurn {
        ToolTurn(conversation: job.conversation, tools: job.tools, choice: choice, format: .hermes,
                 parallelCalls: job.parallelToolCalls, useModelTemplate: true, model: model)
    }

    private func apply(_ turn: ToolTurn, to request: inout GenerationRequest) {
        request.prompt = .chat(turn.messages)
        request.tools = turn.specs
        request.format = turn.constraint
        request.stop += turn.stop
    }

    /// Whether an assistant turn of the conversation made this call (same name, same arguments)
    /// and a tool message answered it.
    static func wasAnswered(_ call: ToolCall, in conversation: [ChatMessage]) -> Bool {
        let answered = Set(conversation.compactMap { $0.role == .tool ? $0.toolCallID : nil })
        // Arguments compare as JSON: members in any order, numbers by value.
        let key = (try? JSONValue.parse(call.arguments)) ?? .string(call.arguments)
        return conversation.contains { message in
            message.toolCalls.contains {
                $0.name == call.name && answered.contains($0.id) && ((try? JSONValue.parse($0.arguments)) ?? .string($0.arguments)) == key
            }
        }
    }

    /// Thinking and Contemplating: the assistant's steps; the main line's reasoning and answer are
    /// the deltas, everything else (agents, votes, synthesis) is the trace.
    private func assistant(_ job: ChatJob, mode: Mode, emit: @escaping @Sendable (ChatPiece) -> Void) async throws {
        let assistant = Assistant(model: model, sampling: job.sampling, maxAnswerTokens: job.maxTokens)
        for try await event in assistant.run(job.conversation, mode: mode) {
            switch event {
            case .reasoning(nil, let text):
                emit(.delta(choice: 0, content: nil, reasoning: text, logprobs: nil))
            case .answer(nil, let text):
                emit(.delta(choice: 0, content: text, reasoning: nil, logprobs: nil))
            case .done(let result):
                if job.trace { emit(.trace(TraceJSON.value(of: event))) }
                emit(.finish(choice: 0, reason: "stop", toolCalls: [], content: result.answer))
                emit(.usage(result.usage))
            default:
                if job.trace { emit(.trace(TraceJSON.value(of: event))) }
            }
        }
    }
}

/// One choice of a direct completion: its text streamed as deltas (prose only, held back from the
/// moment a call starts), log-probabilities, and the calls read from it at the end.
private struct ChoiceRun {
    let index: Int
    let job: ChatJob
    let model: any LanguageModel
    let emit: @Sendable (ChatPiece) -> Void
    var calls: [ToolCall] = []
    var content: String?
    var finishReason = FinishReason.stop
    var usage = MuseCore.Usage(promptTokens: 0, completionTokens: 0)
    private var pendingLogprobs: [ChoiceLogprobs.TokenLogprob] = []

    init(index: Int, job: ChatJob, model: any LanguageModel, emit: @escaping @Sendable (ChatPiece) -> Void) {
        self.index = index
        self.job = job
        self.model = model
        self.emit = emit
    }

    mutating func consume(_ stream: AsyncThrowingStream<GenerationEvent, any Error>, turn: ToolTurn?) async throws {
        var text = ""
        var structured: [ToolCall] = []
        var gate = turn?.gate
        let forced = turn?.constraint != nil
        for try await event in stream {
            switch event {
            case .token(let token):
                guard job.logprobs, let logprob = token.logprob else { continue }
                let alternatives = token.topLogprobs.prefix(job.topLogprobs).map {
                    ChoiceLogprobs.Alternative(token: model.tokenText($0.id) ?? "", logprob: Double($0.logprob))
                }
                pendingLogprobs.append(.init(token: model.tokenText(token.id) ?? "", logprob: Double(logprob), topLogprobs: alternatives))
            case .text(let piece):
                text += piece
                if forced { continue }
                if gate != nil { send(gate!.feed(piece)) } else { send(piece) }
            case .reasoning(let piece):
                emit(.delta(choice: index, content: nil, reasoning: piece, logprobs: nil))
            case .toolCalls(let calls):
                structured += calls
            case let .finished(reason, u, _):
                finishReason = reason
                usage.promptTokens = max(usage.promptTokens, u.promptTokens)
                usage.completionTokens += u.completionTokens
            }
        }
        if let turn {
            let parsed = turn.read(text, structured: structured, idPrefix: "call_\(UUID().uuidString.prefix(8).lowercased())_\(index)_")
            calls = parsed.calls
            if calls.isEmpty, !forced { send(gate?.flush() ?? "") }
            content = parsed.content
        }
        send("")
    }

    /// Emits the finish piece; returns the choice's usage.
    func finish() -> MuseCore.Usage {
        let reason = !calls.isEmpty ? "tool_calls" : (finishReason == .length ? "length" : "stop")
        emit(.finish(choice: index, reason: reason, toolCalls: calls, content: calls.isEmpty ? nil : content))
        return usage
    }

    private mutating func send(_ piece: String) {
        let logprobs = job.logprobs ? pendingLogprobs : nil
        if piece.isEmpty && (logprobs ?? []).isEmpty { return }
        emit(.delta(choice: index, content: piece.isEmpty ? nil : piece, reasoning: nil, logprobs: logprobs))
        pendingLogprobs = []
    }
}

/// A whole chat completion gathered from the pieces.
struct ChatAccumulator {
    struct Choice {
        var content = ""
        var reasoning = ""
        var logprobs: [ChoiceLogprobs.TokenLogprob] = []
        var finishReason = "stop"
        var toolCalls: [ToolCall] = []
        var finalContent: String?
    }
    var choices: [Choice]
    var trace: [JSONValue] = []
    var usage = MuseCore.Usage(promptTokens: 0, completionTokens: 0)

    init(choices: Int) { self.choices = Array(repeating: Choice(), count: choices) }

    mutating func add(_ piece: ChatPiece) {
        switch piece {
        case let .delta(i, content, reasoning, logprobs):
            choices[i].content += content ?? ""
            choices[i].reasoning += reasoning ?? ""
            choices[i].logprobs += logprobs ?? []
        case let .finish(i, reason, calls, content):
            choices[i].finishReason = reason
            choices[i].toolCalls = calls
            choices[i].finalContent = content
        case .trace(let event): trace.append(event)
        case .usage(let u): usage = u
        }
    }

    func completion(id: String, created: Int, model: String, job: ChatJob) -> ChatCompletion {
        let choices = choices.enumerated().map { i, c in
            let text = c.finalContent ?? c.content
            let calls = c.toolCalls.map { MuseOpenAI.Message.ToolCall(id: $0.id, name: $0.name, arguments: $0.arguments) }
            let message = MuseOpenAI.Message(role: "assistant",
                                             content: calls.isEmpty || !text.isEmpty ? .text(text.trimmingCharacters(in: .whitespacesAndNewlines)) : nil,
                                             toolCalls: calls.isEmpty ? nil : calls,
                                             reasoningContent: c.reasoning.isEmpty ? nil : c.reasoning)
            return ChatCompletion.Choice(index: i, message: message, finishReason: c.finishReason,
                                         logprobs: job.logprobs ? ChoiceLogprobs(content: c.logprobs) : nil)
        }
        return ChatCompletion(id: id, created: created, model: model, choices: choices,
                              usage: MuseOpenAI.Usage(promptTokens: usage.promptTokens, completionTokens: usage.completionTokens),
                              muse: job.trace ? .object(["trace": .array(trace)]) : nil)
    }
}

/// True the first time it is asked, false after: from any thread.
final class FirstTime: Sendable {
    private let pending = Atomic(true)
    func now() -> Bool { pending.exchange(false, ordering: .relaxed) }
}
