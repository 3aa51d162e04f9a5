// Any OpenAI-compatible server (`muse serve`, llama.cpp, vLLM, Ollama, OpenAI itself) as a
// `LanguageModel`, so that the modes, the tool loop and the CLI run on it as on the local engine.
import AsyncHTTPClient
import Foundation
import MuseCore
import MuseOpenAI
import Synchronization

public struct RemoteModel: LanguageModel {
    /// The model id sent with every request.
    public let name: String
    private let endpoint: RemoteEndpoint
    private let vocabulary = RemoteVocabulary()

    /// Servers stream reasoning in a field of its own; it arrives as `.reasoning` events.
    public var reasons: Bool { true }
    /// Tools go to the server as `tools` (a forced call as `tool_choice`), and its structured calls
    /// come back as a `.toolCalls` event; the format names the grammar of a forced call, which the
    /// request turns into `tool_choice: required`.
    public var toolCallFormat: ToolCallFormat? { .hermes }

    /// `baseURL` is the API root, `http://host:port/v1` for most servers. Without a model name,
    /// the first model the server lists is used.
    public init(baseURL: URL, apiKey: String?, model: String?, timeout: Duration = .seconds(600)) async throws {
        endpoint = try RemoteEndpoint(base: baseURL, apiKey: apiKey, timeout: timeout)
        if let model, !model.isEmpty {
            name = model
        } else {
            guard let first = try await Self.models(at: endpoint).first else {
                throw RemoteModelError.noModels(url: endpoint.base + "/models")
            }
            name = first
        }
    }

    /// The ids of `GET {baseURL}/models`, in the server's order.
    public static func models(baseURL: URL, apiKey: String?, timeout: Duration = .seconds(60)) async throws -> [String] {
        try await models(at: RemoteEndpoint(base: baseURL, apiKey: apiKey, timeout: timeout))
    }

    private static func models(at endpoint: RemoteEndpoint) async throws -> [String] {
        struct List: Decodable {
            struct Entry: Decodable { var id: String }
            var data: [Entry]
        }
        let bytes = try await endpoint.get("/models")
        do {
            return try JSONDecoder().decode(List.self, from: Data(bytes)).data.map(\.id)
        } catch {
            throw RemoteModelError.malformedEvent(excerpt: String(decoding: bytes.prefix(200), as: UTF8.self),
                                                  reason: "GET /models did not answer with a model list")
        }
    }

    public func generate(_ request: GenerationRequest) -> AsyncThrowingStream<GenerationEvent, any Error> {
        generate(request, count: 1)[0]
    }

    /// One request with `n` = `count`; its choices are dealt out by index to one stream each. The
    /// request is cancelled when every consumer has stopped listening.
    public func generate(_ request: GenerationRequest, count: Int) -> [AsyncThrowingStream<GenerationEvent, any Error>] {
        let count = max(count, 1)
        let pairs = (0..<count).map { _ in AsyncThrowingStream<GenerationEvent, any Error>.makeStream() }
        let sinks = pairs.map(\.continuation)
        let task = Task { [self] in
            do {
                try await run(request, count: count) { index, event in sinks[index].yield(event) }
                for sink in sinks { sink.finish() }
            } catch {
                for sink in sinks { sink.finish(throwing: error) }
            }
        }
        let listening = Listeners(count)
        for sink in sinks {
            sink.onTermination = { _ in if listening.leave() { task.cancel() } }
        }
        return pairs.map(\.stream)
    }

    public func tokenText(_ id: Int32) -> String? { vocabulary.text(id) }

    private func run(_ request: GenerationRequest, count: Int, emit: (Int, GenerationEvent) -> Void) async throws {
        let path: String, body: Data
        switch request.prompt {
        case .chat(let messages):
            path = "/chat/completions"
            body = try WireJSON.data(WireRequest.chat(messages, request, model: name, count: count))
        case .text(let prompt):
            path = "/completions"
            body = try WireJSON.data(WireRequest.text(prompt, request, model: name, count: count))
        case .tokens:
            throw RemoteModelError.tokenPrompt
        }
        let start = ContinuousClock.now
        let response = try await endpoint.post(path, body: body)
        let wantsTokens = request.logprobs || request.topLogprobs > 0
        var reply = ReplyStream(count: count, start: start, vocabulary: wantsTokens ? vocabulary : nil)
        if response.headers.first(name: "content-type")?.lowercased().contains("application/json") == true {
            // A server that does not stream answers with the whole response.
            let whole = try await endpoint.collect(response, from: path, limit: RemoteEndpoint.maxWholeBytes)
            for (index, event) in try reply.feedWhole(whole) { emit(index, event) }
        } else {
            do {
                for try await buffer in response.body {
                    for (index, event) in try reply.feed(buffer.readableBytesView) { emit(index, event) }
                    if reply.isDone { break }
                }
            } catch {
                throw endpoint.mapped(error, path: path)
            }
        }
        for (index, event) in try reply.finish(url: endpoint.base + path) { emit(index, event) }
    }
}

/// How many of a request's streams still have a consumer.
private final class Listeners: Sendable {
    private let remaining: Atomic<Int>
    init(_ count: Int) { remaining = Atomic(count) }
    /// One consumer is gone; true when it was the last.
    func leave() -> Bool { remaining.subtract(1, ordering: .relaxed).newValue == 0 }
}
