// Requests as clients send them, checked and mapped before anything runs: each bad field gets a 400
// that names it; good ones reach the engine as asked.
import Foundation
import MuseAgents
import MuseCore
import MuseEngine
import MuseOpenAI
import Testing
@testable import MuseServer

private func job(_ json: String, limits: ServerLimits = ServerLimits()) throws(APIError) -> ChatJob {
    let request: ChatCompletionRequest
    do { request = try JSONDecoder().decode(ChatCompletionRequest.self, from: Data(json.utf8)) } catch {
        throw .invalidRequest("undecodable test body: \(error)")
    }
    return try ChatJob(request, limits: limits, formats: LocalModel.validate)
}

private func rejection(_ json: String) -> APIError? {
    do { _ = try job(json); return nil } catch { return error }
}

@Suite struct ChatJobTests {
    let hello = #""messages": [{"role": "user", "content": "hi"}]"#

    @Test func mapsSamplingAndLimits() throws {
        let j = try job(#"{"model": "m", \#(hello), "temperature": 0, "top_p": 0.5, "seed": -1, "max_completion_tokens": 9, "stop": "x", "n": 2}"#)
        #expect(j.sampling.temperature == 0 && j.sampling.topP == 0.5)
        #expect(j.sampling.seed == UInt64.max)
        #expect(j.maxTokens == 9 && j.stop == ["x"] && j.choices == 2)
        #expect(j.mode == nil && j.toolChoice == .none)
        let defaults = try job(#"{"model": "m", \#(hello)}"#)
        #expect(defaults.maxTokens == ServerLimits().defaultMaxTokens && defaults.choices == 1 && !defaults.stream)
    }

    @Test func mapsModesFromEffortAndExtension() throws {
        #expect(try job(#"{"model": "m", \#(hello), "reasoning_effort": "low"}"#).mode == nil)
        #expect(try job(#"{"model": "m", \#(hello), "reasoning_effort": "medium"}"#).mode == .thinking(budget: Mode.defaultThinkingBudget))
        #expect(try job(#"{"model": "m", \#(hello), "reasoning_effort": "high"}"#).mode == .contemplating(agents: Mode.defaultAgents, rounds: 1))
        let j = try job(#"{"model": "m", \#(hello), "reasoning_effort": "low", "muse": {"mode": "contemplating", "agents": 3, "trace": true}}"#)
        #expect(j.mode == .contemplating(agents: 3, rounds: 1) && j.trace)
    }

    @Test func mapsMessagesAndTools() throws {
        let j = try job(#"""
            {"model": "m", "tool_choice": "required",
             "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
             "messages": [{"role": "developer", "content": "Be brief."}, {"role": "user", "content": [{"type": "text", "text": "Paris?"}]},
                          {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
                          {"role": "tool", "tool_call_id": "c1", "content": "sunny"}]}
            """#)
        #expect(j.conversation.map(\.role) == [.system, .user, .assistant, .tool])
        #expect(j.conversation[2].toolCalls == [ToolCall(id: "c1", name: "get_weather", arguments: #"{"city": "Paris"}"#)])
        #expect(j.toolChoice == .required && j.tools.map(\.name) == ["get_weather"])
    }

    @Test(arguments: [
        (#"{"model": "m", "messages": []}"#, "messages"),
        (#"{"model": "m", "messages": [{"role": "robot", "content": "x"}]}"#, "messages[0].role"),
        (#"{"model": "m", "messages": [{"role": "tool", "content": "x"}]}"#, "messages[0].tool_call_id"),
        (#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": 3}"#, "temperature"),
        (#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "top_p": 0}"#, "top_p"),
        (#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "n": 99}"#, "n"),
        (#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0}"#, "max_tokens"),
        (#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "top_logprobs": 3}"#, "top_logprobs"),
        (#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "response_format": {"type": "xml"}}"#, "response_format"),
        (#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": {"type": "nonsense"}}}}"#, "response_format"),
        (#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "tool_choice": "required"}"#, "tool_choice"),
        (#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function", "function": {"name": "bad name"}}]}"#, "tools"),
        (#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "reasoning_effort": "extreme"}"#, "reasoning_effort"),
        (#"{"model": "m", "messages": [{"role": "user", "content": "x"}], "n": 2, "reasoning_effort": "high"}"#, "n"),
        (#"{"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}}]}]}"#, "messages"),
    ])
    func rejectsWithTheFieldNamed(body: String, param: String) {
        let error = rejection(body)
        #expect(error?.status == 400)
        #expect(error?.param == param)
    }

    @Test func traceEventsAreTypedObjects() {
        let call = TraceJSON.value(of: .toolCall(agent: nil, call: ToolCall(id: "c", name: "calculator", arguments: "{}")))
        #expect(call == ["type": "tool_call", "agent": .null, "id": "c", "name": "calculator", "arguments": "{}"])
        #expect(TraceJSON.value(of: .agentStarted(id: 2, role: "skeptic", perspective: "doubt")) ==
                ["type": "agent_started", "agent": .number(2), "role": "skeptic", "perspective": "doubt"])
    }

    @Test func schemasKeepTheClientsPropertyOrder() throws {
        func written(_ body: String) throws -> ChatJob {
            let request = try JSONDecoder().decode(ChatCompletionRequest.self, from: Data(body.utf8))
            return try ChatJob(request, limits: ServerLimits(), formats: LocalModel.validate, written: JSONValue.parse(body))
        }
        let user = #""model": "m", "messages": [{"role": "user", "content": "x"}]"#
        let schema = try written(#"{\#(user), "response_format": {"type": "json_schema", "json_schema": {"name": "p", "schema": {"type": "object", "properties": {"zname": {"type": "string"}, "age": {"type": "integer", "maximum": 9007199254740993}}}}}}"#)
        #expect(schema.format == .jsonSchema(#"{"type":"object","properties":{"zname":{"type":"string"},"age":{"type":"integer","maximum":9007199254740993}}}"#))
        let tools = try written(#"{\#(user), "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {"y": {"type": "string"}, "b": {"type": "string"}}}}}]}"#)
        #expect(tools.tools.first?.parametersSchema == #"{"type":"object","properties":{"y":{"type":"string"},"b":{"type":"string"}}}"#)
    }
}
