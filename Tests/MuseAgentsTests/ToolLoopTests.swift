// The tool loop on scripted models: forced calls are constrained, calls run (at once) and their
// results reach the model, errors become results, and the step limit holds.
import Foundation
import MuseCore
import Synchronization
import Testing
@testable import MuseAgents
@testable import MuseTools

/// Replies from a script indexed by step; records every request.
final class StepModel: LanguageModel, Sendable {
    let name = "steps"
    let replies: @Sendable (Int, [ChatMessage]) -> String
    let requests = Mutex<[GenerationRequest]>([])

    init(_ replies: @escaping @Sendable (Int, [ChatMessage]) -> String) { self.replies = replies }

    func generate(_ request: GenerationRequest) -> AsyncThrowingStream<GenerationEvent, any Error> {
        let step = requests.withLock { $0.append(request); return $0.count - 1 }
        guard case .chat(let messages) = request.prompt else { return AsyncThrowingStream { $0.finish() } }
        var text = replies(step, messages)
        for stop in request.stop { if let r = text.range(of: stop) { text = String(text[..<r.lowerBound]) } }
        return AsyncThrowingStream { continuation in
            // In pieces of three characters: the loop must cope with text cut anywhere.
            var rest = Substring(text)
            while !rest.isEmpty {
                continuation.yield(.text(String(rest.prefix(3))))
                rest = rest.dropFirst(3)
            }
            continuation.yield(.finished(.stop, Usage(promptTokens: 5, completionTokens: 5),
                                         Timings(promptSeconds: 0, generationSeconds: 0, promptTokens: 5, generatedTokens: 5)))
            continuation.finish()
        }
    }

    var recorded: [GenerationRequest] { requests.withLock { $0 } }
}

/// When calls ran.
final class Spans: Sendable {
    let list = Mutex<[(ContinuousClock.Instant, ContinuousClock.Instant)]>([])
}

/// A tool that records when it ran, sleeping first.
struct SlowTool: Tool {
    let name: String
    let description = "waits, then answers"
    let parametersSchema = #"{"type": "object", "properties": {}}"#
    let delay: Duration
    let spans: Spans

    func call(arguments: String) async throws -> String {
        let start = ContinuousClock.now
        try await Task.sleep(for: delay)
        spans.list.withLock { $0.append((start, .now)) }
        return "\(name) done"
    }
}

/// Never answers, and ignores cancellation (suspended for good, holding no thread).
struct HangingTool: Tool {
    let name = "hang"
    let description = "never returns"
    let parametersSchema = #"{"type": "object", "properties": {}}"#
    func call(arguments: String) async throws -> String {
        await withUnsafeContinuation { (_: UnsafeContinuation<Void, Never>) in }
        return "unreachable"
    }
}

struct BrokenTool: Tool {
    let name = "broken"
    let description = "always fails"
    let parametersSchema = #"{"type": "object", "properties": {}}"#
    func call(arguments: String) async throws -> String { throw ToolError.failed("the disk is on fire") }
}

func hermes(_ name: String, _ arguments: String = "{}") -> String {
    "<tool_call>\n{\"name\": \"\(name)\", \"arguments\": \(arguments)}\n</tool_call>"
}

