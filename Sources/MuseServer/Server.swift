// The HTTP application behind `muse serve` (and the tests): the OpenAI-compatible routes, the web
// chat, keys, bounds and OpenAI-shaped errors.
import Foundation
import Hummingbird
import Logging
import MuseCore
import MuseOpenAI
import Synchronization

public enum MuseServer {
    /// The application for `model` under `configuration`; run it with `runService()`. `onRunning`
    /// gets the address it listens on (the port chosen when the configuration says 0).
    public static func application(model: any LanguageModel, configuration: ServerConfiguration,
                                   onRunning: @escaping @Sendable (String) -> Void = { _ in }) throws -> some ApplicationProtocol {
        var logger = Logger(label: "muse.server")
        logger.logLevel = .notice
        let routes = Routes(model: model, configuration: configuration)
        let router = Router()
        router.add(middleware: ErrorMiddleware())
        router.add(middleware: MetricsMiddleware(metrics: routes.metrics))
        router.get("/health") { _, _ in try routes.health() }
        router.group("metrics").add(middleware: KeyMiddleware(keys: configuration.apiKeys)).get { _, _ in routes.metricsText() }
        let api = router.group("v1")
        api.add(middleware: KeyMiddleware(keys: configuration.apiKeys))
        api.get("models") { _, _ in try routes.models() }
        api.post("chat/completions") { request, _ in try await routes.chatCompletions(request) }
        api.post("completions") { request, _ in try await routes.completions(request) }
        let store = try ConversationStore(path: configuration.dataDirectory?.appendingPathComponent("conversations.sqlite").path)
        WebChatRoutes(routes: routes, store: store).add(to: router, keys: configuration.apiKeys)
        WebAssets.add(to: router)
        return Application(router: router,
                           configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "muse"),
                           onServerRunning: { channel in
                               let address = channel.localAddress
                               onRunning("\(address?.ipAddress ?? configuration.host):\(address?.port ?? configuration.port)")
                           },
                           logger: logger)
    }
}

struct Routes: Sendable {
    let model: any LanguageModel
    let service: ChatService
    let configuration: ServerConfiguration
    let admission: Admission
    let metrics: ServerMetrics
    let started = Int(Date().timeIntervalSince1970)

    init(model: any LanguageModel, configuration: ServerConfiguration) {
        self.model = model
        metrics = ServerMetrics(model: model)
        service = ChatService(model: model, metrics: metrics)
        self.configuration = configuration
        admission = Admission(limit: configuration.limits.maxConcurrentRequests)
    }

    var limits: ServerLimits { configuration.limits }

    func health() throws -> Response {
        try .json(["status": "ok", "model": .string(configuration.modelID)] as JSONValue)
    }

