// Every way talking to a remote server can fail, worded for the person running the command.

public enum RemoteModelError: Error, Equatable, CustomStringConvertible {
    /// The server answered with an error status; `message` is its OpenAI error object's message
    /// (or the start of the body when it sent none).
    case http(status: Int, message: String, type: String?, url: String)
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

    public var description: String {
        switch self {
        case let .http(status, message, type, url):
            "\(url) answered \(status)\(type.map { " (\($0))" } ?? ""): \(message)"
        case let .stream(message, type):
            "the server stopped the stream with an error\(type.map { " (\($0))" } ?? ""): \(message)"
        case let .unreachable(url, reason):
            "cannot connect to \(url): \(reason)"
        case let .timedOut(url, seconds):
            "\(url) did not answer within \(seconds) s"
        case .truncated(let url):
            "the connection to \(url) closed before the reply was complete"
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
            "not an http(s) base URL: \(url)"
        case .noModels(let url):
            "\(url) lists no models; name one with --model"
        }
    }
}
