// A `GenerationRequest` spelled as the OpenAI protocol's request bodies. Only standard fields are
// sent: strict servers refuse unknown ones, so top-k, min-p and the repetition penalty, which the
// protocol lacks, stay behind.
import Foundation
import MuseCore
import MuseOpenAI

enum WireRequest {
    static func chat(_ messages: [ChatMessage], _ request: GenerationRequest, model: String,
                     count: Int) throws(RemoteModelError) -> ChatCompletionRequest {
        var body = ChatCompletionRequest(model: model, messages: messages.map(message))
        setCommonFields(of: &body, request, count: count)
        if request.logprobs || request.topLogprobs > 0 {
            body.logprobs = true
            body.topLogprobs = request.topLogprobs > 0 ? request.topLogprobs : nil
        }
        if !request.tools.isEmpty {
            body.tools = try request.tools.map { spec throws(RemoteModelError) in
                .init(function: .init(name: spec.name, description: spec.description,
                                      parameters: try json(spec.parametersSchema, what: "the parameters schema of \(spec.name)")))
            }
        }
        switch try shape(request.format, hasTools: !request.tools.isEmpty) {
        case .free: break
        case .response(let format): body.responseFormat = format
        case .toolCalls(let parallel):
            body.toolChoice = .required
            body.parallelToolCalls = parallel
        }
        return body
    }

    static func text(_ prompt: String, _ request: GenerationRequest, model: String,
                     count: Int) throws(RemoteModelError) -> CompletionRequest {
        if request.format != nil {
            throw .unsupported("an output format for a raw text prompt (the completions endpoint has no response_format)")
        }
        var body = CompletionRequest(model: model, prompt: prompt)
        setCommonFields(of: &body, request, count: count)
        // The legacy endpoint takes one integer: how many alternatives to list per token.
        if request.logprobs || request.topLogprobs > 0 { body.logprobs = request.topLogprobs }
        return body
    }

    /// Streaming with usage, `n`, sampling, length and stop strings: the same on both endpoints.
    private static func setCommonFields(of body: inout some WireSampling, _ request: GenerationRequest, count: Int) {
        body.stream = true
        body.streamOptions = .init(includeUsage: true)
        body.n = count > 1 ? count : nil
        body.temperature = wire(request.sampling.temperature)
        body.topP = wire(request.sampling.topP)
        body.seed = request.sampling.seed.map(wire)
        body.presencePenalty = request.sampling.presencePenalty == 0 ? nil : wire(request.sampling.presencePenalty)
        body.frequencyPenalty = request.sampling.frequencyPenalty == 0 ? nil : wire(request.sampling.frequencyPenalty)
        body.maxTokens = request.maxTokens
        body.stop = request.stop.isEmpty ? nil : .init(request.stop)
    }

    static func message(_ m: ChatMessage) -> Message {
        let content: Message.Content? = if m.hasImages {
            .parts(m.content.map { part in
                switch part {
                case .text(let text): .text(text)
                case .image(let source): .imageURL(source.url, detail: nil)
                }
            })
        } else if m.role == .assistant && !m.toolCalls.isEmpty && m.text.isEmpty {
            nil   // a reply that only calls has null content on the wire
        } else {
            .text(m.text)
        }
        return Message(role: m.role.rawValue, content: content, name: m.name,
                       toolCalls: m.toolCalls.isEmpty ? nil : m.toolCalls.map { .init(id: $0.id, name: $0.name, arguments: $0.arguments) },
                       toolCallID: m.toolCallID)
    }

    /// How an output format travels: as `response_format`, or, for the grammar the tool loop
    /// builds to force calls (literal tags around JSON), as `tool_choice: required`, since the
    /// server writes structured calls itself.
    enum Shape: Equatable {
        case free
        case response(ChatCompletionRequest.ResponseFormat)
        case toolCalls(parallel: Bool?)
    }

    static func shape(_ format: OutputFormat?, hasTools: Bool) throws(RemoteModelError) -> Shape {
        guard let format else { return .free }
        var inner = format
        while case .bounded(let wrapped, _) = inner { inner = wrapped }
        switch inner {
        case .jsonObject:
            return .response(.init(type: "json_object"))
        case .jsonSchema(let schema):
            return .response(.init(type: "json_schema", jsonSchema: .init(name: "response", schema: try json(schema, what: "the JSON Schema"))))
        case .line:
            throw .unsupported("a line of free text as an output format")
        case .literal, .sequence, .repeated, .bounded:
            guard hasTools else {
                throw .unsupported("an output format other than a JSON object or a JSON Schema")
            }
            if case .repeated(_, _, let most) = inner { return .toolCalls(parallel: most > 1) }
            return .toolCalls(parallel: nil)
        }
    }

    private static func json(_ text: String, what: String) throws(RemoteModelError) -> JSONValue {
        do { return try JSONValue.parse(text) } catch {
            throw .unsupported("\(what) is not valid JSON")
        }
    }

    /// A Float as the decimal it was written as (0.8, not 0.800000011920929).
    private static func wire(_ value: Float) -> Double { Double(value.description) ?? Double(value) }

    /// Seeds are 64-bit unsigned here and signed 64-bit on the wire.
    private static func wire(_ seed: UInt64) -> Int { Int(truncatingIfNeeded: seed & UInt64(Int64.max)) }
}

/// The fields the chat and text completion requests share.
protocol WireSampling {
    var stream: Bool? { get set }
    var streamOptions: ChatCompletionRequest.StreamOptions? { get set }
    var n: Int? { get set }
    var temperature: Double? { get set }
    var topP: Double? { get set }
    var seed: Int? { get set }
    var presencePenalty: Double? { get set }
    var frequencyPenalty: Double? { get set }
    var maxTokens: Int? { get set }
    var stop: ChatCompletionRequest.Stop? { get set }
}

extension ChatCompletionRequest: WireSampling {}
extension CompletionRequest: WireSampling {}
