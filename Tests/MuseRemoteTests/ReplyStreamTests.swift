// Streams as servers send them, turned into events: reasoning and structured tool calls passed
// through as their own events, choices dealt out by index, usage, and clear errors.
import Foundation
import MuseAgents
import MuseCore
import Testing
@testable import MuseRemote

/// What one choice's events add up to.
struct Outcome: Equatable {
    var text = ""
    var reasoning = ""
    var calls: [ToolCall] = []
    var tokens: [Int32] = []
    var finish: FinishReason?
    var usage: Usage?
}

func outcomes(_ events: [(Int, GenerationEvent)], count: Int) -> [Outcome] {
    var out = Array(repeating: Outcome(), count: count)
    for (index, event) in events {
        switch event {
        case .text(let text): out[index].text += text
        case .reasoning(let text): out[index].reasoning += text
        case .toolCalls(let calls): out[index].calls += calls
        case .token(let token): out[index].tokens.append(token.id)
        case let .finished(reason, usage, _):
            out[index].finish = reason
            out[index].usage = usage
        }
    }
    return out
}

/// The stream fed in two pieces cut at byte `cut` (whole when nil), then finished.
func replay(_ stream: String, count: Int = 1, cut: Int? = nil, vocabulary: RemoteVocabulary? = nil) throws(RemoteModelError) -> [Outcome] {
    var reply = ReplyStream(count: count, start: .now, vocabulary: vocabulary)
    let bytes = Array(stream.utf8)
    let at = cut ?? bytes.count
    var events = try reply.feed(bytes[..<at])
    events += try reply.feed(bytes[at...])
    events += try reply.finish(url: "http://server/v1/chat/completions")
    return outcomes(events, count: count)
}

func sse(_ payloads: [String]) -> String {
    payloads.map { "data: \($0)\n\n" }.joined()
}

@Suite struct ReplyStreamTests {
    static let reasoning = sse([
        #"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}"#,
        #"{"choices":[{"index":0,"delta":{"reasoning_content":"Six times"},"finish_reason":null}]}"#,
        #"{"choices":[{"index":0,"delta":{"reasoning":" seven…"},"finish_reason":null}]}"#,
        #"{"choices":[{"index":0,"delta":{"content":"It is "},"finish_reason":null}]}"#,
        #"{"choices":[{"index":0,"delta":{"content":"42."},"finish_reason":null}]}"#,
        #"{"choices":[{"index":0,"delta":{},"finish_reason":"length"}]}"#,
        #"{"choices":[],"usage":{"prompt_tokens":12,"completion_tokens":9,"total_tokens":21}}"#,
        "[DONE]",
    ]) + ": trailing comment\n"