@Suite struct ToolLoopTests {
    @Test func aRequiredCallIsConstrainedRunAndItsResultAnswered() async throws {
        let model = StepModel { step, messages in
            step == 0 ? hermes("calculator", #"{"expression": "12.5% of 3,480"}"#)
                      : (messages.last!.text.contains("435") ? "12.5% of 3,480 is 435." : "I do not know.")
        }
        let assistant = Assistant(model: model, sampling: .greedy, tools: ToolSettings(tools: [Calculator()], choice: .required))
        let (events, result) = try await collect(assistant.run([.user("What is 12.5% of 3,480?")], mode: .instant))
        #expect(result.answer == "12.5% of 3,480 is 435.")
        #expect(result.toolCalls == 1)
        let requests = model.recorded
        #expect(requests.count == 2)
        #expect(requests[0].format == ToolCallFormat.hermes.callConstraint(tools: [Calculator()], parallel: true))
        #expect(requests[1].format == nil, "after the forced call the model may answer")
        let calls = events.compactMap { if case .toolCall(_, let c) = $0 { c } else { nil } }
        let results = events.compactMap { if case .toolResult(_, let r) = $0 { r } else { nil } }
        #expect(calls.map(\.name) == ["calculator"])
        #expect(results.map(\.content) == ["435"] && results[0].callID == calls[0].id && !results[0].isError)
        // The call's text is not streamed as answer; the answer is.
        let streamed = events.compactMap { if case .answer(nil, let t) = $0 { t } else { nil } }.joined()
        #expect(streamed == "12.5% of 3,480 is 435.")
    }

    @Test func parallelCallsRunAtOnce() async throws {
        let spans = Spans()
        let tools: [any Tool] = [SlowTool(name: "a", delay: .milliseconds(300), spans: spans),
                                 SlowTool(name: "b", delay: .milliseconds(300), spans: spans)]
        let model = StepModel { step, _ in step == 0 ? hermes("a") + "\n" + hermes("b") : "both done" }
        let assistant = Assistant(model: model, sampling: .greedy, tools: ToolSettings(tools: tools, choice: .auto))
        let (_, result) = try await collect(assistant.run([.user("go")], mode: .instant))
        #expect(result.answer == "both done" && result.toolCalls == 2)
        let s = spans.list.withLock { $0 }
        try #require(s.count == 2)
        #expect(s[0].0 < s[1].1 && s[1].0 < s[0].1, "the two calls' spans overlap")
    }

    @Test func failuresBecomeResultsTheModelReads() async throws {
        let model = StepModel { step, messages in
            switch step {
            case 0: hermes("broken") + "\n" + hermes("nosuchtool") + "\n<tool_call>\n{\"name\": \"broken\", \"arguments\": [1]}\n</tool_call>"
            default: messages.last!.text.contains("tool call 3") ? "recovered" : "the error was lost"
            }
        }
        let assistant = Assistant(model: model, sampling: .greedy, tools: ToolSettings(tools: [BrokenTool()], choice: .auto))
        let (events, result) = try await collect(assistant.run([.user("try")], mode: .instant))
        let results = events.compactMap { if case .toolResult(_, let r) = $0 { r } else { nil } }
        #expect(results.count == 2 && results.allSatisfy(\.isError))
        #expect(results[0].content.contains("the disk is on fire"))
        #expect(results[1].content.contains("no tool named \\\"nosuchtool\\\"") || results[1].content.contains("no tool named \"nosuchtool\""))
        // The malformed third call's error went back too, and the trace says so.
        #expect(result.answer == "recovered")
        let unreadable = events.compactMap { if case .unreadableToolCall(nil, let e) = $0 { e } else { nil } }
        #expect(unreadable.count == 1 && unreadable[0].contains("tool call 3"), "\(unreadable)")
    }

    @Test func aHangingToolTimesOut() async throws {
        let model = StepModel { step, messages in step == 0 ? hermes("hang") : messages.last!.text }
        let settings = ToolSettings(tools: [HangingTool()], choice: .required, timeout: .milliseconds(200))
        let assistant = Assistant(model: model, sampling: .greedy, tools: settings)
        let (events, result) = try await collect(assistant.run([.user("wait")], mode: .instant))
        let results = events.compactMap { if case .toolResult(_, let r) = $0 { r } else { nil } }
        #expect(results.first?.isError == true)
        #expect(results.first?.content.contains("did not answer within") == true)
        #expect(result.answer.contains("The hang tool failed"), "the model read the failure")
    }

    @Test func theStepLimitHoldsAndTheLastStepAnswersWithoutTools() async throws {
        // A model that calls forever, with different arguments each time.
        let model = StepModel { step, _ in hermes("calculator", "{\"expression\": \"\(step)+1\"}") + " and more" }
        let assistant = Assistant(model: model, sampling: .greedy, tools: ToolSettings(tools: [Calculator()], choice: .auto, maxSteps: 3))
        let (_, result) = try await collect(assistant.run([.user("count")], mode: .instant))
        let requests = model.recorded
        #expect(requests.count == 3)
        #expect(result.toolCalls == 2)
        #expect(requests[2].stop == ["<tool_call>"], "the last step stops at a call")
        #expect(result.answer.isEmpty)
    }

    @Test func repeatingTheSameCallEndsTheCalling() async throws {
        // The same call twice in one reply, then again in the next: it runs once.
        let call = hermes("calculator", #"{"expression": "2+2"}"#)
        let model = StepModel { step, _ in step < 2 ? call + "\n" + call : "4" }
        let assistant = Assistant(model: model, sampling: .greedy, tools: ToolSettings(tools: [Calculator()], choice: .auto, maxSteps: 5))
        let (_, result) = try await collect(assistant.run([.user("2+2?")], mode: .instant))
        #expect(result.toolCalls == 1 && result.answer == "4")
        #expect(model.recorded.count == 3)
        #expect(model.recorded[2].stop == ["<tool_call>"], "answered without tools")
    }

    @Test func afterAForcedRoundTheModelAnswersWithoutTools() async throws {
        let model = StepModel { step, _ in step == 0 ? hermes("calculator", #"{"expression": "6*7"}"#) : "42" }
        let assistant = Assistant(model: model, sampling: .greedy, tools: ToolSettings(tools: [Calculator()], choice: .required))
        let (_, result) = try await collect(assistant.run([.system("Be brief."), .user("6*7?")], mode: .instant))
        #expect(result.answer == "42")
        let second = try #require(model.recorded.last)
        #expect(second.format == nil && second.stop == ["<tool_call>"])
        guard case .chat(let messages) = second.prompt else { Issue.record("not a chat"); return }
        #expect(messages[0].text == "Be brief.", "the tools are no longer offered")
        #expect(messages.last?.text.contains("The calculator tool returned: 42") == true)
    }

    @Test func aNamedChoiceOffersOnlyThatTool() async throws {
        let model = StepModel { step, _ in step == 0 ? hermes("datetime", #"{"operation": "now"}"#) : "done" }
        let settings = ToolSettings(tools: [Calculator(), DateTimeTool()], choice: .function("datetime"))
        let assistant = Assistant(model: model, sampling: .greedy, tools: settings)
        _ = try await collect(assistant.run([.user("time?")], mode: .instant))
        let first = model.recorded[0]
        #expect(first.format == ToolCallFormat.hermes.callConstraint(tools: [DateTimeTool()], parallel: true))
        guard case .chat(let messages) = first.prompt else { Issue.record("not a chat"); return }
        #expect(messages[0].text.contains("\"datetime\"") && !messages[0].text.contains("\"calculator\""))
    }

    @Test func aFencedJSONCallRunsAndItsResultReachesTheNextTurn() async throws {
        // A small model's habit: the call as a fenced JSON object, not in the format's tags.
        let fenced = "```json\n{\n  \"name\": \"calculator\",\n  \"arguments\": {\n    \"expression\": \"12.5% of 3480\"\n  }\n}\n```"
        let model = StepModel { step, messages in
            step == 0 ? fenced : (messages.last!.text.contains("The calculator tool returned: 435") ? "It is 435." : "I do not know.")
        }
        let assistant = Assistant(model: model, sampling: .greedy, tools: ToolSettings(tools: [Calculator()], choice: .auto))
        let (events, result) = try await collect(assistant.run([.user("What is 12.5% of 3480?")], mode: .instant))
        #expect(result.answer == "It is 435." && result.toolCalls == 1)
        let calls = events.compactMap { if case .toolCall(_, let c) = $0 { c } else { nil } }
        #expect(calls.map(\.arguments) == [#"{"expression":"12.5% of 3480"}"#])
        #expect(events.allSatisfy { if case .unreadableToolCall = $0 { false } else { true } })
        // The call was not streamed as answer text, and the model sees it back in the format's tags.
        let streamed = events.compactMap { if case .answer(nil, let t) = $0 { t } else { nil } }.joined()
        #expect(streamed == "It is 435.")
        guard case .chat(let second) = try #require(model.recorded.last).prompt else { Issue.record("not a chat"); return }
        #expect(second.contains { $0.role == .assistant && $0.text == ToolCallFormat.hermes.renderCall(calls) })
    }

    @Test func theGatePassesTextUntilACallStarts() {
        let text = "Let me check. <tool_call>\n{\"name\": \"x\"}\n</tool_call>"
        for cut in 0...text.count {
            var gate = CallGate(prefix: "<tool_call>")
            let out = gate.feed(String(text.prefix(cut))) + gate.feed(String(text.dropFirst(cut))) + gate.flush()
            #expect(out == "Let me check. ", "cut at \(cut)")
        }
        var gate = CallGate(prefix: "<tool_call>")
        #expect(gate.feed("a <tool") == "a ")
        #expect(gate.feed("box>") == "<toolbox>")
    }

    @Test func spawnAgentsRunsThePartsAtOnceAndReturnsTheirResults() async throws {
        let call = hermes("spawn_agents", #"{"tasks": [{"role": "researcher", "task": "find flights"}, {"role": "writer", "task": "draft the plan"}]}"#)
        let model = ScriptedModel(delay: .milliseconds(200)) { messages in
            let system = messages.first?.text ?? ""
            if system.hasPrefix("You are the researcher") { return "flights on Friday" }
            if system.hasPrefix("You are the writer") { return "plan drafted" }
            if let last = messages.last?.text, last.contains("The spawn_agents tool returned") {
                return last.contains("[researcher] flights on Friday") && last.contains("[writer] plan drafted") ? "all parts in" : "parts missing"
            }
            return call
        }
        var assistant = Assistant(model: model, sampling: .greedy)
        let base = assistant
        assistant.tools = ToolSettings(tools: [SpawnAgentsTool(assistant: base, limits: SubAgentLimits(maxAgents: 3, maxTokens: 32))],
                                       choice: .required)
        let (events, result) = try await collect(assistant.run([.user("Plan a trip.")], mode: .instant))
        #expect(result.answer == "all parts in")
        let started = events.compactMap { if case .subtaskStarted(_, let role, _) = $0 { role } else { nil } }
        let finished = events.compactMap { if case .subtaskFinished(let r) = $0 { r.role } else { nil } }
        #expect(started == ["researcher", "writer"] && Set(finished) == ["researcher", "writer"])
        // The two sub-agents' generations overlapped in time.
        let spans = model.spans.withLock { $0 }.sorted { $0.start < $1.start }
        try #require(spans.count >= 3)
        #expect(spans[1].start < spans[0].end || spans[2].start < spans[1].end)
    }

    @Test func spawnAgentsRefusesBadArguments() async throws {
        let tool = SpawnAgentsTool(assistant: Assistant(model: ScriptedModel { _ in "" }))
        await #expect(throws: ToolError.self) { _ = try await tool.call(arguments: #"{"tasks": []}"#) }
        await #expect(throws: ToolError.self) { _ = try await tool.call(arguments: #"{"tasks": [{"role": "", "task": "x"}]}"#) }
        #expect(tool.parametersSchema.contains("\"maxItems\": 4"))
    }
}

/// A model whose chat template renders tools itself, in Hermes style.
final class TemplateToolModel: LanguageModel, Sendable {
    let name = "template-tools"
    var toolCallFormat: ToolCallFormat? { .hermes }
    let inner: StepModel
    init(_ inner: StepModel) { self.inner = inner }
    func generate(_ request: GenerationRequest) -> AsyncThrowingStream<GenerationEvent, any Error> { inner.generate(request) }
}

@Suite struct TemplateToolTests {
    @Test func aTemplateThatRendersToolsGetsThemAndTheCallsAsStructuredMessages() async throws {
        let steps = StepModel { step, _ in step == 0 ? hermes("calculator", #"{"expression": "6*7"}"#) : "42" }
        let assistant = Assistant(model: TemplateToolModel(steps), sampling: .greedy,
                                  tools: ToolSettings(tools: [Calculator()], choice: .auto, format: .mistral))
        let (_, result) = try await collect(assistant.run([.user("6*7?")], mode: .instant))
        #expect(result.answer == "42" && result.toolCalls == 1)
        let requests = steps.recorded
        // The tools go to the template, not into the system prompt; the model's own format wins.
        #expect(requests[0].tools.map(\.name) == ["calculator"])
        guard case .chat(let first) = requests[0].prompt, case .chat(let second) = requests[1].prompt else {
            Issue.record("not chats"); return
        }
        #expect(first.map(\.role) == [.user])
        #expect(second.map(\.role) == [.user, .assistant, .tool])
        #expect(second[1].toolCalls.map(\.name) == ["calculator"])
        #expect(second[2].text == "42" && second[2].toolCallID == second[1].toolCalls[0].id)
    }
}
