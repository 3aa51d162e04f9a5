// RemoteModel against a real `muse serve` (MUSE_BIN, as scripts/test sets it): `n` completions
// in one request, log-probabilities, a JSON Schema, cancellation, and the server's error objects.
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MuseCore
import Testing
@testable import MuseRemote

/// `muse serve --port 0` in a child process, stopped by `stop()`.
final class ServeProcess: @unchecked Sendable {
    let process = Process()
    let url: URL

    init(_ arguments: [String] = []) throws {
        let environment = ProcessInfo.processInfo.environment
        process.executableURL = URL(fileURLWithPath: try #require(environment["MUSE_BIN"]))
        let model = environment["MUSE_TEST_MODEL"].map { ["--model", $0] } ?? []
        process.arguments = ["serve", "--port", "0"] + model + arguments
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // The server prints "… at http://127.0.0.1:PORT/v1 …" once it listens.
        var seen = ""
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline, !seen.contains("/v1") {
            let data = errors.fileHandleForReading.availableData
            if data.isEmpty { break }
            seen += String(decoding: data, as: UTF8.self)
        }
        let address = try #require(seen.firstRange(of: #/http://[0-9.:]+/v1/#), "muse serve said: \(seen)")
        url = try #require(URL(string: String(seen[address])))
    }

    func stop() {
        process.terminate()
        process.waitUntilExit()
    }

    /// One figure from the server's /metrics. With `settlesAt`, asks again (for up to five
    /// minutes) until the figure is that value, and returns the last one read.
    func metric(_ name: String, settlesAt target: Double? = nil) async throws -> Double {
        let metrics = url.deletingLastPathComponent().appendingPathComponent("metrics")
        let deadline = ContinuousClock.now + .seconds(300)
        while true {
            let (data, _) = try await URLSession.shared.data(from: metrics)
            let line = String(decoding: data, as: UTF8.self).split(separator: "\n").first { $0.hasPrefix(name + " ") }
            let value = try #require(line.flatMap { Double($0.split(separator: " ").last ?? "") }, "no \(name) in /metrics")
            guard let target, value != target, ContinuousClock.now < deadline else { return value }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}

func collect(_ stream: AsyncThrowingStream<GenerationEvent, any Error>) async throws -> (text: String, tokens: [GeneratedToken], finish: FinishReason?, usage: Usage?) {
    var text = "", tokens: [GeneratedToken] = [], finish: FinishReason?, usage: Usage?
    for try await event in stream {
        switch event {
        case .text(let piece): text += piece
        case .reasoning, .toolCalls: break
        case .token(let token): tokens.append(token)
        case let .finished(reason, u, _):
            finish = reason
            usage = u
        }
    }
    return (text, tokens, finish, usage)
}

@Suite(.enabled(if: ProcessInfo.processInfo.environment["MUSE_BIN"] != nil, "needs MUSE_BIN, the built muse"))
struct RemoteServerTests {
    @Test func generatesThroughMuseServe() async throws {
        let server = try ServeProcess()
        defer { server.stop() }
        let model = try await RemoteModel(baseURL: server.url, apiKey: nil, model: nil)
        #expect(model.name == "smollm2-135m-instruct")
        let question = GenerationRequest.Prompt.chat([.user("Name three colors of the rainbow.")])

        // n = 3 in one request, dealt out by choice index; the server decodes them together.
        let streams = model.generate(GenerationRequest(prompt: question, sampling: SamplingParameters(temperature: 0.9, seed: 11),
                                                       maxTokens: 12), count: 3)
        #expect(streams.count == 3)
        var completions: [(text: String, tokens: [GeneratedToken], finish: FinishReason?, usage: Usage?)] = []
        for stream in streams { completions.append(try await collect(stream)) }
        for c in completions {
            #expect(!c.text.isEmpty)
            #expect(c.finish != nil)
            #expect(c.usage.map { $0.promptTokens > 0 } == true)
        }
        #expect(completions.reduce(0) { $0 + ($1.usage?.completionTokens ?? 0) } <= 36)

        // Greedy, with log-probabilities: tokens whose texts make up the answer.
        let greedy = try await collect(model.generate(GenerationRequest(prompt: question, sampling: .greedy, maxTokens: 10,
                                                                        logprobs: true, topLogprobs: 2)))
        #expect(greedy.tokens.count == 10 && greedy.finish == .length)
        #expect(greedy.tokens.compactMap { model.tokenText($0.id) }.joined() == greedy.text)
        #expect(greedy.tokens.allSatisfy { $0.logprob != nil && $0.topLogprobs.count == 2 })

        // A JSON Schema goes as response_format; the server's output parses by construction.
        let schema = #"{"type": "object", "properties": {"color": {"type": "string", "maxLength": 12}}, "required": ["color"]}"#
        let shaped = try await collect(model.generate(GenerationRequest(prompt: .chat([.user("Name one color as JSON.")]),
                                                                        sampling: .greedy, maxTokens: 40, format: .jsonSchema(schema))))
        let object = try JSONSerialization.jsonObject(with: Data(shaped.text.utf8)) as? [String: Any]
        #expect(object?["color"] is String)

        // A consumer that stops listening ends the request: the engine stops stepping far short of
        // the 4000 tokens asked for. Counted in forward passes, not seconds, which a loaded machine
        // stretches.
        let stepsBefore = try await server.metric("muse_engine_steps_total")
        for try await event in model.generate(GenerationRequest(prompt: .text("Once upon a time"), maxTokens: 4000)) {
            if case .text = event { break }
        }
        let idle = try await server.metric("muse_engine_sequences_running", settlesAt: 0)
        #expect(idle == 0, "the cancelled request is still running")
        let steps = try await server.metric("muse_engine_steps_total") - stepsBefore
        #expect(steps < 1000, "\(steps) forward passes after the consumer left")
        let after = try await collect(model.generate(GenerationRequest(prompt: .text("The sun rises in the"), sampling: .greedy, maxTokens: 4)))
        #expect(after.finish == .length)
    }

    @Test func aWrongKeyIsTheServers401() async throws {
        let server = try ServeProcess(["--api-key", "sk-remote-test-1234"])
        defer { server.stop() }
        let error = await #expect(throws: RemoteModelError.self) {
            _ = try await RemoteModel(baseURL: server.url, apiKey: "wrong", model: nil)
        }
        guard case let .http(status, message, type, url, _)? = error else { Issue.record("\(String(describing: error))"); return }
        #expect(status == 401 && type == "authentication_error" && url.hasSuffix("/v1/models"))
        #expect(!message.isEmpty)
        let model = try await RemoteModel(baseURL: server.url, apiKey: "sk-remote-test-1234", model: nil)
        #expect(try await collect(model.generate(GenerationRequest(prompt: .text("Hi"), maxTokens: 2))).finish != nil)
    }
}