    func metricsText() -> Response {
        Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                 body: .init(byteBuffer: ByteBuffer(string: metrics.exposition(requestsInFlight: admission.inUse))))
    }

    func models() throws -> Response {
        try .json(ModelList(data: [.init(id: configuration.modelID, created: started, ownedBy: "muse")]))
    }

    func chatCompletions(_ request: Request) async throws -> Response {
        let body: ChatCompletionRequest = try await decodeBody(request)
        try checkModel(body.model)
        let job = try ChatJob(body, limits: limits, formats: model.validate)
        let ticket = try admission.enter()
        let id = "chatcmpl-" + Self.randomID()
        let created = Int(Date().timeIntervalSince1970)
        let pieces = service.pieces(job, timeLimit: limits.requestTimeout)
        let modelID = configuration.modelID
        if job.stream {
            return .eventStream { writer in
                _ = ticket
                try await ChatStream(id: id, created: created, model: modelID, job: job).write(pieces, to: &writer)
            }
        }
        var accumulator = ChatAccumulator(choices: job.choices)
        for try await piece in pieces { accumulator.add(piece) }
        withExtendedLifetime(ticket) {}
        return try .json(accumulator.completion(id: id, created: created, model: modelID, job: job))
    }

    func completions(_ request: Request) async throws -> Response {
        let body: CompletionRequest = try await decodeBody(request)
        try checkModel(body.model)
        let job = try TextJob(body, limits: limits, formats: model.validate)
        let ticket = try admission.enter()
        let id = "cmpl-" + Self.randomID()
        let created = Int(Date().timeIntervalSince1970)
        let pieces = service.pieces(job.chatJob, timeLimit: limits.requestTimeout, prompt: .text(job.prompt))
        let modelID = configuration.modelID
        if job.stream {
            return .eventStream { writer in
                _ = ticket
                try await TextStream(id: id, created: created, model: modelID, job: job).write(pieces, to: &writer)
            }
        }
        var accumulator = ChatAccumulator(choices: job.chatJob.choices)
        for try await piece in pieces { accumulator.add(piece) }
        withExtendedLifetime(ticket) {}
        return try .json(job.completion(accumulator, id: id, created: created, model: modelID))
    }

    private func checkModel(_ name: String) throws(APIError) {
        guard name == configuration.modelID || name == "muse" else {
            throw APIError.notFound("the model \(name) does not exist; this server has \(configuration.modelID)")
        }
    }

    func decodeBody<T: Decodable>(_ request: Request) async throws -> T {
        // A body over the limit is still read to its end (up to a bound), so that the client,
        // which is busy sending it, gets to read the 413.
        let limit = limits.maxBodyBytes, discardLimit = limit + (64 << 20)
        let declared = request.headers[.contentLength].flatMap(Int.init) ?? 0
        var buffer = ByteBuffer(), total = 0
        if declared <= discardLimit {
            for try await chunk in request.body {
                total += chunk.readableBytes
                if total > discardLimit { break }
                if total <= limit { buffer.writeImmutableBuffer(chunk) }
            }
        }
        let size = max(declared, total)
        guard size <= limit else {
            throw APIError.tooLarge("the request body is \(size) bytes; the limit is \(limit)")
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
        } catch let error as DecodingError {
            throw APIError.invalidRequest(Self.describe(error))
        } catch {
            throw APIError.invalidRequest("the body is not valid JSON: \(error.localizedDescription)")
        }
    }

    static func describe(_ error: DecodingError) -> String {
        switch error {
        case .dataCorrupted(let c) where c.codingPath.isEmpty: return "the body is not valid JSON"
        case .dataCorrupted(let c): return "\(c.jsonPath): \(c.debugDescription)"
        case .keyNotFound(let key, let c): return "missing required field \(DecodingError.jsonPath(c.codingPath + [key]))"
        case .typeMismatch(let type, let c), .valueNotFound(let type, let c):
            return "\(c.jsonPath) must be \(type == String.self ? "a string" : "of type \(type)")"
        @unknown default: return "the body does not match the expected shape"
        }
    }

    static func randomID() -> String {
        (0..<24).map { _ in String("abcdefghijklmnopqrstuvwxyz0123456789".randomElement()!) }.joined()
    }
}

/// Counts requests at work; beyond the limit a request is refused at once (429) rather than queued
/// without bound. A ticket gives its place back when it is released.
final class Admission: Sendable {
    private let active = Mutex(0)
    let limit: Int
    init(limit: Int) { self.limit = limit }

    final class Ticket: Sendable {
        let admission: Admission
        init(_ admission: Admission) { self.admission = admission }
        deinit { admission.active.withLock { $0 -= 1 } }
    }

    func enter() throws(APIError) -> Ticket {
        let admitted = active.withLock { count in
            guard count < limit else { return false }
            count += 1
            return true
        }
        guard admitted else { throw APIError.overloaded("the server is busy with \(limit) requests; try again shortly") }
        return Ticket(self)
    }

    var inUse: Int { active.withLock { $0 } }
}

/// Bearer keys on /v1 when any are configured.
struct KeyMiddleware<Context: RequestContext>: RouterMiddleware {
    let keys: [String]
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard !keys.isEmpty else { return try await next(request, context) }
        let given = request.headers[.authorization].flatMap { header in
            header.hasPrefix("Bearer ") ? String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces) : nil
        }
        guard let given else { throw APIError.authentication("no API key given; send Authorization: Bearer <key>") }
        guard keys.contains(given) else { throw APIError.authentication("the API key is not valid") }
        return try await next(request, context)
    }
}

