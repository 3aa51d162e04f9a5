// Runs a chat job and tells what happens as pieces: text and reasoning deltas per choice, tool
// calls, trace events, the end. A whole response and a stream are two ways of writing the same
// pieces, so the two cannot drift apart.
import Foundation
import MuseAgents
import MuseCore
import MuseOpenAI
import MuseTools
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
    /// The facts callers asked to be remembered (nil: memory is not offered).
    var facts: MemoryStore?

    /// The pieces of `job`, in order per choice (choices interleave), within `timeLimit`. A
    /// `rawPrompt` replaces the conversation (the text completions endpoint). Ending the
    /// consumption cancels the work, and with it the sequences in the engine.
    func pieces(_ job: ChatJob, timeLimit: Duration, rawPrompt: String? = nil) -> AsyncThrowingStream<ChatPiece, any Error> {
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
                            try await direct(job, rawPrompt: rawPrompt, emit: emit)
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

    /// Instant: `n` answers to one prompt decoded together, through the assistant's tool steps
    /// with the client's tools, which it hands back calls to.
    private func direct(_ job: ChatJob, rawPrompt: String?, emit: @escaping @Sendable (ChatPiece) -> Void) async throws {
        let options = InstantOptions(choices: job.choices, stop: job.stop, logprobs: job.logprobs, topLogprobs: job.topLogprobs,
                                     format: job.format, prompt: rawPrompt)
        // Each choice's log-probabilities go out with the next text of that choice, or at its end.
        let pending = Mutex([[ChoiceLogprobs.TokenLogprob]](repeating: [], count: job.choices))
        func delta(_ choice: Int, _ text: String?) {
            let logprobs = job.logprobs ? pending.withLock { all in defer { all[choice] = [] }; return all[choice] } : nil
            if (text ?? "").isEmpty && (logprobs ?? []).isEmpty { return }
            emit(.delta(choice: choice, content: text, reasoning: nil, logprobs: logprobs))
        }
        for try await event in assistant(job).answer(job.conversation, options: options) {
            switch event {
            case let .text(choice, text): delta(choice, text)
            case let .reasoning(choice, text): emit(.delta(choice: choice, content: nil, reasoning: text, logprobs: nil))
            case let .token(choice, token):
                guard let logprob = token.logprob else { continue }
                let alternatives = token.topLogprobs.prefix(job.topLogprobs).map {
                    ChoiceLogprobs.Alternative(token: model.tokenText($0.id) ?? "", logprob: Double($0.logprob))
                }
                let entry = ChoiceLogprobs.TokenLogprob(token: model.tokenText(token.id) ?? "", logprob: Double(logprob), topLogprobs: alternatives)
                pending.withLock { $0[choice].append(entry) }
            case .trace(let event):
                if job.trace { emit(.trace(TraceJSON.value(of: event))) }
            case .finished(let choice):
                delta(choice.index, nil)
                emit(.finish(choice: choice.index, reason: choice.ending.rawValue, toolCalls: choice.calls,
                             content: choice.calls.isEmpty ? nil : choice.answer))
            case .usage(let usage):
                emit(.usage(usage))
            }
        }
    }

    /// The assistant that runs `job`: the client's tools, run by the client, and with `muse.memory`
    /// the caller's memory, run here.
    private func assistant(_ job: ChatJob) -> Assistant {
        var tools: [any Tool] = job.tools, choice = job.toolChoice
        if let user = job.memoryUser, let facts {
            tools += [RememberTool(store: facts, user: user), RecallTool(store: facts, user: user)]
            if choice == .none && job.tools.isEmpty { choice = .auto }
        }
        return Assistant(model: model, sampling: job.sampling, maxAnswerTokens: job.maxTokens,
                         tools: ToolSettings(tools: tools, choice: choice, format: .hermes, parallelCalls: job.parallelToolCalls))
    }

    /// Thinking and Contemplating: the assistant's steps; the main line's reasoning and answer are
    /// the deltas, everything else (agents, votes, synthesis) is the trace.
    private func assistant(_ job: ChatJob, mode: Mode, emit: @escaping @Sendable (ChatPiece) -> Void) async throws {
        for try await event in assistant(job).run(job.conversation, mode: mode) {
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
