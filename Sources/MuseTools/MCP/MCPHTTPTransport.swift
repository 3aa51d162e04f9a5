// The Streamable HTTP transport: each message is POSTed; the server answers with one JSON
// message (application/json), with a stream of server-sent events carrying messages
// (text/event-stream), or with 202 for a notification. The session id the server gives at
// initialization (Mcp-Session-Id) and the negotiated protocol version (MCP-Protocol-Version) go
// with every later request. Events are read as they arrive, so an answer is delivered even while
// the server keeps its stream open.
//
// The SDK has its own HTTP client transport, but on Linux it hands an event-stream body on as one
// undecoded message, so a request answered that way never completes.
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import MCP
import MuseAgents
import MuseCore

public actor MCPHTTPTransport: Transport {
    public nonisolated let logger = Logger(label: "muse.mcp.http", factory: { _ in SwiftLogNoOpLogHandler() })
    private let url: URL
    private let headers: [String: String]
    private let timeout: Duration
    private let state = SessionState()
    private let messages: AsyncThrowingStream<Data, any Error>
    private let sink: AsyncThrowingStream<Data, any Error>.Continuation
    private var connected = false

    public init(url: URL, headers: [String: String] = [:], timeout: Duration = MCPConfiguration.defaultTimeout) {
        self.url = url
        self.headers = headers
        self.timeout = timeout
        (messages, sink) = AsyncThrowingStream<Data, any Error>.makeStream()
    }

    /// The session id the server gave, if any.
    public var sessionID: String? { state.sessionID }
    /// The protocol version agreed at initialization, if known yet.
    public var protocolVersion: String? { state.protocolVersion }

    public func connect() async throws {
        connected = true
    }

    /// Ends the session on the server (DELETE, as the specification asks) when there is one.
    public func disconnect() async {
        guard connected else { return }
        connected = false
        sink.finish()
        guard let session = state.sessionID else { return }
        var request = makeRequest(method: "DELETE", sessionID: session)
        request.timeoutInterval = 2
        _ = try? await HTTPExchange.run(request, limit: .seconds(2), onResponse: { _ in }, onMessage: { _ in })
    }

    public func send(_ data: Data) async throws {
        guard connected else { throw MCPError.internalError("the HTTP transport is not connected") }
        let expected = Self.requestID(in: data)
        var request = makeRequest(method: "POST", sessionID: state.sessionID)
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = data
        let state = self.state, sink = self.sink
        let seen = AnsweredIDs()
        let exchange = try await HTTPExchange.run(request, limit: timeout, onResponse: { response in
            // Before any message is delivered: the client's next request must carry the session id.
            if let id = response.value(forHTTPHeaderField: "Mcp-Session-Id"), !id.isEmpty { state.sessionID = id }
        }, onMessage: { message in
            state.notice(message)
            seen.record(message)
            sink.yield(message)
        })
        let status = exchange.response.statusCode
        switch status {
        case 200..<300:
            break
        case 404 where state.sessionID != nil && request.value(forHTTPHeaderField: "Mcp-Session-Id") != nil:
            throw MCPError.internalError("the server has ended the session (HTTP 404)")
        default:
            let body = String(decoding: exchange.body.prefix(300), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw MCPError.internalError("HTTP \(status) from \(url.absoluteString)\(body.isEmpty ? "" : ": \(body)")")
        }
        if exchange.isEventStream {
            if let expected, !seen.contains(expected) {
                throw MCPError.internalError("the server ended its event stream without answering")
            }
        } else if !exchange.body.allSatisfy({ [0x20, 0x0A, 0x0D, 0x09].contains($0) }) {
            // application/json (or a server that names no type): one message or a batch.
            guard (try? JSONValue.parse([UInt8](exchange.body))) != nil else {
                throw MCPError.internalError("the server's reply is not JSON")
            }
            state.notice(exchange.body)
            sink.yield(exchange.body)
        } else if expected != nil {
            throw MCPError.internalError("HTTP \(status) without an answer")
        }
    }

    public func receive() -> AsyncThrowingStream<Data, any Error> { messages }

    private func makeRequest(method: String, sessionID: String?) -> URLRequest {
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.timeoutInterval = timeout.seconds
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        request.setValue("application/json, text/event-stream", forHTTPHeaderField: "Accept")
        if let sessionID { request.setValue(sessionID, forHTTPHeaderField: "Mcp-Session-Id") }
        if let version = state.protocolVersion { request.setValue(version, forHTTPHeaderField: "MCP-Protocol-Version") }
        return request
    }

    /// The id of a request (not of a notification or a response), as JSON text.
    static func requestID(in message: Data) -> String? {
        guard let object = try? JSONValue.parse([UInt8](message)), object["method"] != nil, let id = object["id"] else { return nil }
        return idText(id)
    }

    static func idText(_ id: JSONValue) -> String? {
        switch id {
        case .string(let text): "s:\(text)"
        case .number(let number): number.integer.map { "n:\($0)" }
        default: nil
        }
    }
}

/// What the server has told us about the session; read and written from URLSession's queue too.
private final class SessionState: @unchecked Sendable {
    private let lock = NSLock()
    private var _sessionID: String?
    private var _protocolVersion: String?

    var sessionID: String? {
        get { lock.lock(); defer { lock.unlock() }; return _sessionID }
        set { lock.lock(); _sessionID = newValue; lock.unlock() }
    }

    var protocolVersion: String? {
        lock.lock()
        defer { lock.unlock() }
        return _protocolVersion
    }

    /// Takes the protocol version from the answer to `initialize`.
    func notice(_ message: Data) {
        guard let result = (try? JSONValue.parse([UInt8](message)))?["result"], result["serverInfo"] != nil,
              case .string(let version)? = result["protocolVersion"] else { return }
        lock.lock()
        _protocolVersion = version
        lock.unlock()
    }
}

/// The ids of the responses one exchange delivered.
private final class AnsweredIDs: @unchecked Sendable {
    private let lock = NSLock()
    private var ids: Set<String> = []

    func record(_ message: Data) {
        guard let parsed = try? JSONValue.parse([UInt8](message)) else { return }
        let objects = if case .array(let batch) = parsed { batch } else { [parsed] }
        lock.lock()
        defer { lock.unlock() }
        for object in objects where object["method"] == nil {
            if let id = object["id"].flatMap(MCPHTTPTransport.idText) { ids.insert(id) }
        }
    }

    func contains(_ id: String) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        return ids.contains(id)
    }
}

