// RemoteModel's own failures, which need no server: bad URLs, token prompts, a port nobody
// listens on. Generation against a real server is tested end to end in
// Tests/openai-client/test_remote_backend.py.
import Foundation
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
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
        #expect(model.name == "m" && model.reasons && model.toolCallFormat == .hermes)
        await #expect(throws: RemoteModelError.tokenPrompt) {
            for try await _ in model.generate(GenerationRequest(prompt: .tokens([1, 2, 3]))) {}
        }
    }

    @Test func aServerThatIsNotThereIsReportedAtOnce() async throws {
        let start = ContinuousClock.now
        let error = await #expect(throws: RemoteModelError.self) {
            _ = try await RemoteModel(baseURL: URL(string: "http://127.0.0.1:1/v1")!, apiKey: nil, model: nil)
        }
        // At once here, or at the 10 s connect deadline; far short of the request's own 600 s. Loose,
        // as the suite's other tests can hold the cooperative threads for tens of seconds.
        #expect(ContinuousClock.now - start < .seconds(120))
        guard case let .unreachable(url, reason)? = error else { Issue.record("\(String(describing: error))"); return }
        #expect(url == "http://127.0.0.1:1/v1/models")
        #expect(reason == "connection refused")
    }

    @Test func aServerThatNeverAnswersTimesOut() async throws {
        // A listening socket that never accepts: the kernel completes the connection, nobody replies.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #expect(listener >= 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(listener, pointer, length) == 0 && listen(listener, 8) == 0 && getsockname(listener, pointer, &length) == 0
            }
        }
        #expect(bound)
        let port = UInt16(bigEndian: address.sin_port)
        let model = try await RemoteModel(baseURL: URL(string: "http://127.0.0.1:\(port)/v1")!, apiKey: nil, model: "m",
                                          timeout: .seconds(1))
        let start = ContinuousClock.now
        await #expect(throws: RemoteModelError.timedOut(url: "http://127.0.0.1:\(port)/v1/chat/completions", seconds: 1)) {
            for try await _ in model.generate(GenerationRequest(prompt: .chat([.user("Hi")]))) {}
        }
        // Well under the default 600 s: the 1 s timeout fired. Loose, as the suite's other tests can
        // hold the cooperative threads for tens of seconds.
        #expect(ContinuousClock.now - start < .seconds(120))
    }
}
