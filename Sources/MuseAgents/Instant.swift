// Instant mode in full: `choices` answers to one prompt, decoded together, each going through the
// tool steps on its own, with the tokens' log-probabilities when asked. Everything that answers
// directly goes through here: the API's chat and text completions, the web chat, `muse chat` and
// `muse ask`; the other modes use the same tool steps before they reason.
import Foundation
import MuseCore

/// What a direct answer offers beyond a mode: the per-token fields of OpenAI's chat completions.
public struct InstantOptions: Sendable {
    /// Answers to the same prompt (OpenAI's `n`), decoded together; with a seed, answer i uses seed + i.
    public var choices: Int
    /// Generation ends before any of these strings.
    public var stop: [String]
    /// Whether each token comes as a `.token` event with its log-probability.
    public var logprobs: Bool
    public var topLogprobs: Int
    /// The shape of an answer given without tools (nil: free text).
    public var format: OutputFormat?
    /// A raw prompt in place of the conversation (text completions): no template, no tools.
    public var prompt: String?

    public init(choices: Int = 1, stop: [String] = [], logprobs: Bool = false, topLogprobs: Int = 0,
                format: OutputFormat? = nil, prompt: String? = nil) {
        self.choices = max(choices, 1)
        self.stop = stop
        self.logprobs = logprobs || topLogprobs > 0
        self.topLogprobs = topLogprobs
        self.format = format
        self.prompt = prompt
    }
}

/// How one answer ended.
public struct InstantChoice: Sendable {
    public enum Ending: String, Sendable {
        /// The model ended its answer, or a stop string came.
        case stop
        /// The token limit cut it.
        case length
        /// It called tools that the caller runs (`calls`).
        case toolCalls = "tool_calls"
    }

    public var index: Int
    public var ending: Ending
    /// The answer with any calls cut out of it.
    public var answer: String
    public var reasoning: String
    /// Calls to tools the caller runs (see `Tool.runsOnCaller`), for it to answer in the next turn.
    public var calls: [ToolCall]
    /// Calls the assistant ran on the way.
    public var toolCallsRun: Int
    public var usage: Usage
    /// The conversation with every call run and its result.
    var messages: [ChatMessage]
}

extension AssistantResult {
    /// The result of a run that ended with `choice`'s answer, or with its calls for the caller.
    init(_ choice: InstantChoice, mode: Mode, usage: Usage, seconds: Double) {
        self.init(answer: choice.answer.trimmingCharacters(in: .whitespacesAndNewlines), reasoning: choice.reasoning,
                  mode: mode.name, agents: [], usage: usage, seconds: seconds, toolCalls: choice.toolCallsRun, callsToRun: choice.calls)
    }
}

public enum InstantEvent: Sendable {
    /// Answer text of a choice, as it comes (a call's text held back).
    case text(choice: Int, String)
    /// The model's own reasoning.
    case reasoning(choice: Int, String)
    /// The token behind the text, when log-probabilities were asked for.
    case token(choice: Int, GeneratedToken)
    /// A tool call the assistant ran, its result, or a call that could not be read.
    case trace(TraceEvent)
    /// A choice ended.
    case finished(InstantChoice)
    /// The end: what all choices cost, the prompt counted once.
    case usage(Usage)
}

extension Assistant {
    /// Instant mode with the options of a direct completion, as a stream of events.
    public func answer(_ conversation: [ChatMessage], options: InstantOptions = InstantOptions()) -> AsyncThrowingStream<InstantEvent, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    let choices = try await instant(conversation, options: options) { continuation.yield($0) }
                    continuation.yield(.usage(Self.total(choices.map(\.usage))))
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// The choices' ends, in order, their events passed to `sink` as they come. The first step of
    /// every choice is one batched generation; a choice that calls tools goes on alone.
    func instant(_ conversation: [ChatMessage], options: InstantOptions,
                 sink: @escaping @Sendable (InstantEvent) -> Void) async throws -> [InstantChoice] {
        let steps = ToolSteps(assistant: self, conversation: conversation, options: options)
        let streams = model.generate(steps.firstRequest, count: options.choices)
        return try await withThrowingTaskGroup(of: InstantChoice.self) { group in
            for (index, stream) in streams.enumerated() {
                group.addTask { try await steps.run(choice: index, first: stream, sink: sink) }
            }
            var all: [InstantChoice] = []
            for try await choice in group { all.append(choice) }
            return all.sorted { $0.index < $1.index }
        }
    }

    /// Usage of choices that read one prompt together: the prompt once, every completion.
    static func total(_ usages: [Usage]) -> Usage {
        Usage(promptTokens: usages.map(\.promptTokens).max() ?? 0, completionTokens: usages.reduce(0) { $0 + $1.completionTokens })
    }
}
