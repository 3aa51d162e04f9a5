// The OpenAI wire types against request and response bodies shaped as real clients send and expect.
import Foundation
import MuseCore
import Testing
@testable import MuseOpenAI

func decode<T: Decodable>(_ type: T.Type, _ json: String) throws -> T {
    try JSONDecoder().decode(type, from: Data(json.utf8))
}

func object(_ value: some Encodable) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(value)) as? [String: Any])
}

@Suite struct WireFormatTests {
    @Test func decodesAFullRequest() throws {
        let r = try decode(ChatCompletionRequest.self, """
            {"model": "muse", "stream": true, "stream_options": {"include_usage": true}, "n": 2, "temperature": 0.5,
             "top_p": 0.9, "max_completion_tokens": 64, "seed": 7, "stop": "END", "presence_penalty": 0.1,
             "logprobs": true, "top_logprobs": 3, "parallel_tool_calls": false, "reasoning_effort": "high",
             "muse": {"mode": "contemplating", "agents": 4, "trace": true},
             "response_format": {"type": "json_schema", "json_schema": {"name": "answer", "schema": {"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}}},
             "tools": [{"type": "function", "function": {"name": "calculator", "description": "math", "parameters": {"type": "object"}}}],
             "tool_choice": {"type": "function", "function": {"name": "calculator"}},
             "messages": [
               {"role": "system", "content": "Be brief."},
               {"role": "user", "content": [{"type": "text", "text": "What is in"}, {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA", "detail": "low"}}]},
               {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "calculator", "arguments": "{\\"x\\": 1}"}}]},
               {"role": "tool", "tool_call_id": "call_1", "content": "2"}
             ]}
            """)
        #expect(r.stream == true && r.streamOptions?.includeUsage == true && r.n == 2)
        #expect(r.stop == .init(["END"]))
        #expect(r.toolChoice == .function("calculator"))
        #expect(r.muse == .init(mode: "contemplating", agents: 4, trace: true))
        #expect(r.responseFormat?.jsonSchema?.name == "answer")
        #expect(r.responseFormat?.jsonSchema?.schema == .object(["type": .string("object"),
                                                                   "properties": .object(["x": .object(["type": .string("integer")])]),
                                                                   "required": .array([.string("x")])]))
        #expect(r.messages.count == 4)
        #expect(r.messages[1].content == .parts([.text("What is in"), .imageURL("data:image/png;base64,AAAA", detail: "low")]))
        #expect(r.messages[2].content == nil)
        #expect(r.messages[2].toolCalls?.first == Message.ToolCall(id: "call_1", name: "calculator", arguments: "{\"x\": 1}"))
        #expect(r.messages[3].toolCallID == "call_1")
    }

    @Test(arguments: ["\"none\"", "\"auto\"", "\"required\""])
    func toolChoiceWords(_ word: String) throws {
        let r = try decode(ChatCompletionRequest.self, "{\"model\": \"m\", \"messages\": [], \"tool_choice\": \(word)}")
        #expect(r.toolChoice != nil)
        let back = try JSONEncoder().encode(r.toolChoice)
        #expect(String(decoding: back, as: UTF8.self) == word)
    }

    @Test func stopTakesAListToo() throws {
        let r = try decode(ChatCompletionRequest.self, "{\"model\": \"m\", \"messages\": [], \"stop\": [\"a\", \"b\"]}")
        #expect(r.stop?.values == ["a", "b"])
    }

    @Test(arguments: [
        "{\"messages\": []}",                                                         // no model
        "{\"model\": \"m\"}",                                                         // no messages
        "{\"model\": \"m\", \"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"audio\"}]}]}",
        "{\"model\": \"m\", \"messages\": [], \"tool_choice\": \"sometimes\"}",
        "{\"model\": \"m\", \"messages\": [], \"n\": \"two\"}",
        "{\"model\": \"m\", \"messages\": [",                                           // truncated
    ])
    func malformedRequestsAreRefused(_ json: String) {
        #expect(throws: DecodingError.self) { _ = try decode(ChatCompletionRequest.self, json) }
    }

    @Test func completionHasTheOpenAIShape() throws {
        let reply = ChatCompletion(id: "chatcmpl-1", created: 1_700_000_000, model: "muse",
                                   choices: [.init(index: 0, message: Message(role: "assistant", content: .text("Hi")), finishReason: "stop")],
                                   usage: Usage(promptTokens: 5, completionTokens: 2))
        let o = try object(reply)
        #expect(o["object"] as? String == "chat.completion")
        let choice = try #require((o["choices"] as? [[String: Any]])?.first)
        #expect(choice["finish_reason"] as? String == "stop")
        #expect((choice["message"] as? [String: Any])?["content"] as? String == "Hi")
        #expect((o["usage"] as? [String: Any])?["total_tokens"] as? Int == 7)
        #expect(try decode(ChatCompletion.self, String(decoding: JSONEncoder().encode(reply), as: UTF8.self)) == reply)
    }

    @Test func chunksCarryNullFinishReasonAndUsage() throws {
        let chunk = ChatCompletionChunk(id: "chatcmpl-1", created: 1, model: "muse",
                                        choices: [.init(index: 0, delta: .init(role: "assistant", content: "He"), finishReason: nil)])
        let event = try ServerSentEvents.event(chunk)
        #expect(event.hasPrefix("data: {") && event.hasSuffix("}\n\n"))
        let o = try object(chunk)
        #expect(o["object"] as? String == "chat.completion.chunk")
        #expect(o.keys.contains("usage") && o["usage"] is NSNull)
        let choice = try #require((o["choices"] as? [[String: Any]])?.first)
        #expect(choice.keys.contains("finish_reason") && choice["finish_reason"] is NSNull)
        #expect((choice["delta"] as? [String: Any])?["content"] as? String == "He")
    }

    @Test func errorsHaveTheOpenAIShape() throws {
        let o = try object(APIError.invalidRequest("messages must not be empty", param: "messages"))
        let inner = try #require(o["error"] as? [String: Any])
        #expect(inner["message"] as? String == "messages must not be empty")
        #expect(inner["type"] as? String == "invalid_request_error")
        #expect(inner["param"] as? String == "messages")
        #expect(inner.keys.contains("code"))
        #expect(APIError.authentication("no key").status == 401)
        #expect(APIError.notFound("no model").status == 404)
        #expect(APIError.tooLarge("big").status == 413)
        #expect(APIError.overloaded("busy").status == 429)
    }

    /// A stream cut at every byte parses to the same payloads; comments, CRLF and keep-alives pass.
    @Test func sseParsingSurvivesEveryCut() throws {
        let stream = ": keep-alive\r\ndata: {\"a\":1}\r\n\r\n\ndata: {\"b\":2}\n\ndata: [DONE]\n\n"
        let bytes = Array(stream.utf8)
        for cut in 0...bytes.count {
            var parser = EventStreamParser()
            let events = try parser.feed(bytes.prefix(cut)) + parser.feed(bytes.dropFirst(cut))
            let payloads = events.map(\.data).filter { $0 != "[DONE]" }
            #expect(payloads == ["{\"a\":1}", "{\"b\":2}"], "cut \(cut)")
            #expect(events.last?.data == "[DONE]")
        }
    }
}
