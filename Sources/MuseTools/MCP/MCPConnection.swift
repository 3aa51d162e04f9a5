// One MCP server, connected: started (stdio) or reached (HTTP), initialized, then asked for its
// tools and to run them. Every request has a deadline, and a server that goes away fails its
// pending requests at once: nothing waits on a dead server.
import Foundation
import Logging
import MCP
import MuseAgents
import MuseCore
import SystemPackage

public enum MCPConnectionError: Error, Sendable, CustomStringConvertible {
    case failedToStart(String)
    /// The server did not answer `what` within the limit.
    case timedOut(what: String, limit: Duration)
    /// The server went away (its process ended, or its connection closed).
    case serverGone(String)
    /// The server answered with an error, or the exchange failed.
    case failed(String)
    case closed

    public var description: String {
        switch self {
        case .failedToStart(let why): "could not start: \(why)"
        case let .timedOut(what, limit): "no answer to \(what) within \(limit.seconds) seconds"
        case .serverGone(let why): "the server is gone: \(why)"
        case .failed(let why): why
        case .closed: "the connection is closed"
        }
    }
}

public actor MCPConnection {
    public nonisolated let configuration: MCPServerConfiguration
    private let client: Client
    private let process: MCPServerProcess?
    /// Why the server can no longer be used, once it cannot.
    private var failure: MCPConnectionError?
    /// The requests in flight, failed at once if the server goes away.
    private var pending: [Int: @Sendable (MCPConnectionError) -> Void] = [:]
    private var nextPending = 0
    private var closing = false
    /// The server's name and version, from its answer to `initialize`.
    public private(set) var serverInfo = ""

    private init(configuration: MCPServerConfiguration, process: MCPServerProcess?) {
        self.configuration = configuration
        self.process = process
        client = Client(name: "muse", version: "1.0")
    }

    /// Starts or reaches the server and initializes the session, within the configured timeout.
    public static func connect(_ configuration: MCPServerConfiguration) async throws(MCPConnectionError) -> MCPConnection {
        let transport: any Transport
        var process: MCPServerProcess?
        switch configuration.endpoint {
        case let .stdio(command, arguments, environment):
            let started = try MCPServerProcess(command: command, arguments: arguments, environment: environment)
            process = started
            transport = ServerPipeTransport(
                read: FileDescriptor(rawValue: started.readDescriptor), write: FileDescriptor(rawValue: started.writeDescriptor))
        case let .http(url, headers):
            transport = MCPHTTPTransport(url: url, headers: headers, timeout: configuration.timeout)
        }
        let connection = MCPConnection(configuration: configuration, process: process)
        await connection.watch(transport)
        do {
            try await connection.initialize(transport)
        } catch {
            await connection.close()
            throw error
        }
        return connection
    }

    private func watch(_ transport: any Transport) async {
        process?.onExit { [weak self] in
            guard let self else { return }
            Task { await self.serverWentAway() }
        }
        if let pipes = transport as? ServerPipeTransport {
            await pipes.onEnd { [weak self] in
                guard let self else { return }
                Task { await self.serverWentAway() }
            }
        }
    }

    private func initialize(_ transport: any Transport) async throws(MCPConnectionError) {
        let client = self.client
        let result = try await request("initialize") {
            try await client.connect(transport: transport)
        }
        serverInfo = "\(result.serverInfo.name) \(result.serverInfo.version)"
    }

    /// All the server's tools (following pages up to a sane number).
    public func listTools() async throws(MCPConnectionError) -> [MCP.Tool] {
        let client = self.client
        var tools: [MCP.Tool] = []
        var cursor: String?
        for _ in 0..<50 {
            let after = cursor
            let page = try await request("tools/list") {
                let context = try await client.send(after.map { ListTools.request(.init(cursor: $0)) } ?? ListTools.request(.init()))
                return try await context.value
            }
            tools += page.tools
            guard let next = page.nextCursor, !next.isEmpty, next != cursor else { break }
            cursor = next
        }
        return tools
    }

    /// Runs the server's tool `name`; the server's result as it gave it (`isError` included).
    public func callTool(_ name: String, arguments: [String: Value]) async throws(MCPConnectionError) -> CallTool.Result {
        let client = self.client
        let context: RequestContext<CallTool.Result>
        if let failure { throw failure }
        do {
            context = try await client.send(CallTool.request(.init(name: name, arguments: arguments)))
        } catch {
            throw Self.describe(error)
        }
        return try await request("tools/call \(name)", abandon: {
            try? await client.cancelRequest(context.requestID, reason: "the client stopped waiting")
        }) {
            try await context.value
        }
    }

    /// Stops the server (stdio) or ends the session (HTTP). Pending requests fail.
    public func close() async {
        guard !closing else { return }
        closing = true
        fail(failure ?? .closed)
        await client.disconnect()
        await process?.stop()
    }

    private func serverWentAway() async {
        guard failure == nil, !closing else { return }
        // The exit status, and what the server said last, may trail the end of its output by a
        // moment; they explain the failure best.
        if let process {
            if !process.hasExited { await process.waitForExit(upTo: .milliseconds(500)) }
            if process.hasExited { await process.waitForErrorOutput(upTo: .milliseconds(500)) }
        }
        guard failure == nil, !closing else { return }
        let why = process?.exitDescription.map { "it \($0)" } ?? "it closed the connection"
        fail(.serverGone(why))
        await client.disconnect()
    }

    private func fail(_ error: MCPConnectionError) {
        if failure == nil { failure = error }
        let waiting = pending.values
        pending = [:]
        for resume in waiting { resume(error) }
    }

    /// `operation`, unless the server goes away first, the timeout passes first or the caller is
    /// cancelled; `abandon` then tells the server. The operation is not waited for after that.
    private func request<T: Sendable>(
        _ what: String, abandon: (@Sendable () async -> Void)? = nil,
        _ operation: @escaping @Sendable () async throws -> T
    ) async throws(MCPConnectionError) -> T {
        if let failure { throw failure }
        let first = FirstOutcome<T>()
        let key = nextPending
        nextPending += 1
        pending[key] = { first.finish(.failure($0)) }
        let limit = configuration.timeout
        let work = Task {
            do {
                first.finish(.success(try await operation()))
            } catch {
                // A write to a server that has died fails before its exit is noticed; the exit
                // says more than the broken pipe.
                if self.process != nil, Self.isBrokenConnection(error) { await self.serverWentAway() }
                first.finish(.failure(Self.describe(error)))
            }
        }
        let timer = Task {
            do { try await Task.sleep(for: limit) } catch { return }
            first.finish(.failure(.timedOut(what: what, limit: limit)))
        }
        let outcome = await withTaskCancellationHandler {
            await first.value
        } onCancel: {
            first.finish(.failure(.failed("cancelled")))
        }
        pending[key] = nil
        timer.cancel()
        switch outcome {
        case .success(let value):
            return value
        case .failure(let error):
            work.cancel()
            if case .timedOut = error { await abandon?() } else if case .failed("cancelled") = error { await abandon?() }
            throw error
        }
    }

    private static func isBrokenConnection(_ error: any Error) -> Bool {
        switch error as? MCPError {
        case .connectionClosed, .transportError: true
        default: false
        }
    }

    static func describe(_ error: any Error) -> MCPConnectionError {
        if let error = error as? MCPConnectionError { return error }
        if let error = error as? MCPError {
            switch error {
            case .connectionClosed: return .serverGone("it closed the connection")
            case .transportError(let underlying): return .failed("transport error: \(describe(underlying))")
            default: return .failed(error.errorDescription ?? "\(error)")
            }
        }
        if error is CancellationError { return .failed("cancelled") }
        if let error = error as? LocalizedError, let text = error.errorDescription { return .failed(text) }
        return .failed("\(error)")
    }
}

