// Instant mode with a direct completion's options, on scripted models: choices decoded together,
// tokens passed on only when asked, calls to the caller's tools handed back, and a call the
// conversation already answered not asked for again.
import Foundation
import MuseCore
import Synchronization
import Testing
@testable import MuseAgents

/// Replies by seed (so that choices differ) and by step; records batched and single requests.
final class ChoiceModel: LanguageModel, Sendable {
    let name = "choices"
    let reply: @Sendable (_ seed: UInt64, _ step: Int, _ messages: [ChatMessage]) -> String
    let batches = Mutex<[Int]>([])
    let requests = Mutex<[GenerationRequest]>([])

    init(_ reply: @escaping @Sendable (UInt64, Int, [ChatMessage]) -> String) { self.reply = reply }

    func generate(_ request: GenerationRequest, count: Int) -> [AsyncThrowingStream<GenerationEvent, any Error>] {
        batches.withLock { $0.append(count) }
        return (0..<count).map { i in
            var one = request
            one.sampling.seed = (request.sampling.seed ?? 0) &+ UInt64(i)
            return generate(one)
        }
    }

    func generate(_ request: GenerationRequest) -> AsyncThrowingStream<GenerationEvent, any Error> {
        let step = requests.withLock { $0.append(request); return $0.count - 1 }
        var messages: [ChatMessage] = []
        if case .chat(let m) = request.prompt { messages = m }
        var text = reply(request.sampling.seed ?? 0, step, messages)
        for stop in request.stop { if let r = text.range(of: stop) { text = String(text[..<r.lowerBound]) } }
        return AsyncThrowingStream { continuation in
            for (i, character) in text.enumerated() {
                continuation.yield(.token(GeneratedToken(id: Int32(i), logprob: request.logprobs ? -Float(i) : nil, topLogprobs: [])))
                continuation.yield(.text(String(character)))
            }
            continuation.yield(.finished(.stop, Usage(promptTokens: 7, completionTokens: text.count),
                                         Timings(promptSeconds: 0, generationSeconds: 0, promptTokens: 7, generatedTokens: text.count)))
            continuation.finish()
        }
    }
}

/// Every event of an instant answer.
func collect(_ stream: AsyncThrowingStream<InstantEvent, any Error>) async throws -> [InstantEvent] {
    var events: [InstantEvent] = []
    for try await event in stream { events.append(event) }
    return events
}