/// One HTTP request through URLSession's delegate API, so that an event stream is decoded as its
/// bytes arrive.
private final class HTTPExchange: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    struct Outcome {
        var response: HTTPURLResponse
        var isEventStream: Bool
        /// The body, unless it was an event stream (kept only up to a cap).
        var body: Data
    }

    private static let bodyLimit = 16 << 20
    private let lock = NSLock()
    private let onResponse: @Sendable (HTTPURLResponse) -> Void
    private let onMessage: @Sendable (Data) -> Void
    private var response: HTTPURLResponse?
    private var isEventStream = false
    private var body = Data()
    private var events = EventStreamDecoder()
    private var continuation: CheckedContinuation<Outcome, any Error>?
    private var finished = false

    private init(onResponse: @escaping @Sendable (HTTPURLResponse) -> Void, onMessage: @escaping @Sendable (Data) -> Void) {
        self.onResponse = onResponse
        self.onMessage = onMessage
    }

    static func run(_ request: URLRequest, limit: Duration, onResponse: @escaping @Sendable (HTTPURLResponse) -> Void,
                    onMessage: @escaping @Sendable (Data) -> Void) async throws -> Outcome {
        let exchange = HTTPExchange(onResponse: onResponse, onMessage: onMessage)
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = limit.seconds
        configuration.timeoutIntervalForResource = limit.seconds
        let session = URLSession(configuration: configuration, delegate: exchange, delegateQueue: nil)
        defer { session.finishTasksAndInvalidate() }
        let task = session.dataTask(with: request)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                exchange.lock.lock()
                exchange.continuation = continuation
                exchange.lock.unlock()
                task.resume()
            }
        } onCancel: {
            task.cancel()
        }
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping @Sendable (URLSession.ResponseDisposition) -> Void) {
        if let http = response as? HTTPURLResponse {
            let type = http.value(forHTTPHeaderField: "Content-Type")?.lowercased() ?? ""
            lock.lock()
            self.response = http
            isEventStream = (200..<300).contains(http.statusCode) && type.hasPrefix("text/event-stream")
            lock.unlock()
            onResponse(http)
        }
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        lock.lock()
        if isEventStream {
            let messages = events.feed(data)
            lock.unlock()
            for message in messages { onMessage(message) }
        } else {
            if body.count < Self.bodyLimit { body.append(data) }
            lock.unlock()
        }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
        lock.lock()
        guard !finished, let continuation else { lock.unlock(); return }
        finished = true
        self.continuation = nil
        let remaining = isEventStream ? events.finish() : []
        let outcome = response.map { Outcome(response: $0, isEventStream: isEventStream, body: body) }
        lock.unlock()
        for message in remaining { onMessage(message) }
        if let error {
            continuation.resume(throwing: MCPError.internalError("HTTP request failed: \(error.localizedDescription)"))
        } else if let outcome {
            continuation.resume(returning: outcome)
        } else {
            continuation.resume(throwing: MCPError.internalError("no HTTP response"))
        }
    }
}

/// A `text/event-stream` body fed as it arrives: the data of each complete `message` event (events
/// of other types are skipped). A line over the parser's cap ends the stream's messages, so that
/// a hostile server cannot make the client buffer without bound.
struct EventStreamDecoder {
    private var parser = EventStreamParser()
    private var refused = false

    mutating func feed(_ bytes: Data) -> [Data] {
        guard !refused else { return [] }
        do { return Self.messages(try parser.feed(bytes)) } catch {
            refused = true
            return []
        }
    }

    /// The last event, when the stream ends without the blank line after it.
    mutating func finish() -> [Data] {
        refused ? [] : Self.messages(parser.finish().map { [$0] } ?? [])
    }

    private static func messages(_ events: [ServerSentEvent]) -> [Data] {
        events.filter { $0.name == nil || $0.name == "message" || $0.name == "" }.map { Data($0.data.utf8) }
    }
}
