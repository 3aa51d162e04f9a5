// What the server answers: a whole completion, stream chunks, usage, and OpenAI-shaped errors.
import Foundation
import MuseCore

public struct Usage: Codable, Sendable, Equatable {
    public var promptTokens: Int
    public var completionTokens: Int
    public var totalTokens: Int
    enum CodingKeys: String, CodingKey {
        case promptTokens = "prompt_tokens", completionTokens = "completion_tokens", totalTokens = "total_tokens"
    }
    public init(promptTokens: Int, completionTokens: Int) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        totalTokens = promptTokens + completionTokens
    }
}

public struct ChatCompletion: Codable, Sendable, Equatable {
    public var id: String
    public var object = "chat.completion"
    public var created: Int
    public var model: String
    public var choices: [Choice]
    public var usage: Usage?
    /// Muse's extension (the agent trace), present only when asked for; clients ignore it.
    public var muse: JSONValue?

    public struct Choice: Codable, Sendable, Equatable {
        public var index: Int
        public var message: Message
        public var finishReason: String?
        public var logprobs: ChoiceLogprobs?
        enum CodingKeys: String, CodingKey { case index, message, logprobs, finishReason = "finish_reason" }
        public init(index: Int, message: Message, finishReason: String?, logprobs: ChoiceLogprobs? = nil) {
            self.index = index
            self.message = message
            self.finishReason = finishReason
            self.logprobs = logprobs
        }

        // logprobs is present (null) when not asked for, as clients expect.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(index, forKey: .index)
            try c.encode(message, forKey: .message)
            try c.encode(logprobs, forKey: .logprobs)
            try c.encode(finishReason, forKey: .finishReason)
        }
    }

    public init(id: String, created: Int, model: String, choices: [Choice], usage: Usage?, muse: JSONValue? = nil) {
        self.id = id
        self.created = created
        self.model = model
        self.choices = choices
        self.usage = usage
        self.muse = muse
    }
}

/// A choice's log-probabilities: each generated token with its most likely alternatives.
public struct ChoiceLogprobs: Codable, Sendable, Equatable {
    public var content: [TokenLogprob]
    public init(content: [TokenLogprob]) { self.content = content }

    public struct TokenLogprob: Codable, Sendable, Equatable {
        public var token: String
        public var logprob: Double
        public var bytes: [Int]?
        public var topLogprobs: [Alternative]
        enum CodingKeys: String, CodingKey { case token, logprob, bytes, topLogprobs = "top_logprobs" }
        public init(token: String, logprob: Double, topLogprobs: [Alternative]) {
            self.token = token
            self.logprob = logprob
            bytes = token.utf8.map(Int.init)
            self.topLogprobs = topLogprobs
        }
    }

    public struct Alternative: Codable, Sendable, Equatable {
        public var token: String
        public var logprob: Double
        public var bytes: [Int]?
        public init(token: String, logprob: Double) {
            self.token = token
            self.logprob = logprob
            bytes = token.utf8.map(Int.init)
        }
    }
}

public struct ChatCompletionChunk: Codable, Sendable, Equatable {
    public var id: String
    public var object = "chat.completion.chunk"
    public var created: Int
    public var model: String
    public var choices: [Choice]
    /// Null on every chunk but the last one of a stream that asked for usage.
    public var usage: Usage?
    /// Muse's extension (one agent-trace event), present only when asked for; clients ignore it.
    public var muse: JSONValue?

    public struct Choice: Codable, Sendable, Equatable {
        public var index: Int
        public var delta: Delta
        public var finishReason: String?
        public var logprobs: ChoiceLogprobs?
        enum CodingKeys: String, CodingKey { case index, delta, logprobs, finishReason = "finish_reason" }

        public init(index: Int, delta: Delta, finishReason: String?, logprobs: ChoiceLogprobs? = nil) {
            self.index = index
            self.delta = delta
            self.finishReason = finishReason
            self.logprobs = logprobs
        }

