// Requests as a server receives them: sampling, stops, logprobs, response formats, tools and the
// tool loop's forced calls, conversation history with calls and results.
import Foundation
import MuseAgents
import MuseCore
import MuseOpenAI
import Testing
@testable import MuseRemote

func json(_ value: some Encodable) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(value)) as? [String: Any])
}

@Suite struct WireRequestTests {
    static let schema = #"{"type": "object", "properties": {"x": {"type": "integer"}}, "required": ["x"]}"#

    @Test func mapsSamplingStopsLogprobsAndAJSONSchema() throws {
        let request = GenerationRequest(prompt: .chat([.user("Hi")]),
                                        sampling: SamplingParameters(temperature: 0.8, topP: 0.9, presencePenalty: 0.5, seed: 7),
                                        maxTokens: 24, stop: ["END"], logprobs: true, topLogprobs: 3, format: .jsonSchema(Self.schema))
        let body = try json(WireRequest.chat([.user("Hi")], request, model: "m", count: 2))
        #expect(body["model"] as? String == "m")
        #expect(body["stream"] as? Bool == true)
        #expect((body["stream_options"] as? [String: Any])?["include_usage"] as? Bool == true)
        #expect(body["n"] as? Int == 2)
        #expect(body["temperature"] as? Double == 0.8)
        #expect(body["top_p"] as? Double == 0.9)
        #expect(body["presence_penalty"] as? Double == 0.5)
        #expect(body["frequency_penalty"] == nil)
        #expect(body["seed"] as? Int == 7)
        #expect(body["max_tokens"] as? Int == 24)
        #expect(body["stop"] as? [String] == ["END"])
        #expect(body["logprobs"] as? Bool == true)
        #expect(body["top_logprobs"] as? Int == 3)
        let format = try #require(body["response_format"] as? [String: Any])
        #expect(format["type"] as? String == "json_schema")
        let schema = try #require((format["json_schema"] as? [String: Any])?["schema"] as? [String: Any])
        #expect(schema["required"] as? [String] == ["x"])
        #expect(body["tools"] == nil && body["top_k"] == nil && body["min_p"] == nil)
    }

    /// The body as sent keeps a schema's properties (and a tool's parameters) in the order given,
    /// so that the server generates them in that order.
    @Test func schemasGoOutInTheirOrder() throws {
        let schema = #"{"type": "object", "properties": {"zeta": {"type": "string"}, "alpha": {"type": "integer"}}, "required": ["zeta"]}"#
        let request = GenerationRequest(prompt: .chat([.user("Hi")]), format: .jsonSchema(schema),
                                        tools: [])
        let text = String(decoding: try WireJSON.data(WireRequest.chat([.user("Hi")], request, model: "m", count: 1)), as: UTF8.self)
        #expect(text.contains(#""properties":{"zeta":{"type":"string"},"alpha":{"type":"integer"}}"#), "\(text)")
        #expect(text.hasPrefix(#"{"model":"m","messages":"#), "OpenAI's own field order: \(text.prefix(60))")
        let withTools = GenerationRequest(prompt: .chat([.user("Hi")]), tools: [ToolSpec(name: "f", description: "", parametersSchema: schema)])
        let toolText = String(decoding: try WireJSON.data(WireRequest.chat([.user("Hi")], withTools, model: "m", count: 1)), as: UTF8.self)
        #expect(toolText.contains(#""properties":{"zeta":{"type":"string"},"alpha":{"type":"integer"}}"#), "\(toolText)")
    }

    @Test func aJSONObjectFormatAndABoundedOneAreJSONObjectMode() throws {
        #expect(try WireRequest.shape(.jsonObject, hasTools: false) == .response(.init(type: "json_object")))
        #expect(try WireRequest.shape(.bounded(.jsonObject, maxStringLength: 10), hasTools: false) == .response(.init(type: "json_object")))
        #expect(throws: RemoteModelError.self) { try WireRequest.shape(.literal("yes"), hasTools: false) }
        #expect(throws: RemoteModelError.unsupported("the JSON Schema is not valid JSON")) {
            try WireRequest.shape(.jsonSchema("{not json"), hasTools: false)
        }
    }

    @Test func theToolLoopsForcedCallsBecomeToolChoiceRequired() async throws {
        let model = try await RemoteModel(baseURL: URL(string: "http://127.0.0.1:1/v1")!, apiKey: nil, model: "m")
        let tools: [any Tool] = [DeclaredTool(name: "calculator", description: "Exact arithmetic.",
                                              parametersSchema: #"{"type": "object", "properties": {"expression": {"type": "string"}}}"#)]
        let turn = ToolTurn(conversation: [.user("What is 6*7?")], tools: tools, choice: .required, format: .hermes,
                            parallelCalls: false, useModelTemplate: true, model: model)
        #expect(turn.native)
        let request = GenerationRequest(prompt: .chat(turn.messages), format: turn.constraint, tools: turn.specs)
        let body = try json(WireRequest.chat(turn.messages, request, model: "m", count: 1))
        #expect(body["tool_choice"] as? String == "required")
        #expect(body["parallel_tool_calls"] as? Bool == false)
        #expect(body["response_format"] == nil)
        let tool = try #require((body["tools"] as? [[String: Any]])?.first)
        #expect(tool["type"] as? String == "function")
        let function = try #require(tool["function"] as? [String: Any])
        #expect(function["name"] as? String == "calculator")
        #expect((function["parameters"] as? [String: Any])?["type"] as? String == "object")
    }

    @Test func historyKeepsCallsAndResults() throws {
        let call = ToolCall(id: "call_1", name: "calculator", arguments: #"{"expression": "6*7"}"#)
        let history: [ChatMessage] = [
            .system("Be brief."), .user("6*7?"),
            ChatMessage(role: .assistant, content: [], toolCalls: [call]),
            ChatMessage(role: .tool, content: [.text("42")], toolCallID: "call_1"),
        ]
        let wire = history.map(WireRequest.message)
        #expect(wire.map(\.role) == ["system", "user", "assistant", "tool"])
        #expect(wire[2].content == nil)
        #expect(wire[2].toolCalls == [Message.ToolCall(id: "call_1", name: "calculator", arguments: call.arguments)])
        #expect(wire[3].toolCallID == "call_1" && wire[3].content == .text("42"))
    }

    @Test func aTextPromptGoesToTheCompletionsEndpointShape() throws {
        let request = GenerationRequest(prompt: .text("The sun"), sampling: .greedy, maxTokens: 8)
        let body = try json(WireRequest.text("The sun", request, model: "m", count: 1))
        #expect(body["prompt"] as? String == "The sun")
        #expect(body["temperature"] as? Double == 0 && body["max_tokens"] as? Int == 8 && body["n"] == nil)
        var formatted = request
        formatted.format = .jsonObject
        #expect(throws: RemoteModelError.self) { try WireRequest.text("The sun", formatted, model: "m", count: 1) }
    }
}
