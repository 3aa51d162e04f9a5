// The tool steps of one answer: generate → read calls → run them (at once) → feed the results
// back → continue, up to a step limit; the last step answers without tools. A forced choice
// constrains the first reply to well-formed calls, so even a small model calls correctly. Calls
// to tools the caller runs (the API's clients' functions) end the answer instead: they are handed
// back. Every call and result is a trace event; a failing tool is a result the model reads, never
// the end of the run.
import Foundation
import MuseCore

struct ToolSteps: Sendable {
    let assistant: Assistant
    let conversation: [ChatMessage]
    let options: InstantOptions
    /// The tools in force (nil: none are offered, and the answer is one generation).
    let settings: ToolSettings?
    /// Makes call ids unique across a conversation's turns, as clients that answer calls need.
    let runID = UUID().uuidString.prefix(8).lowercased()

    init(assistant: Assistant, conversation: [ChatMessage], options: InstantOptions) {
        self.assistant = assistant
        self.conversation = conversation
        self.options = options
        let tools = assistant.tools
        settings = tools.flatMap { $0.choice == .none || $0.tools.isEmpty || options.prompt != nil ? nil : $0 }
    }

    /// The request of every choice's first step.
    var firstRequest: GenerationRequest { request(turn(step: 0, history: [], answerNow: false), choice: 0) }

    /// Step `step`'s reply with tools (nil: without them). After a forced round, after a reply
    /// that only repeats calls already answered, and on the last step, the model answers without tools.
    func turn(step: Int, history: [ChatMessage], answerNow: Bool) -> ToolTurn? {
        guard let settings else { return nil }
        let last = step == settings.maxSteps - 1 || answerNow || (step > 0 && settings.choice != .auto)
        let choice: ToolChoice = last ? .none : (step == 0 ? settings.choice : .auto)
        // A model whose chat template renders tools gets them (and the calls and results) through
        // it, in the format it was trained on; others get them described in the system prompt and
        // written as text (see `ToolTurn`).
        return ToolTurn(conversation: conversation + history, tools: settings.tools, choice: choice, format: settings.format,
                        parallelCalls: settings.parallelCalls, useModelTemplate: settings.useModelTemplate, model: assistant.model)
    }

    func request(_ turn: ToolTurn?, choice: Int) -> GenerationRequest {
        var sampling = assistant.sampling
        if choice > 0, let seed = sampling.seed { sampling.seed = seed &+ UInt64(choice) }
        var request = GenerationRequest(prompt: options.prompt.map { .text($0) } ?? .chat(conversation), sampling: sampling,
                                        maxTokens: assistant.maxAnswerTokens, stop: options.stop, logprobs: options.logprobs,
                                        topLogprobs: options.topLogprobs, format: options.format)
        if let turn {
            request.prompt = .chat(turn.messages)
            request.tools = turn.specs
            request.format = turn.constraint ?? options.format
            request.stop += turn.stop
        }
        return request
    }

