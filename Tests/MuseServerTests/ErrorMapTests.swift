// Every way a request can fail, as the API reports it: through the real router in process (Hummingbird's
// test client), with a model that fails as told. Each case checks the status, the OpenAI error
// object, `Retry-After` where waiting helps, and that an upstream server's address never leaks.
import Foundation
import Hummingbird
import HummingbirdTesting
import MuseCore
import MuseEngine
import MuseOpenAI
import MuseRemote
import Testing
@testable import MuseServer

/// A model whose every generation fails with `error`, or, without one, never ends.
private struct FailingModel: LanguageModel {
    let name = "failing"
    let error: (any Error & Sendable)?

    func generate(_ request: GenerationRequest) -> AsyncThrowingStream<GenerationEvent, any Error> {
        AsyncThrowingStream { continuation in
            if let error { continuation.finish(throwing: error) }
        }
    }
}

private let upstream = "http://10.9.8.7:8080/v1/chat/completions"

private func body(stream: Bool = false, model: String = "failing") -> ByteBuffer {
    ByteBuffer(string: #"{"model": "\#(model)", "messages": [{"role": "user", "content": "Hi"}], "stream": \#(stream)}"#)
}

/// What the server answers `request` with when its model fails with `error`.
private func answer(_ error: (any Error & Sendable)?, limits: ServerLimits = ServerLimits(), keys: [String] = [],
                    _ request: @escaping @Sendable (any TestClientProtocol) async throws -> TestResponse = { client in
                        try await client.execute(uri: "/v1/chat/completions", method: .post, body: body())
                    }) async throws -> (status: Int, retryAfter: String?, error: APIError?, text: String) {
    let configuration = ServerConfiguration(apiKeys: keys, modelID: "failing", limits: limits)
    let app = try MuseServer.application(model: FailingModel(error: error), configuration: configuration)
    return try await app.test(.router) { client in
        let response = try await request(client)
        let text = String(buffer: response.body)
        return (Int(response.status.code), response.headers[.retryAfter],
                try? JSONDecoder().decode(APIError.self, from: Data(text.utf8)), text)
    }
}

@Suite struct ErrorMapTests {
    @Test func theEnginesErrorsAreTheClientsOrABusyServers() async throws {
        let full = try await answer(GenerationError.cacheFull(neededBlocks: 3, capacityBlocks: 2))
        #expect(full.status == 429)
        #expect(full.retryAfter == String(GenerationError.cacheRetrySeconds))
        #expect(full.error?.type == "rate_limit_error")
        #expect(full.error?.message.contains("KV cache") == true)

        for error: GenerationError in [.contextExceeded(promptTokens: 9000, contextLength: 8192), .emptyPrompt,
                                       .invalidToken(-1), .noChatTemplate, .imagesUnsupported, .template("boom"), .format("bad")] {
            let reply = try await answer(error)
            #expect(reply.status == 400, "\(error)")
            #expect(reply.error?.type == "invalid_request_error")
            #expect(reply.error?.message == error.description)
            #expect(reply.retryAfter == nil)
        }
    }

    @Test func aModelServerBehindThisOneFailsAs502503Or504WithoutItsAddress() async throws {
        let cases: [(RemoteModelError, Int, Bool)] = [
            (.http(status: 503, message: "the model is loading", type: "server_error", url: upstream), 503, true),
            (.http(status: 500, message: "out of memory", type: "server_error", url: upstream), 502, false),
            (.http(status: 401, message: "bad key", type: "authentication_error", url: upstream), 502, false),
            (.http(status: 404, message: "no such model", type: nil, url: upstream), 502, false),
            (.http(status: 429, message: "slow down", type: "rate_limit_error", url: upstream), 429, true),
            (.http(status: 400, message: "the prompt is too long", type: "invalid_request_error", url: upstream), 400, false),
            (.unreachable(url: upstream, reason: "connection refused"), 503, true),
            (.unreachable(url: upstream, reason: "connect to 10.9.8.7:8080 failed"), 503, true),
            (.timedOut(url: upstream, seconds: 600), 504, false),
            (.truncated(url: upstream), 502, false),
            (.stream(message: "out of memory", type: nil), 502, false),
            (.malformedEvent(excerpt: "{", reason: "not valid JSON"), 502, false),
            (.responseTooLarge(limit: 16 << 20), 502, false),
            (.tokenPrompt, 400, false),
        ]
        for (error, status, retry) in cases {
            let reply = try await answer(error)
            #expect(reply.status == status, "\(error)")
            #expect((reply.retryAfter != nil) == retry, "\(error)")
            #expect(reply.error != nil, "not an OpenAI error object: \(reply.text)")
            #expect(!reply.text.contains("10.9.8.7"), "the upstream address leaked: \(reply.text)")
        }
        // The message still says what went wrong.
        let loading = try await answer(RemoteModelError.http(status: 503, message: "the model is loading", type: nil, url: upstream))
        #expect(loading.error?.message == "the model server answered 503: the model is loading")
        let refused = try await answer(RemoteModelError.unreachable(url: upstream, reason: "connection refused"))
        #expect(refused.error?.message == "cannot connect to the model server: connection refused")
        // The model server's own Retry-After is passed on; without one, a default.
        let slow = try await answer(RemoteModelError.http(status: 429, message: "slow down", type: nil, url: upstream, retryAfter: 30))
        #expect(slow.retryAfter == "30")
        let busy = try await answer(RemoteModelError.http(status: 429, message: "slow down", type: nil, url: upstream))
        #expect(busy.retryAfter == String(APIError.upstreamRetrySeconds))
    }

    @Test func aStreamThatFailsEndsWithTheSameErrorObject() async throws {
        let reply = try await answer(RemoteModelError.timedOut(url: upstream, seconds: 600)) { client in
            try await client.execute(uri: "/v1/chat/completions", method: .post, body: body(stream: true))
        }
        #expect(reply.status == 200)
        let event = try #require(reply.text.split(separator: "\n").first { $0.hasPrefix("data: {\"error\"") })
        let error = try JSONDecoder().decode(APIError.self, from: Data(event.dropFirst(6).utf8))
        #expect(error.code == "upstream_timeout")
        #expect(!reply.text.contains("10.9.8.7"))
    }

    @Test func aModelThatNeverEndsIsCutAtTheTimeLimit() async throws {
        let reply = try await answer(nil, limits: ServerLimits(requestTimeout: .milliseconds(300)))
        #expect(reply.status == 504)
        #expect(reply.error?.code == "timeout")
    }

    @Test func theRequestsOwnFaultsAreNamed() async throws {
        let malformed = try await answer(nil) { client in
            try await client.execute(uri: "/v1/chat/completions", method: .post, body: ByteBuffer(string: "{\"model\": "))
        }
        #expect(malformed.status == 400)
        #expect(malformed.error?.message == "the body is not valid JSON")

        let large = try await answer(nil, limits: ServerLimits(maxBodyBytes: 64)) { client in
            try await client.execute(uri: "/v1/chat/completions", method: .post, body: ByteBuffer(repeating: 32, count: 200))
        }
        #expect(large.status == 413)
        #expect(large.error?.code == "request_too_large")

        let unknownModel = try await answer(nil) { client in
            try await client.execute(uri: "/v1/chat/completions", method: .post, body: body(model: "gpt-9"))
        }
        #expect(unknownModel.status == 404)
        #expect(unknownModel.error?.code == "model_not_found")

        let route = try await answer(nil) { client in try await client.execute(uri: "/v1/nothing", method: .get) }
        #expect(route.status == 404)
        #expect(route.error?.code == "not_found")

        let keyless = try await answer(nil, keys: ["secret"])
        #expect(keyless.status == 401)
        #expect(keyless.error?.type == "authentication_error")

        // The router has no route for a method a path does not take: an OpenAI-shaped 404 too.
        let method = try await answer(nil) { client in try await client.execute(uri: "/v1/models", method: .delete) }
        #expect(method.status == 404)
        #expect(method.error?.type == "invalid_request_error")

        let conversation = try await answer(nil) { client in try await client.execute(uri: "/api/conversations/nope", method: .get) }
        #expect(conversation.status == 404)
        #expect(conversation.error?.code == "not_found")
    }

    @Test func anUnknownFailureIsA500() async throws {
        struct Odd: Error {}
        let reply = try await answer(Odd())
        #expect(reply.status == 500)
        #expect(reply.error?.type == "server_error")
    }
}
