// One server's address and key: sends requests through AsyncHTTPClient, bounds what it reads and
// turns every failure into a `RemoteModelError`.
import AsyncHTTPClient
import Foundation
import NIOCore

struct RemoteEndpoint: Sendable {
    /// The base URL without a trailing slash, e.g. http://127.0.0.1:8080/v1.
    let base: String
    let apiKey: String?
    /// The most a whole request may take, streaming included.
    let timeout: Duration

    static let maxErrorBytes = 1 << 20
    static let maxWholeBytes = 16 << 20

    /// One client for the process, never shut down. A refused connection fails at once instead of
    /// being retried until the deadline, so a wrong --base-url is reported in a moment; up to 64
    /// requests run at once (the default 8 would queue Contemplating's agents).
    private static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(10))
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 64
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    /// A client whose every request opens a connection of its own: for the one retry of a request
    /// whose pooled connection turned out to be closed.
    private static let freshClient: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(10))
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.maximumUsesPerConnection = 1
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    init(base: URL, apiKey: String?, timeout: Duration) throws(RemoteModelError) {
        guard let scheme = base.scheme?.lowercased(), scheme == "http" || scheme == "https", base.host != nil else {
            throw .invalidURL(base.absoluteString)
        }
        var text = base.absoluteString
        while text.hasSuffix("/") { text.removeLast() }
        self.base = text
        self.apiKey = apiKey.flatMap { $0.isEmpty ? nil : $0 }
        self.timeout = timeout
    }

    /// GET `path`; the body, at most `maxWholeBytes`.
    func get(_ path: String) async throws -> [UInt8] {
        let response = try await send(path, body: nil)
        return try await collect(response, from: path, limit: Self.maxWholeBytes)
    }

    /// POST `body` (JSON) to `path`; the response once its head has arrived with a success status.
    func post(_ path: String, body: Data) async throws -> HTTPClientResponse {
        try await send(path, body: body)
    }

    /// The response body up to `limit` bytes, refused past it.
    func collect(_ response: HTTPClientResponse, from path: String, limit: Int) async throws -> [UInt8] {
        var bytes: [UInt8] = []
        do {
            for try await buffer in response.body {
                guard bytes.count + buffer.readableBytes <= limit else { throw RemoteModelError.responseTooLarge(limit: limit) }
                bytes += buffer.readableBytesView
            }
        } catch {
            throw mapped(error, path: path)
        }
        return bytes
    }

    /// A GET without a body, a POST with one.
    private func send(_ path: String, body: Data?) async throws -> HTTPClientResponse {
        var request = HTTPClientRequest(url: base + path)
        request.method = body == nil ? .GET : .POST
        request.headers.add(name: "Accept", value: "application/json, text/event-stream")
        if let apiKey { request.headers.add(name: "Authorization", value: "Bearer \(apiKey)") }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(body)
        }
        let deadline = NIODeadline.now() + .seconds(timeout.components.seconds)
        let response: HTTPClientResponse
        do {
            response = try await Self.client.execute(request, deadline: deadline)
        } catch where Self.foundClosed(error) && !Task.isCancelled {
            // The server had closed the pooled connection (llama.cpp's closes one after each stream
            // without saying so, and idle ones after its keep-alive), and no reply had begun: the
            // request goes once more, on a new connection.
            do { response = try await Self.freshClient.execute(request, deadline: deadline) } catch { throw mapped(error, path: path) }
        } catch {
            throw mapped(error, path: path)
        }
        guard response.status.code < 400 else { throw await failure(response, path: path) }
        return response
    }

    /// An error status as a typed error, with the message of the OpenAI error object if there is one.
    private func failure(_ response: HTTPClientResponse, path: String) async -> any Error {
        let status = Int(response.status.code)
        // Seconds only; the HTTP-date form is rare from model servers and left out.
        let retryAfter = response.headers.first(name: "retry-after").flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let bytes: [UInt8]
        do { bytes = try await collect(response, from: path, limit: Self.maxErrorBytes) } catch {
            return RemoteModelError.http(status: status, message: response.status.reasonPhrase, type: nil, url: base + path,
                                         retryAfter: retryAfter)
        }
        if let body = try? JSONDecoder().decode(WireErrorBody.self, from: Data(bytes)) {
            return RemoteModelError.http(status: status, message: body.error.message, type: body.error.type, url: base + path,
                                         retryAfter: retryAfter)
        }
        let text = String(decoding: bytes.prefix(500), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return RemoteModelError.http(status: status, message: text.isEmpty ? response.status.reasonPhrase : text,
                                     type: nil, url: base + path)
    }

    /// A failure of a connection found closed before the reply's head arrived.
    static func foundClosed(_ error: any Error) -> Bool {
        if let http = error as? HTTPClientError { return http == .remoteConnectionClosed }
        if let channel = error as? ChannelError { return channel == .ioOnClosedChannel || channel == .eof || channel == .outputClosed }
        if let io = error as? IOError { return io.errnoCode == ECONNRESET || io.errnoCode == EPIPE }
        return false
    }

    /// Transport failures in the words a user needs; cancellation stays cancellation.
    func mapped(_ error: any Error, path: String) -> any Error {
        let url = base + path
        if error is RemoteModelError || error is CancellationError { return error }
        if let http = error as? HTTPClientError {
            switch http {
            case .cancelled: return CancellationError()
            case .deadlineExceeded, .readTimeout, .connectTimeout, .getConnectionFromPoolTimeout:
                return RemoteModelError.timedOut(url: url, seconds: Int(timeout.components.seconds))
            case .remoteConnectionClosed: return RemoteModelError.truncated(url: url)
            default: return RemoteModelError.unreachable(url: url, reason: http.description)
            }
        }
        if Task.isCancelled { return CancellationError() }
        let text = String(describing: error)
        for (needle, reason) in RemoteModelError.transportReasons where text.contains(needle) {
            return RemoteModelError.unreachable(url: url, reason: reason)
        }
        return RemoteModelError.unreachable(url: url, reason: text)
    }
}
