// The body of POST /v1/chat/completions, as OpenAI clients send it: decoded leniently where the
// protocol allows several shapes (a string or parts, a string or a list), strictly elsewhere.
import MuseCore

public struct ChatCompletionRequest: Codable, Sendable, Equatable {
    public var model: String
    public var messages: [Message]
    public var stream: Bool?
    public var streamOptions: StreamOptions?
    public var n: Int?
    public var temperature: Double?
    public var topP: Double?
    public var maxTokens: Int?
    public var maxCompletionTokens: Int?
    public var seed: Int?
    public var stop: Stop?
    public var presencePenalty: Double?
    public var frequencyPenalty: Double?
    public var logprobs: Bool?
    public var topLogprobs: Int?
    public var tools: [Tool]?
    public var toolChoice: ToolChoice?
    public var parallelToolCalls: Bool?
    public var responseFormat: ResponseFormat?
    public var reasoningEffort: String?
    /// Muse's extension: the mode, agent count and whether to stream the agent trace.
    public var muse: MuseOptions?

    enum CodingKeys: String, CodingKey {
        case model, messages, stream, n, temperature, seed, stop, logprobs, tools, muse
        case streamOptions = "stream_options", topP = "top_p", maxTokens = "max_tokens"
        case maxCompletionTokens = "max_completion_tokens", presencePenalty = "presence_penalty"
        case frequencyPenalty = "frequency_penalty", topLogprobs = "top_logprobs", toolChoice = "tool_choice"
        case parallelToolCalls = "parallel_tool_calls", responseFormat = "response_format"
        case reasoningEffort = "reasoning_effort"
    }

    public init(model: String, messages: [Message]) {
        self.model = model
        self.messages = messages
    }

    public struct StreamOptions: Codable, Sendable, Equatable {
        public var includeUsage: Bool?
        enum CodingKeys: String, CodingKey { case includeUsage = "include_usage" }
        public init(includeUsage: Bool?) { self.includeUsage = includeUsage }
    }

    public struct MuseOptions: Codable, Sendable, Equatable {
        public var mode: String?
        public var agents: Int?
        public var trace: Bool?
        /// Whether the assistant may remember facts about the caller, and recall them (`/v1/memory`).
        public var memory: Bool?
        public init(mode: String? = nil, agents: Int? = nil, trace: Bool? = nil, memory: Bool? = nil) {
            self.mode = mode
            self.agents = agents
            self.trace = trace
            self.memory = memory
        }
    }

    /// `"stop": "x"` or `"stop": ["x", "y"]`.
    public struct Stop: Codable, Sendable, Equatable {
        public var values: [String]
        public init(_ values: [String]) { self.values = values }
        public init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let one = try? c.decode(String.self) { values = [one] } else { values = try c.decode([String].self) }
        }
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.singleValueContainer()
            try c.encode(values)
        }
    }

    public struct Tool: Codable, Sendable, Equatable {
        public var type: String
        public var function: Function
        public struct Function: Codable, Sendable, Equatable {
            public var name: String
            public var description: String?
            public var parameters: JSONValue?
            public var strict: Bool?
            public init(name: String, description: String?, parameters: JSONValue?, strict: Bool? = nil) {
                self.name = name
                self.description = description
                self.parameters = parameters
                self.strict = strict
            }
        }
        public init(function: Function) {
            type = "function"
            self.function = function
        }
    }

    /// `"none" | "auto" | "required"` or `{"type": "function", "function": {"name": ...}}`.
    public enum ToolChoice: Codable, Sendable, Equatable {
        case none, auto, required
        case function(String)

        public init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let word = try? c.decode(String.self) {
                switch word {
                case "none": self = .none
                case "auto": self = .auto
                case "required": self = .required
                default:
                    throw DecodingError.dataCorruptedError(in: c, debugDescription: "tool_choice must be none, auto, required or a function")
                }
                return
            }
            struct Named: Decodable {
                struct F: Decodable { var name: String }
                var type: String
                var function: F
            }
            let named = try c.decode(Named.self)
            self = .function(named.function.name)
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.singleValueContainer()
            switch self {
            case .none: try c.encode("none")
            case .auto: try c.encode("auto")
            case .required: try c.encode("required")
            case .function(let name):
                try c.encode(JSONValue.object(["type": .string("function"), "function": .object(["name": .string(name)])]))
            }
        }
    }

    public struct ResponseFormat: Codable, Sendable, Equatable {
        public var type: String
        public var jsonSchema: JSONSchemaFormat?
        enum CodingKeys: String, CodingKey { case type, jsonSchema = "json_schema" }
        public init(type: String, jsonSchema: JSONSchemaFormat? = nil) {
            self.type = type
            self.jsonSchema = jsonSchema
        }

        public struct JSONSchemaFormat: Codable, Sendable, Equatable {
            public var name: String
            public var description: String?
            public var schema: JSONValue?
            public var strict: Bool?
            public init(name: String, description: String? = nil, schema: JSONValue?, strict: Bool? = nil) {
                self.name = name
                self.description = description
                self.schema = schema
                self.strict = strict
            }
        }
    }
}