let weather = DeclaredTool(name: "get_weather", description: "The weather in a city.",
                           parametersSchema: #"{"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}"#)

/// A tool run here, which records what it was given.
final class Notes: Tool {
    let name = "note"
    let description = "Keeps a note."
    let parametersSchema = #"{"type": "object", "properties": {"text": {"type": "string"}}}"#
    let written = Mutex<[String]>([])
    func call(arguments: String) async throws -> String {
        written.withLock { $0.append(arguments) }
        return "noted"
    }
}

@Suite struct InstantTests {
    @Test func choicesAreDecodedTogetherAndEachStreamsItsOwnAnswer() async throws {
        let model = ChoiceModel { seed, _, _ in "answer \(seed)" }
        var sampling = SamplingParameters.greedy
        sampling.seed = 40
        let assistant = Assistant(model: model, sampling: sampling)
        let events = try await collect(assistant.answer([.user("hi")], options: InstantOptions(choices: 3)))
        #expect(model.batches.withLock { $0 } == [3], "one batched generation for the three")
        for choice in 0..<3 {
            let text = events.compactMap { if case .text(choice, let t) = $0 { t } else { nil } }.joined()
            #expect(text == "answer \(40 + choice)")
        }
        let ends = events.compactMap { if case .finished(let c) = $0 { c } else { nil } }
        #expect(ends.map(\.index).sorted() == [0, 1, 2] && ends.allSatisfy { $0.ending == .stop && $0.calls.isEmpty })
        #expect(events.contains { if case .token = $0 { true } else { false } } == false, "no tokens unless asked")
        guard case .usage(let usage)? = events.last else { Issue.record("usage comes last"); return }
        #expect(usage == Usage(promptTokens: 7, completionTokens: 3 * 9), "the prompt counted once")
    }

    @Test func tokensComeWithTheirLogprobsWhenAsked() async throws {
        let model = ChoiceModel { _, _, _ in "abc" }
        let assistant = Assistant(model: model, sampling: .greedy)
        let events = try await collect(assistant.answer([.user("hi")], options: InstantOptions(logprobs: true, topLogprobs: 2)))
        let tokens = events.compactMap { if case .token(0, let t) = $0 { t } else { nil } }
        #expect(tokens.map(\.logprob) == [0, -1, -2])
        let request = try #require(model.requests.withLock { $0.first })
        #expect(request.logprobs && request.topLogprobs == 2)
    }

    @Test func aRawPromptIsUsedAsItIsWithoutTools() async throws {
        let model = ChoiceModel { _, _, _ in "tail" }
        let assistant = Assistant(model: model, sampling: .greedy, tools: ToolSettings(tools: [weather], choice: .auto))
        _ = try await collect(assistant.answer([], options: InstantOptions(stop: ["x"], prompt: "Once upon")))
        let request = try #require(model.requests.withLock { $0.first })
        guard case .text(let text) = request.prompt else { Issue.record("not the raw text"); return }
        #expect(text == "Once upon" && request.tools.isEmpty && request.stop == ["x"])
    }

    @Test func aCallToTheCallersToolEndsTheAnswerAndIsHandedBack() async throws {
        let model = ChoiceModel { _, _, _ in "Let me look." + hermes("get_weather", #"{"city": "Paris"}"#) }
        let assistant = Assistant(model: model, sampling: .greedy, tools: ToolSettings(tools: [weather], choice: .auto))
        let events = try await collect(assistant.answer([.user("Weather in Paris?")]))
        let end = try #require(events.compactMap { if case .finished(let c) = $0 { c } else { nil } }.first)
        #expect(end.ending == .toolCalls && end.answer == "Let me look.")
        #expect(end.calls.map(\.name) == ["get_weather"] && end.calls[0].arguments == #"{"city":"Paris"}"#)
        #expect(end.calls[0].id.hasPrefix("call_") && end.toolCallsRun == 0)
        let streamed = events.compactMap { if case .text(0, let t) = $0 { t } else { nil } }.joined()
        #expect(streamed == "Let me look.", "the call's text is held back")
        #expect(model.requests.withLock { $0.count } == 1, "nothing runs the call here")
        // Ids differ from one answer to the next, so that a conversation's calls stay apart.
        let again = try await collect(assistant.answer([.user("Weather in Paris?")]))
        let second = try #require(again.compactMap { if case .finished(let c) = $0 { c } else { nil } }.first)
        #expect(second.calls[0].id != end.calls[0].id)
    }

    @Test func aCallTheConversationAnsweredIsNotAskedForAgain() async throws {
        // The model asks again for what the conversation's tool message answered (its arguments
        // written in another order and spacing): it then answers from that result, without tools.
        let model = ChoiceModel { _, step, messages in
            step == 0 ? hermes("get_weather", #"{"unit":"C","city":"Paris"}"#)
                      : (messages.contains { $0.text.contains("sunny") } ? "Sunny in Paris." : "no result seen")
        }
        let assistant = Assistant(model: model, sampling: .greedy, tools: ToolSettings(tools: [weather], choice: .auto))
        let conversation: [ChatMessage] = [
            .user("Weather in Paris?"),
            ChatMessage(role: .assistant, content: [], toolCalls: [ToolCall(id: "c1", name: "get_weather", arguments: #"{"city": "Paris", "unit": "C"}"#)]),
            ChatMessage(role: .tool, content: [.text("sunny")], toolCallID: "c1"),
        ]
        let events = try await collect(assistant.answer(conversation))
        let end = try #require(events.compactMap { if case .finished(let c) = $0 { c } else { nil } }.first)
        #expect(end.ending == .stop && end.calls.isEmpty && end.answer == "Sunny in Paris.")
        let requests = model.requests.withLock { $0 }
        #expect(requests.count == 2 && requests[1].stop == ["<tool_call>"], "the second reply is offered no tools")
        // A different call is handed back.
        let other = ChoiceModel { _, _, _ in hermes("get_weather", #"{"city": "Rome"}"#) }
        let fresh = try await collect(Assistant(model: other, sampling: .greedy, tools: ToolSettings(tools: [weather], choice: .auto))
            .answer(conversation))
        #expect(fresh.contains { if case .finished(let c) = $0 { c.calls.map(\.arguments) == [#"{"city":"Rome"}"#] } else { false } })
    }

    @Test func callsRunHereRunBeforeTheCallersAreHandedBack() async throws {
        let model = ChoiceModel { _, _, _ in
            hermes("note", #"{"text": "Paris"}"#) + "\n" + hermes("get_weather", #"{"city": "Paris"}"#)
        }
        let notes = Notes()
        let assistant = Assistant(model: model, sampling: .greedy, tools: ToolSettings(tools: [weather, notes], choice: .auto))
        let events = try await collect(assistant.answer([.user("Weather in Paris?")]))
        let end = try #require(events.compactMap { if case .finished(let c) = $0 { c } else { nil } }.first)
        #expect(end.ending == .toolCalls && end.calls.map(\.name) == ["get_weather"] && end.toolCallsRun == 1)
        #expect(notes.written.withLock { $0 } == [#"{"text":"Paris"}"#])
    }

    @Test func theModeRunReportsCallsForTheCaller() async throws {
        let model = ChoiceModel { _, _, _ in hermes("get_weather", #"{"city": "Oslo"}"#) }
        let assistant = Assistant(model: model, sampling: .greedy, tools: ToolSettings(tools: [weather], choice: .required))
        let (_, result) = try await collect(assistant.run([.user("Oslo?")], mode: .instant))
        #expect(result.callsToRun.map(\.name) == ["get_weather"] && result.toolCalls == 0 && result.answer.isEmpty)
    }
}