    @Test func passesTheReasoningFieldThroughApartFromTheAnswer() throws {
        let out = try replay(Self.reasoning)
        // Each reasoning piece counts as a token, for Thinking's budget.
        #expect(out == [Outcome(text: "It is 42.", reasoning: "Six times seven…", tokens: [-1, -1], finish: .length,
                                usage: Usage(promptTokens: 12, completionTokens: 9))])
    }

    @Test func givesTheSameReplyWhereverTheStreamIsCut() throws {
        let whole = try replay(Self.reasoning)
        for cut in 0...Self.reasoning.utf8.count {
            #expect(try replay(Self.reasoning, cut: cut) == whole, "cut at byte \(cut)")
        }
    }

    @Test func anOversizedEventLineIsRefusedWithTheLimit() throws {
        var reply = ReplyStream(count: 1, start: .now, vocabulary: nil, maxLineBytes: 64)
        let long = "data: " + String(repeating: "x", count: 100) + "\n\n"
        #expect(throws: RemoteModelError.eventTooLarge(limit: 64)) { try reply.feed(Array(long.utf8)) }
    }

    @Test func toleratesCRLFAndKeepAliveComments() throws {
        let crlf = Self.reasoning.replacingOccurrences(of: "\n", with: "\r\n")
        #expect(try replay(": ping\r\n\r\n" + crlf) == replay(Self.reasoning))
    }

    @Test func reasoningThatNoAnswerFollowedIsReasoningAlone() throws {
        let out = try replay(sse([#"{"choices":[{"index":0,"delta":{"reasoning_content":"hmm"},"finish_reason":"stop"}]}"#, "[DONE]"]))
        #expect(out[0].text == "")
        #expect(out[0].reasoning == "hmm")
        #expect(out[0].finish == .stop)
    }

    @Test func gathersStructuredToolCallsByIndexIntoOneEvent() throws {
        let stream = sse([
            #"{"choices":[{"index":0,"delta":{"content":"Let me check."},"finish_reason":null}]}"#,
            #"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"calculator","arguments":""}}]},"finish_reason":null}]}"#,
            #"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"datetime","arguments":""}}]},"finish_reason":null}]}"#,
            #"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"expression\": "}}]},"finish_reason":null}]}"#,
            #"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"6*7\"}"}}]},"finish_reason":null}]}"#,
            #"{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
            "[DONE]",
        ])
        let out = try replay(stream)
        #expect(out[0].finish == .stop)
        #expect(out[0].text == "Let me check.")
        // The server's ids and argument text as sent; a call sent without arguments has `{}`.
        #expect(out[0].calls == [ToolCall(id: "call_a", name: "calculator", arguments: #"{"expression": "6*7"}"#),
                                 ToolCall(id: "call_b", name: "datetime", arguments: "{}")])
    }

    @Test func theToolLoopReadsStructuredCallsAndReportsBrokenArguments() throws {
        let turn = ToolTurn(conversation: [.user("6*7?")], tools: [DeclaredTool(name: "calculator", description: "",
                                                                                  parametersSchema: #"{"type": "object"}"#)],
                            choice: .auto, format: .hermes, parallelCalls: true, useModelTemplate: false, model: NoModel())
        let parsed = turn.read("Let me check.", structured: [ToolCall(id: "call_a", name: "calculator", arguments: #"{"expression": "6*7"}"#),
                                                             ToolCall(id: "call_b", name: "calculator", arguments: #"{"expression": "#)],
                               idPrefix: "call_")
        #expect(parsed.content == "Let me check.")
        #expect(parsed.calls.map(\.id) == ["call_a"])
        #expect(parsed.errors.count == 1)
    }

    @Test func dealsChoicesOutByIndexAndSharesTheUsage() throws {
        let stream = sse([
            #"{"choices":[{"index":1,"delta":{"content":"B1"},"finish_reason":null}]}"#,
            #"{"choices":[{"index":0,"delta":{"content":"A1"},"finish_reason":null}]}"#,
            #"{"choices":[{"index":1,"delta":{"content":"B2"},"finish_reason":null}]}"#,
            #"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
            #"{"choices":[{"index":1,"delta":{"content":"B3"},"finish_reason":"length"}]}"#,
            #"{"choices":[],"usage":{"prompt_tokens":4,"completion_tokens":8}}"#,
            "[DONE]",
        ])
        let out = try replay(stream, count: 2)
        #expect(out.map(\.text) == ["A1", "B1B2B3"])
        #expect(out.map(\.finish) == [.stop, .length])
        #expect(out.map(\.usage) == [Usage(promptTokens: 4, completionTokens: 2), Usage(promptTokens: 4, completionTokens: 6)])
    }

    @Test func readsTextCompletionChunks() throws {
        let stream = sse([
            #"{"id":"t","object":"text_completion","created":1,"model":"m","choices":[{"index":0,"text":" east","finish_reason":null,"logprobs":null}]}"#,
            #"{"choices":[{"index":0,"text":".","finish_reason":"stop"}]}"#,
            "[DONE]",
        ])
        #expect(try replay(stream)[0].text == " east.")
    }

    @Test func turnsLogprobsIntoTokensWhoseTextCanBeLookedUp() throws {
        let vocabulary = RemoteVocabulary()
        let stream = sse([
            #"{"choices":[{"index":0,"delta":{"content":"Hi"},"logprobs":{"content":[{"token":"Hi","logprob":-0.5,"top_logprobs":[{"token":"Hi","logprob":-0.5},{"token":"Hello","logprob":-1.5}]}]},"finish_reason":null}]}"#,
            #"{"choices":[{"index":0,"delta":{"content":"!"},"logprobs":{"content":[{"token":"!","logprob":-0.1,"top_logprobs":[]}]},"finish_reason":"stop"}]}"#,
            "[DONE]",
        ])
        let out = try replay(stream, vocabulary: vocabulary)
        #expect(out[0].tokens.map { vocabulary.text($0) } == ["Hi", "!"])
        #expect(vocabulary.text(vocabulary.id("Hello")) == "Hello")
    }

    @Test func readsAWholeResponseFromAServerThatDidNotStream() throws {
        var reply = ReplyStream(count: 1, start: .now, vocabulary: nil)
        let body = #"{"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":null,"tool_calls":[{"id":"x","type":"function","function":{"name":"units","arguments":"{\"value\": 1}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":3,"completion_tokens":5}}"#
        var events = try reply.feedWhole(Array(body.utf8))
        events += try reply.finish(url: "u")
        let out = outcomes(events, count: 1)
        #expect(out[0].calls == [ToolCall(id: "x", name: "units", arguments: #"{"value": 1}"#)])
        #expect(out[0].usage == Usage(promptTokens: 3, completionTokens: 5))
    }

    @Test func anErrorEventInTheStreamIsThrownWithItsMessage() throws {
        let stream = sse([
            #"{"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}"#,
            #"{"error":{"message":"the request took too long","type":"timeout_error","param":null,"code":null}}"#,
            "[DONE]",
        ])
        #expect(throws: RemoteModelError.stream(message: "the request took too long", type: "timeout_error")) { try replay(stream) }
        #expect(throws: RemoteModelError.stream(message: "overloaded", type: nil)) { try replay(sse([#"{"error": "overloaded"}"#])) }
        #expect(throws: RemoteModelError.stream(message: "gone", type: nil)) { try replay("event: error\ndata: gone\n\n") }
        #expect(throws: RemoteModelError.stream(message: "busy", type: "overloaded_error")) {
            try replay(#"event: error\#ndata: {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}\#n\#n"#)
        }
    }

    @Test func malformedJSONIsAClearError() throws {
        let error = try #require(throws: RemoteModelError.self) { try replay(sse([#"{"choices": [{"delta": {"content": "Hi"}"#])) }
        #expect(error == .malformedEvent(excerpt: #"{"choices": [{"delta": {"content": "Hi"}"#, reason: "not valid JSON"))
        #expect(error.description.contains("not a valid completion chunk"))
        let typed = try #require(throws: RemoteModelError.self) { try replay(sse([#"{"choices": [{"delta": {"content": 5}}]}"#])) }
        guard case .malformedEvent(_, let reason) = typed else { Issue.record("\(typed)"); return }
        #expect(reason.contains("content"))
    }

    @Test func aStreamCutOffBeforeItsEndIsAnError() throws {
        let cut = sse([#"{"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}"#])
        #expect(throws: RemoteModelError.truncated(url: "http://server/v1/chat/completions")) { try replay(cut) }
        // Every choice finished: whole, even without [DONE].
        let finished = sse([#"{"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":"stop"}]}"#])
        #expect(try replay(finished)[0] == Outcome(text: "Hi", finish: .stop, usage: Usage(promptTokens: 0, completionTokens: 1)))
    }
}

/// A model that is never asked for anything: for building a tool turn.
private struct NoModel: LanguageModel {
    let name = "none"
    func generate(_ request: GenerationRequest) -> AsyncThrowingStream<GenerationEvent, any Error> {
        AsyncThrowingStream { $0.finish() }
    }
}