/// Every failure leaves as an OpenAI error object with its status.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let apiError = APIError.from(error)
            // The log is the operator's: it keeps what the client is not told (an upstream's address).
            if apiError.status >= 500 {
                let detail = error is APIError ? apiError.message : "\(error)"
                context.logger.error("\(request.method) \(request.uri.path): \(detail)")
            }
            return apiError.response
        }
    }
}

extension APIError {
    /// Seconds a client is told to wait when a model server behind this one is busy or down.
    static let upstreamRetrySeconds = 5

    /// Any error as the API reports it: request problems as 4xx, a full engine as 429, a model
    /// server behind this one as 502, 503 or 504 (never with its address), the rest as 500.
    static func from(_ error: any Error) -> APIError {
        switch error {
        case let error as APIError: return error
        case let error as HTTPError:
            let status = Int(error.status.code)
            let message = error.body ?? error.status.reasonPhrase
            return switch status {
            case 404: APIError(status: 404, message: "no such route", type: "invalid_request_error", code: "not_found")
            case 405: APIError(status: 405, message: "method not allowed", type: "invalid_request_error")
            case 413: .tooLarge(message)
            default: APIError(status: status, message: message, type: status < 500 ? "invalid_request_error" : "server_error")
            }
        case let error as any ClassifiedError:
            return from(error.category, message: error.publicDescription)
        case let error as ConversationStoreError:
            return switch error {
            case .notFound: APIError(status: 404, message: error.description, type: "invalid_request_error", code: "not_found")
            case .full: .invalidRequest(error.description)
            }
        case is TimeLimitExceeded:
            return APIError(status: 504, message: "the request ran past the server's time limit", type: "server_error", code: "timeout")
        case is CancellationError:
            return APIError(status: 499, message: "the request was cancelled", type: "server_error", code: "cancelled")
        default:
            return .server("\(error)")
        }
    }

    /// A model's failure by what it means. A model server's refusal of the request's content
    /// (400, 413, 422) is the client's to fix and keeps its status; its other statuses (a key it
    /// refuses, a model it lacks, its own errors) are this server's problem: 502.
    static func from(_ category: FailureCategory, message: String) -> APIError {
        switch category {
        case .invalidRequest:
            return .invalidRequest(message)
        case .busy(let seconds):
            return .overloaded(message, code: "engine_full", retryAfter: seconds)
        case .upstream(.status(let status)) where [400, 413, 422].contains(status):
            return APIError(status: status, message: message, type: "invalid_request_error", code: "upstream_refused")
        case .upstream(.status(429)):
            return .overloaded(message, code: "upstream_busy", retryAfter: upstreamRetrySeconds)
        case .upstream(.status(503)), .upstream(.unreachable):
            return APIError(status: 503, message: message, type: "server_error", code: "upstream_unavailable",
                            retryAfter: upstreamRetrySeconds)
        case .upstream(.timedOut):
            return APIError(status: 504, message: message, type: "server_error", code: "upstream_timeout")
        case .upstream(.status), .upstream(.badReply):
            return APIError(status: 502, message: message, type: "server_error", code: "upstream_error")
        }
    }

    var response: Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        let data = (try? encoder.encode(self)) ?? Data(#"{"error":{"message":"error","type":"server_error"}}"#.utf8)
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

extension Response {
    static func json<T: Encodable>(_ value: T) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return Response(status: .ok, headers: [.contentType: "application/json"],
                        body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
    }

    /// A server-sent-events response whose body `write` produces.
    static func eventStream(_ write: @escaping @Sendable (inout any ResponseBodyWriter) async throws -> Void) -> Response {
        Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
                 body: ResponseBody { writer in
                     try await write(&writer)
                     try await writer.finish(nil)
                 })
    }
}

struct TimeLimitExceeded: Error {}

/// The operation's result, or `TimeLimitExceeded` (the operation cancelled and awaited) after `limit`.
func withTimeLimit<T: Sendable>(_ limit: Duration, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw TimeLimitExceeded()
        }
        defer { group.cancelAll() }
        guard let first = try await group.next() else { throw CancellationError() }
        return first
    }
}