        // finish_reason and logprobs are present (null) on every chunk, as clients expect.
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(index, forKey: .index)
            try c.encode(delta, forKey: .delta)
            try c.encode(logprobs, forKey: .logprobs)
            try c.encode(finishReason, forKey: .finishReason)
        }
    }

    public struct Delta: Codable, Sendable, Equatable {
        public var role: String?
        public var content: String?
        public var reasoningContent: String?
        public var toolCalls: [ToolCallDelta]?
        enum CodingKeys: String, CodingKey { case role, content, reasoningContent = "reasoning_content", toolCalls = "tool_calls" }
        public init(role: String? = nil, content: String? = nil, reasoningContent: String? = nil, toolCalls: [ToolCallDelta]? = nil) {
            self.role = role
            self.content = content
            self.reasoningContent = reasoningContent
            self.toolCalls = toolCalls
        }
    }

    /// A tool call as a stream carries it: the first piece has the id and name, later pieces add
    /// to the arguments of the call at `index`.
    public struct ToolCallDelta: Codable, Sendable, Equatable {
        public var index: Int
        public var id: String?
        public var type: String?
        public var function: Function
        public struct Function: Codable, Sendable, Equatable {
            public var name: String?
            public var arguments: String?
            public init(name: String?, arguments: String?) {
                self.name = name
                self.arguments = arguments
            }
        }
        public init(index: Int, id: String?, name: String?, arguments: String?) {
            self.index = index
            self.id = id
            type = id == nil ? nil : "function"
            function = Function(name: name, arguments: arguments)
        }
    }

    public init(id: String, created: Int, model: String, choices: [Choice], usage: Usage? = nil, muse: JSONValue? = nil) {
        self.id = id
        self.created = created
        self.model = model
        self.choices = choices
        self.usage = usage
        self.muse = muse
    }

    // usage is present (null) on every chunk, as clients expect; the extension only when set.
    enum CodingKeys: String, CodingKey { case id, object, created, model, choices, usage, muse }
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(object, forKey: .object)
        try c.encode(created, forKey: .created)
        try c.encode(model, forKey: .model)
        try c.encode(choices, forKey: .choices)
        try c.encode(usage, forKey: .usage)
        try c.encodeIfPresent(muse, forKey: .muse)
    }
}

/// `{"error": {"message", "type", "param", "code"}}` with the HTTP status it goes with.
public struct APIError: Error, Codable, Sendable, Equatable {
    public var status: Int
    public var message: String
    public var type: String
    public var param: String?
    public var code: String?
    /// Seconds after which the same request may succeed (sent as `Retry-After`, not in the body).
    public var retryAfter: Int?

    public init(status: Int, message: String, type: String, param: String? = nil, code: String? = nil, retryAfter: Int? = nil) {
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.retryAfter = retryAfter
    }

    public static func invalidRequest(_ message: String, param: String? = nil) -> APIError {
        APIError(status: 400, message: message, type: "invalid_request_error", param: param)
    }
    public static func authentication(_ message: String) -> APIError {
        APIError(status: 401, message: message, type: "authentication_error", code: "invalid_api_key")
    }
    public static func notFound(_ message: String) -> APIError {
        APIError(status: 404, message: message, type: "not_found_error", code: "model_not_found")
    }
    public static func tooLarge(_ message: String) -> APIError {
        APIError(status: 413, message: message, type: "invalid_request_error", code: "request_too_large")
    }
    public static func overloaded(_ message: String, code: String = "queue_full", retryAfter: Int = 1) -> APIError {
        APIError(status: 429, message: message, type: "rate_limit_error", code: code, retryAfter: retryAfter)
    }
    public static func unavailable(_ message: String) -> APIError {
        APIError(status: 503, message: message, type: "server_error", code: "unavailable")
    }
    public static func server(_ message: String) -> APIError {
        APIError(status: 500, message: message, type: "server_error")
    }

    enum CodingKeys: String, CodingKey { case error }
    enum Inner: String, CodingKey { case message, type, param, code }

    public init(from decoder: any Decoder) throws {
        let outer = try decoder.container(keyedBy: CodingKeys.self)
        let c = try outer.nestedContainer(keyedBy: Inner.self, forKey: .error)
        status = 0
        message = try c.decode(String.self, forKey: .message)
        type = try c.decode(String.self, forKey: .type)
        param = try c.decodeIfPresent(String.self, forKey: .param)
        code = try c.decodeIfPresent(String.self, forKey: .code)
    }

    public func encode(to encoder: any Encoder) throws {
        var outer = encoder.container(keyedBy: CodingKeys.self)
        var c = outer.nestedContainer(keyedBy: Inner.self, forKey: .error)
        try c.encode(message, forKey: .message)
        try c.encode(type, forKey: .type)
        try c.encode(param, forKey: .param)
        try c.encode(code, forKey: .code)
    }
}

/// JSON as Muse writes it on the wire: members in the order a type declares them (OpenAI's order
/// for its objects) and a `JSONValue`'s in the order it holds, so that the same value is the same
/// text every time and a schema keeps its property order (Foundation's encoder on Linux orders
/// members at random).
public enum WireJSON {
    public static func data<T: Encodable>(_ value: T) throws -> Data {
        Data(try JSONValueEncoder.encode(value).jsonText.utf8)
    }
}

/// Server-sent events as the streaming endpoint writes them (`EventStreamParser` reads them).
public enum ServerSentEvents {
    public static func event<T: Encodable>(_ value: T) throws -> String {
        "data: " + String(decoding: try WireJSON.data(value), as: UTF8.self) + "\n\n"
    }

    public static let done = "data: [DONE]\n\n"
}