/// Whichever outcome comes first; later ones are dropped.
private final class FirstOutcome<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var outcome: Result<T, MCPConnectionError>?
    private var waiter: CheckedContinuation<Result<T, MCPConnectionError>, Never>?

    func finish(_ result: Result<T, MCPConnectionError>) {
        lock.lock()
        guard outcome == nil else { lock.unlock(); return }
        outcome = result
        let waiter = self.waiter
        self.waiter = nil
        lock.unlock()
        waiter?.resume(returning: result)
    }

    var value: Result<T, MCPConnectionError> {
        get async {
            await withCheckedContinuation { continuation in
                lock.lock()
                if let outcome {
                    lock.unlock()
                    continuation.resume(returning: outcome)
                } else {
                    waiter = continuation
                    lock.unlock()
                }
            }
        }
    }
}

/// The SDK's stdio transport on a server process's pipes, with one change: when the server's
/// output ends, the stream of messages ends with an error. (The SDK's client reads again after a
/// stream that simply finishes, in a loop that never waits.) `onEnd` is told.
actor ServerPipeTransport: Transport {
    nonisolated let logger = Logger(label: "muse.mcp.stdio", factory: { _ in SwiftLogNoOpLogHandler() })
    private let pipes: StdioTransport
    private let messages: AsyncThrowingStream<Data, any Error>
    private let sink: AsyncThrowingStream<Data, any Error>.Continuation
    private var endHandler: (@Sendable () -> Void)?
    private var ended = false
    private var forwarding: Task<Void, Never>?

    init(read: FileDescriptor, write: FileDescriptor) {
        pipes = StdioTransport(input: read, output: write,
                               logger: Logger(label: "muse.mcp.stdio", factory: { _ in SwiftLogNoOpLogHandler() }))
        (messages, sink) = AsyncThrowingStream<Data, any Error>.makeStream()
    }

    func onEnd(_ handler: @escaping @Sendable () -> Void) {
        if ended { handler() } else { endHandler = handler }
    }

    func connect() async throws {
        try await pipes.connect()
        let pipes = self.pipes, sink = self.sink
        forwarding = Task { [weak self] in
            do {
                for try await message in await pipes.receive() { sink.yield(message) }
            } catch {}
            sink.finish(throwing: MCPError.connectionClosed)
            await self?.end()
        }
    }

    private func end() {
        ended = true
        let handler = endHandler
        endHandler = nil
        handler?()
    }

    func disconnect() async {
        await pipes.disconnect()
        sink.finish()
    }

    func send(_ data: Data) async throws {
        if ended { throw MCPError.connectionClosed }
        try await pipes.send(data)
    }

    func receive() -> AsyncThrowingStream<Data, any Error> { messages }
}
