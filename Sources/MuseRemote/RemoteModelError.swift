// Every way talking to a remote server can fail, worded for the person running the command (with
// the server's URL) and for clients of Muse's own API (without it).
import MuseCore

public enum RemoteModelError: ClassifiedError, Equatable {
    /// The server answered with an error status; `message` is its OpenAI error object's message
    /// (or the start of the body when it sent none), `retryAfter` its `Retry-After` in seconds.
    case http(status: Int, message: String, type: String?, url: String, retryAfter: Int? = nil)
    /// The server reported an error inside a stream that had already started.
    case stream(message: String, type: String?)
    /// No connection could be made (refused, no route, name not found).
    case unreachable(url: String, reason: String)
    /// The server did not answer in time.
    case timedOut(url: String, seconds: Int)
    /// The connection closed before the reply was complete.
    case truncated(url: String)
    /// A `data:` payload that is not the JSON the protocol promises.
    case malformedEvent(excerpt: String, reason: String)
    case eventTooLarge(limit: Int)
    case responseTooLarge(limit: Int)
    /// Token-id prompts: a remote server takes text.
    case tokenPrompt
    /// A request the protocol has no way to express.
    case unsupported(String)
    case invalidURL(String)
    /// `GET /models` answered, but listed nothing to use.
    case noModels(url: String)

    public var category: FailureCategory {
        switch self {
        case let .http(status, _, _, _, retryAfter): .upstream(.status(status, retryAfter: retryAfter))
        case .unreachable, .invalidURL: .upstream(.unreachable)
        case .timedOut: .upstream(.timedOut)
        case .stream, .truncated, .malformedEvent, .eventTooLarge, .responseTooLarge, .noModels: .upstream(.badReply)
        case .tokenPrompt, .unsupported: .invalidRequest
        }
    }

    /// Transport failures as their error text names them, and the plain words `RemoteEndpoint`
    /// reports them in.
    static let transportReasons = [("Connection refused", "connection refused"), ("connectionRefused", "connection refused"),
                                   ("No route to host", "no route to host"), ("Network is unreachable", "network is unreachable"),
                                   ("DNS", "the host name could not be resolved"), ("Connection reset", "connection reset by the server")]
    /// Those plain words: the only transport reasons a client of the API is told.
    static let plainReasons = Set(transportReasons.map(\.1))

    public var description: String { text(naming: nil) }

    public var publicDescription: String { text(naming: "the model server") }

    /// The message, with the server called `server` instead of by its URL when given.
    private func text(naming server: String?) -> String {
        switch self {
        case let .http(status, message, type, url, _):
            "\(server ?? url) answered \(status)\(type.map { " (\($0))" } ?? ""): \(message)"
        case let .stream(message, type):
            "the server stopped the stream with an error\(type.map { " (\($0))" } ?? ""): \(message)"
        case let .unreachable(url, reason):
            // A transport error's own text may carry addresses: only the plain reasons go to clients.
            server == nil || Self.plainReasons.contains(reason) ? "cannot connect to \(server ?? url): \(reason)"
                : "cannot connect to \(server ?? url)"
        case let .timedOut(url, seconds):
            "\(server ?? url) did not answer within \(seconds) s"
        case .truncated(let url):
            "the connection to \(server ?? url) closed before the reply was complete"
        case let .malformedEvent(excerpt, reason):
            "the server sent an event that is not a valid completion chunk (\(reason)): \(excerpt)"
        case .eventTooLarge(let limit):
            "the server sent a line of more than \(limit / (1 << 20)) MiB in its event stream; refused"
        case .responseTooLarge(let limit):
            "the server's reply is larger than \(limit / (1 << 20)) MiB; refused"
        case .tokenPrompt:
            "a remote server takes text, not token ids: give a chat or a text prompt"
        case .unsupported(let what):
            "a remote server cannot be asked for this: \(what)"
        case .invalidURL(let url):
            server.map { "\($0) has no valid address" } ?? "not an http(s) base URL: \(url)"
        case .noModels(let url):
            server.map { "\($0) lists no models" } ?? "\(url) lists no models; name one with --model"
        }
    }
}
