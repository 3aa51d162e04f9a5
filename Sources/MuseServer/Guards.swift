// What stands between a request and the model: admission (a bounded number of requests at work),
// API keys, and the middleware that turns every failure into an OpenAI error object.
import Hummingbird
import MuseOpenAI
import Synchronization

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
