// `/v1/memory` through the real router in process: each key sees and erases its own facts only,
// and a chat request with `muse.memory` lets the assistant remember for its caller.
import Foundation
import Hummingbird
import HummingbirdTesting
import MuseCore
import MuseOpenAI
import Testing
@testable import MuseServer

/// Calls `remember` while tools are offered, then says it is noted.
private struct RememberingModel: LanguageModel {
    let name = "remembering"

    func generate(_ request: GenerationRequest) -> AsyncThrowingStream<GenerationEvent, any Error> {
        let offered = request.stop.isEmpty && {
            if case .chat(let messages) = request.prompt { return messages.first?.text.contains("\"remember\"") == true }
            return false
        }()
        let text = offered ? #"<tool_call>{"name": "remember", "arguments": {"fact": "I like green tea"}}</tool_call>"# : "Noted."
        return AsyncThrowingStream { continuation in
            continuation.yield(.text(text))
            continuation.yield(.finished(.stop, Usage(promptTokens: 1, completionTokens: 1),
                                         Timings(promptSeconds: 0, generationSeconds: 0, promptTokens: 1, generatedTokens: 1)))
            continuation.finish()
        }
    }
}

@Suite struct MemoryRoutesTests {
    static let keys = ["key-alice-0001", "key-bob-000002"]

    func withApp(directory: Bool = true, _ test: @escaping @Sendable (any TestClientProtocol) async throws -> Void) async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("muse-memory-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let configuration = ServerConfiguration(apiKeys: Self.keys, modelID: "remembering", dataDirectory: directory ? folder : nil)
        try await MuseServer.application(model: RememberingModel(), configuration: configuration).test(.router, test)
    }

    static func call(_ client: any TestClientProtocol, _ method: HTTPRequest.Method, key: String?, body: String? = nil,
                     uri: String = "/v1/memory") async throws -> (Int, JSONValue?) {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let key { headers[.authorization] = "Bearer \(key)" }
        let response = try await client.execute(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
        return (Int(response.status.code), try? JSONValue.parse(String(buffer: response.body)))
    }

    @Test func eachKeySeesAndErasesItsOwnFacts() async throws {
        try await withApp { client in
            let (alice, bob) = (Self.keys[0], Self.keys[1])
            let (status, added) = try await Self.call(client, .post, key: alice, body: #"{"fact": "Alice prefers tea"}"#)
            #expect(status == 200 && added?["new"] == .bool(true) && added?["text"] == "Alice prefers tea")
            _ = try await Self.call(client, .post, key: bob, body: #"{"fact": "Bob prefers coffee"}"#)
            let (_, aliceView) = try await Self.call(client, .get, key: alice)
            #expect(aliceView?["facts"]?[0]?["text"] == "Alice prefers tea" && aliceView?["facts"]?[1] == nil)
            #expect(aliceView?["person"].map { "\($0)" }?.contains("key-alice") == false, "the key itself is never shown")
            let (_, erased) = try await Self.call(client, .delete, key: alice)
            #expect(erased?["erased"]?["facts"] == .number(1))
            let (_, after) = try await Self.call(client, .get, key: alice)
            #expect(after?["facts"] == .array([]))
            let (_, bobView) = try await Self.call(client, .get, key: bob)
            #expect(bobView?["facts"]?[0]?["text"] == "Bob prefers coffee")
            let unkeyed = try await Self.call(client, .get, key: nil).0
            #expect(unkeyed == 401)
            let blank = try await Self.call(client, .post, key: alice, body: #"{"fact": "  "}"#).0
            #expect(blank == 400)
            let notText = try await Self.call(client, .post, key: alice, body: #"{"fact": 3}"#).0
            #expect(notText == 400)
        }
    }

    @Test func aChatWithMemoryRemembersForItsCaller() async throws {
        try await withApp { client in
            let chat = #"{"model": "remembering", "messages": [{"role": "user", "content": "I like green tea."}], "muse": {"memory": true}}"#
            let (status, reply) = try await Self.call(client, .post, key: Self.keys[0], body: chat, uri: "/v1/chat/completions")
            #expect(status == 200 && reply?["choices"]?[0]?["message"]?["content"] == "Noted.")
            let (_, view) = try await Self.call(client, .get, key: Self.keys[0])
            #expect(view?["facts"]?[0]?["text"] == "I like green tea")
            let (_, other) = try await Self.call(client, .get, key: Self.keys[1])
            #expect(other?["facts"] == .array([]))
        }
    }

    @Test func withoutADataDirectoryMemoryIsRefused() async throws {
        try await withApp(directory: false) { client in
            let chat = #"{"model": "remembering", "messages": [{"role": "user", "content": "hi"}], "muse": {"memory": true}}"#
            let chatStatus = try await Self.call(client, .post, key: Self.keys[0], body: chat, uri: "/v1/chat/completions").0
            #expect(chatStatus == 400)
            let factStatus = try await Self.call(client, .post, key: Self.keys[0], body: #"{"fact": "x"}"#).0
            #expect(factStatus == 400)
        }
    }
}
