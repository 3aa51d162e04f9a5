// Calls taken out of a model's text as it streams, cut anywhere: prose passes, a call's text never
// does, and the calls come as one event before the end; calls that cannot be read come back as text.
import MuseCore
import Testing

@Suite struct ToolCallReaderTests {
    static let calculator = ToolSpec(name: "calculator", description: "Exact arithmetic",
                                     parametersSchema: #"{"type": "object", "properties": {"expression": {"type": "string"}}, "required": ["expression"]}"#)

    /// `text` streamed in pieces of `size` characters through the reader, and what came out.
    static func read(_ text: String, size: Int, format: ToolCallFormat = .hermes) async throws -> [GenerationEvent] {
        let source = AsyncThrowingStream<GenerationEvent, any Error> { continuation in
            var rest = Substring(text)
            while !rest.isEmpty {
                continuation.yield(.text(String(rest.prefix(size))))
                rest = rest.dropFirst(size)
            }
            continuation.yield(.finished(.stop, Usage(promptTokens: 1, completionTokens: 1),
                                         Timings(promptSeconds: 0, generationSeconds: 0, promptTokens: 1, generatedTokens: 1)))
            continuation.finish()
        }
        var events: [GenerationEvent] = []
        for try await event in ToolCallReader.read(source, format: format, tools: [calculator]) { events.append(event) }
        return events
    }

    static func text(_ events: [GenerationEvent]) -> String {
        events.map { if case .text(let t) = $0 { t } else { "" } }.joined()
    }

    static func calls(_ events: [GenerationEvent]) -> [ToolCall] {
        events.flatMap { event -> [ToolCall] in if case .toolCalls(let c) = event { c } else { [] } }
    }

    @Test(arguments: [1, 2, 5, 13, 1000])
    func proseStreamsAndTheCallComesAsAnEvent(size: Int) async throws {
        let reply = "Let me work it out.\n<tool_call>\n{\"name\": \"calculator\", \"arguments\": {\"expression\": \"17*23\"}}\n</tool_call>"
        let events = try await Self.read(reply, size: size)
        #expect(Self.text(events).trimmingCharacters(in: .whitespacesAndNewlines) == "Let me work it out.")
        #expect(!Self.text(events).contains("<"), "no part of the call's text is shown")
        let calls = Self.calls(events)
        #expect(calls.map(\.name) == ["calculator"] && calls.map(\.arguments) == [#"{"expression":"17*23"}"#])
        #expect(calls[0].id.hasPrefix("call_"))
        guard events.count >= 2, case .toolCalls = events[events.count - 2], case .finished = events[events.count - 1] else {
            Issue.record("the calls come just before the end: \(events)"); return
        }
    }

    @Test(arguments: [1, 4, 1000])
    func aReplyOfBareJSONCallsIsHeldAndRead(size: Int) async throws {
        let events = try await Self.read("```json\n{\"name\": \"calculator\", \"arguments\": {\"expression\": \"2+2\"}}\n```", size: size)
        #expect(Self.text(events).isEmpty && Self.calls(events).map(\.name) == ["calculator"])
    }

    @Test func proseAfterTheCallsIsKept() async throws {
        let events = try await Self.read("Sure.<tool_call>{\"name\": \"calculator\", \"arguments\": {\"expression\": \"1\"}}</tool_call>\nDone.", size: 3)
        #expect(Self.text(events) == "Sure.\nDone." && Self.calls(events).count == 1)
    }

    @Test(arguments: [1, 7, 1000])
    func callsThatCannotBeReadComeBackAsTextWhole(size: Int) async throws {
        let reply = "Hm.<tool_call>{\"name\": \"calculator\", \"arguments\": {\"expression\": }</tool_call>"
        let events = try await Self.read(reply, size: size)
        #expect(Self.text(events) == reply && Self.calls(events).isEmpty)
    }

    @Test(arguments: [1, 3, 1000])
    func anAnswerWithoutCallsPassesUnchanged(size: Int) async throws {
        for answer in ["17 times 23 is 391.", "{\"result\": 391}", "`code` and <b>tags</b>", ""] {
            let events = try await Self.read(answer, size: size)
            #expect(Self.text(events) == answer && Self.calls(events).isEmpty)
        }
    }
}