    /// Choice `choice` from its first step's stream (`first`, when the caller started it) to its end.
    func run(choice: Int, first: AsyncThrowingStream<GenerationEvent, any Error>? = nil,
             sink: @escaping @Sendable (InstantEvent) -> Void) async throws -> InstantChoice {
        var history: [ChatMessage] = []
        var usage = Usage(promptTokens: 0, completionTokens: 0), reasoning = "", ran = 0
        // The same call twice brings the same result: calls the conversation already answered, and
        // those made here, run once; a reply that only repeats them is answered from what is known.
        var made = Self.answeredCalls(in: conversation).map(CallKey.init)
        var answerNow = false
        var pending = first
        let question = conversation.last { $0.role == .user }?.text ?? ""
        func end(_ answer: String, _ ending: InstantChoice.Ending, calls: [ToolCall] = []) -> InstantChoice {
            let result = InstantChoice(index: choice, ending: ending, answer: answer, reasoning: reasoning, calls: calls,
                                       toolCallsRun: ran, usage: usage, messages: conversation + history)
            sink(.finished(result))
            return result
        }
        for step in 0..<(settings?.maxSteps ?? 1) {
            try Task.checkCancellation()
            let turn = turn(step: step, history: history, answerNow: answerNow)
            let forced = turn?.constraint != nil
            var gate = turn?.gate
            let stream = pending ?? assistant.model.generate(request(turn, choice: choice))
            pending = nil
            let reply = try await Assistant.reply(stream, usage: &usage, onText: { text in
                guard !forced else { return }
                let shown = gate?.feed(text) ?? text
                if !shown.isEmpty { sink(.text(choice: choice, shown)) }
            }, onReasoning: { sink(.reasoning(choice: choice, $0)) },
               onToken: options.logprobs ? { sink(.token(choice: choice, $0)) } : nil)
            reasoning += reply.reasoning
            guard let turn, let settings else { return end(reply.text, Self.ending(reply.finish)) }
            let parsed = turn.read(reply.text, structured: reply.calls, idPrefix: "call_\(runID)_\(choice)_\(step)_")
            if parsed.calls.isEmpty && parsed.errors.isEmpty {
                if !forced, let rest = gate?.flush(), !rest.isEmpty { sink(.text(choice: choice, rest)) }
                return end(parsed.content, Self.ending(reply.finish))
            }
            var fresh: [ToolCall] = []
            for call in parsed.calls where !made.contains(CallKey(call)) {
                made.append(CallKey(call))
                fresh.append(call)
            }
            if parsed.errors.isEmpty && fresh.isEmpty {
                answerNow = true
                continue
            }
            // Calls to the caller's tools end the answer, after the calls run here (a memory the
            // model writes to, say) have run.
            let forCaller = fresh.filter { call in settings.tools.contains { $0.name == call.name && $0.runsOnCaller } }
            let here = fresh.filter { call in !forCaller.contains { $0.id == call.id } }
            for error in parsed.errors where forCaller.isEmpty { sink(.trace(.unreadableToolCall(agent: nil, error: error))) }
            for call in here { sink(.trace(.toolCall(agent: nil, call: call))) }
            let results = await ToolExecutor.run(here, tools: settings.tools, timeout: settings.timeout) { sink(.trace($0)) }
            for result in results { sink(.trace(.toolResult(agent: nil, result: result))) }
            ran += here.count
            if !forCaller.isEmpty { return end(parsed.content, .toolCalls, calls: forCaller) }
            if turn.native {
                history.append(ChatMessage(role: .assistant, content: [.text(parsed.content)], toolCalls: here))
                history += results.map { ChatMessage(role: .tool, content: [.text($0.content)], name: $0.name, toolCallID: $0.callID) }
                if !parsed.errors.isEmpty { history.append(.user(Assistant.renderResults([], errors: parsed.errors))) }
            } else {
                let said = parsed.content.isEmpty ? "" : parsed.content + "\n"
                history.append(ChatMessage(role: .assistant, content: [.text(said + turn.format.renderCall(here))]))
                history.append(.user(Assistant.renderResults(results, errors: parsed.errors) + "\n\n" + Assistant.followUp(question)))
            }
        }
        // Not reached: the last step offers no tools, so its reply is the answer.
        return end("", .stop)
    }

    static func ending(_ reason: FinishReason) -> InstantChoice.Ending { reason == .length ? .length : .stop }

    /// The calls that an assistant turn of the conversation made and a tool message answered.
    static func answeredCalls(in conversation: [ChatMessage]) -> [ToolCall] {
        let answered = Set(conversation.compactMap { $0.role == .tool ? $0.toolCallID : nil })
        return conversation.flatMap { $0.toolCalls.filter { answered.contains($0.id) } }
    }

    /// A call as the same call again: its name, and its arguments compared as JSON (members in any
    /// order, numbers by value).
    struct CallKey: Equatable {
        let name: String
        let arguments: JSONValue

        init(_ call: ToolCall) {
            name = call.name
            arguments = (try? JSONValue.parse(call.arguments)) ?? .string(call.arguments)
        }
    }
}

extension Assistant {
    /// After results: back to the question, so that a small model answers it rather than echoing.
    static func followUp(_ question: String) -> String {
        question.isEmpty ? "Using this, answer." : "Using this, answer the question: \(question)"
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
