// The agent loop with tools: generate → parse calls → run them (at once) → feed results back →
// continue, up to a step limit; the last step answers without tools. A forced choice constrains
// the first reply to well-formed calls, so even a small model calls correctly. Every call and
// result is a trace event; a failing tool is a result the model reads, never the end of the run.
import Foundation
import MuseCore

extension Assistant {
    /// What the tool steps produced: the conversation with every call and result in it, and the
    /// model's answer when it gave one without calling (or after its last results).
    struct ToolRun {
        var messages: [ChatMessage]
        var answer: String?
        var calls: Int
    }

    /// Runs the tool steps on `conversation`. With `streamAnswer`, answer text is emitted as it comes
    /// (held back from the moment the model starts writing a call).
    func runTools(_ conversation: [ChatMessage], settings: ToolSettings, streamAnswer: Bool, state run: inout RunState,
                  emit: @escaping @Sendable (TraceEvent) -> Void) async throws -> ToolRun {
        // Calls and results so far. A model whose chat template renders tools gets them (and the
        // calls and results) through it, in the format it was trained on; others get them described
        // in the system prompt and written as text (see `ToolTurn`).
        var history: [ChatMessage] = []
        let question = conversation.last { $0.role == .user }?.text ?? ""
        var calls = 0
        var made: Set<String> = []
        var answerNow = false
        for step in 0..<settings.maxSteps {
            try Task.checkCancellation()
            // After a forced round, and on the last step, the model answers without tools.
            let last = step == settings.maxSteps - 1 || answerNow || (step > 0 && settings.choice != .auto)
            let choice: ToolChoice = last ? .none : (step == 0 ? settings.choice : .auto)
            let turn = ToolTurn(conversation: conversation + history, tools: settings.tools, choice: choice, format: settings.format,
                                parallelCalls: settings.parallelCalls, useModelTemplate: settings.useModelTemplate, model: model)
            let forced = turn.constraint
            var gate = turn.gate
            let reply = try await generateReply(turn.messages, maxTokens: maxAnswerTokens, sampling: sampling,
                                                stop: turn.stop, format: forced, tools: turn.specs, state: &run) {
                if streamAnswer && forced == nil { emitAnswer(gate.feed($0), emit) }
            }
            let parsed = turn.read(reply.text, structured: reply.calls, idPrefix: "call_\(step)_")
            if parsed.calls.isEmpty && parsed.errors.isEmpty {
                if streamAnswer && forced == nil { emitAnswer(gate.flush(), emit) }
                return ToolRun(messages: conversation + history, answer: parsed.content, calls: calls)
            }
            // The same call twice brings the same result: each runs once, and a reply that only
            // repeats earlier calls is answered with what is known instead.
            var seen = made
            let fresh = parsed.calls.filter { seen.insert($0.name + $0.arguments).inserted }
            if parsed.errors.isEmpty && fresh.isEmpty {
                answerNow = true
                continue
            }
            made = seen
            for error in parsed.errors { emit(.unreadableToolCall(agent: nil, error: error)) }
            for call in fresh { emit(.toolCall(agent: nil, call: call)) }
            let results = await ToolExecutor.run(fresh, tools: settings.tools, timeout: settings.timeout, emit: emit)
            for result in results { emit(.toolResult(agent: nil, result: result)) }
            calls += fresh.count
            if turn.native {
                history.append(ChatMessage(role: .assistant, content: [.text(parsed.content)], toolCalls: fresh))
                history += results.map { ChatMessage(role: .tool, content: [.text($0.content)], name: $0.name, toolCallID: $0.callID) }
                if !parsed.errors.isEmpty { history.append(.user(Self.renderResults([], errors: parsed.errors))) }
            } else {
                let said = parsed.content.isEmpty ? "" : parsed.content + "\n"
                history.append(ChatMessage(role: .assistant, content: [.text(said + turn.format.renderCall(fresh))]))
                history.append(.user(Self.renderResults(results, errors: parsed.errors) + "\n\n" + Self.followUp(question)))
            }
        }
        return ToolRun(messages: conversation + history, answer: nil, calls: calls)
    }

    /// After results: back to the question, so that a small model answers it rather than echoing.
    static func followUp(_ question: String) -> String {
        question.isEmpty ? "Using this, answer." : "Using this, answer the question: \(question)"
    }

    private func emitAnswer(_ text: String, _ emit: @Sendable (TraceEvent) -> Void) {
        if !text.isEmpty { emit(.answer(agent: nil, text: text)) }
    }

    /// Results as the model reads them: one line per call in plain words (which even small models
    /// without tool training take in), and the reasons any call could not be read, so that the
    /// model can write it again.
    static func renderResults(_ results: [ToolResult], errors: [String]) -> String {
        var lines = results.map { result in
            result.isError ? "The \(result.name) tool failed: \(result.content)" : "The \(result.name) tool returned: \(result.content)"
        }
        lines += errors.map { "A tool call could not be read: \($0)" }
        return lines.joined(separator: "\n")
    }
}

/// Passes text through until a tool call starts, holding back a tail that might be the start of
/// the call prefix; after the prefix nothing more passes. With `holdingBareJSON`, a reply that
/// opens like calls written as bare JSON (`{`, `[` or a ```json fence) is held back whole, until
/// its opening shows otherwise or `flush` releases it.
public struct CallGate: Sendable {
    let prefix: String
    private var pending = ""
    private var closed = false
    private var holding: Bool

    public init(prefix: String, holdingBareJSON: Bool = false) {
        self.prefix = prefix
        holding = holdingBareJSON
    }

    public mutating func feed(_ text: String) -> String {
        guard !closed else { return "" }
        pending += text
        if let range = pending.range(of: prefix) {
            closed = true
            defer { pending = "" }
            return String(pending[..<range.lowerBound])
        }
        if holding {
            if BareJSONCalls.couldBeCalls(pending[...]) { return "" }
            holding = false
        }
        // The longest tail of what we have that could grow into the prefix stays back.
        var keep = min(prefix.count - 1, pending.count)
        while keep > 0 && !pending.hasSuffix(prefix.prefix(keep)) { keep -= 1 }
        let out = String(pending.dropLast(keep))
        pending = String(pending.suffix(keep))
        return out
    }

    public mutating func flush() -> String {
        defer { pending = "" }
        return closed ? "" : pending
    }
}
