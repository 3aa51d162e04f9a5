// RemoteModel's own failures, which need no server: bad URLs, token prompts, a port nobody
// listens on. Generation against a real server is tested end to end in
// Tests/openai-client/test_remote_backend.py.
import Foundation
import MuseCore
import Testing
@testable import MuseRemote

@Suite struct RemoteModelTests {
    @Test func refusesABaseURLThatIsNotHTTP() async throws {
        await #expect(throws: RemoteModelError.invalidURL("ftp://example.com/v1")) {
            _ = try await RemoteModel(baseURL: URL(string: "ftp://example.com/v1")!, apiKey: nil, model: "m")
        }
    }

    @Test func aTokenPromptIsAClearError() async throws {
        let model = try await RemoteModel(baseURL: URL(string: "http://127.0.0.1:1/v1/")!, apiKey: nil, model: "m")
        #expect(model.name == "m" && model.reasoningTags == .think && model.toolCallStyle == "hermes")
        await #expect(throws: RemoteModelError.tokenPrompt) {
            for try await _ in model.generate(GenerationRequest(prompt: .tokens([1, 2, 3]))) {}
        }
    }

    @Test func aServerThatIsNotThereIsReportedAtOnce() async throws {
        let start = ContinuousClock.now
        let error = await #expect(throws: RemoteModelError.self) {
            _ = try await RemoteModel(baseURL: URL(string: "http://127.0.0.1:1/v1")!, apiKey: nil, model: nil)
        }
        #expect(ContinuousClock.now - start < .seconds(10))
        guard case let .unreachable(url, reason)? = error else { Issue.record("\(String(describing: error))"); return }
        #expect(url == "http://127.0.0.1:1/v1/models")
        #expect(reason == "connection refused")
    }
}
