// Why a model could not generate. The local engine throws `GenerationError`; other models (a remote
// server) throw their own types. Each says what it means to the caller through `ClassifiedError`,
// so a front end maps every model's failures with one table, whatever module threw them.

/// What a failure means to whoever asked for the generation.
public enum FailureCategory: Sendable, Equatable {
    /// The request cannot be served as given; sending it again will not help.
    case invalidRequest
    /// No room now (the model's memory is full); the same request may succeed after a while.
    case busy(retryAfterSeconds: Int)
    /// The model is another server, and it failed.
    case upstream(UpstreamFailure)
}

/// How a model server behind this one failed.
public enum UpstreamFailure: Sendable, Equatable {
    /// It answered with this error status, and maybe a `Retry-After` in seconds.
    case status(Int, retryAfter: Int? = nil)
    /// No connection could be made.
    case unreachable
    /// It did not answer in time.
    case timedOut
    /// Its reply was cut off, malformed, too large, or an error event in the stream.
    case badReply
}

/// An error that knows its `FailureCategory`.
public protocol ClassifiedError: Error, CustomStringConvertible {
    var category: FailureCategory { get }
    /// The description with nothing private to this host in it (an upstream server's URL), for
    /// clients of an API; `description` may say more, for the person running the command.
    var publicDescription: String { get }
}

extension ClassifiedError {
    public var publicDescription: String { description }
}

/// The local engine's failures.
public enum GenerationError: ClassifiedError, Sendable, Equatable {
    case imagesUnsupported
    case noChatTemplate
    case template(String)
    case emptyPrompt
    case invalidToken(Int32)
    case contextExceeded(promptTokens: Int, contextLength: Int)
    /// An output format that cannot be enforced: an invalid or unsupported schema, with the reason.
    case format(String)
    /// The KV cache's memory cap leaves no room for the request now.
    case cacheFull(neededBlocks: Int, capacityBlocks: Int)

    /// How long a request refused for want of cache should wait: long enough for other requests
    /// to finish a turn and give their blocks back.
    public static let cacheRetrySeconds = 2

    public var category: FailureCategory {
        switch self {
        case .cacheFull: .busy(retryAfterSeconds: Self.cacheRetrySeconds)
        case .imagesUnsupported, .noChatTemplate, .template, .emptyPrompt, .invalidToken, .contextExceeded, .format:
            .invalidRequest
        }
    }

    public var description: String {
        switch self {
        case .imagesUnsupported: "this model cannot read images; send text only"
        case .noChatTemplate: "the model has no chat template; use a raw completion instead"
        case .template(let message): "the chat template failed: \(message)"
        case .emptyPrompt: "the prompt is empty"
        case .invalidToken(let id): "token id \(id) is outside the model's vocabulary"
        case let .contextExceeded(prompt, context):
            "the prompt has \(prompt) tokens, which does not leave room in the context window of \(context)"
        case .format(let reason): reason
        case let .cacheFull(needed, capacity):
            "the KV cache is full: \(needed) more blocks needed, \(capacity) blocks is the cap; shorten the conversation or raise the context size"
        }
    }
}
