// A chat message on the wire: content as a string or a list of parts, tool calls, tool results.
import Foundation

public struct Message: Codable, Sendable, Equatable {
    public var role: String
    public var content: Content?
    public var name: String?
    public var toolCalls: [ToolCall]?
    public var toolCallID: String?
    /// Reasoning text of an assistant message (responses and streamed deltas).
    public var reasoningContent: String?

    enum CodingKeys: String, CodingKey {
        case role, content, name
        case toolCalls = "tool_calls", toolCallID = "tool_call_id", reasoningContent = "reasoning_content"
    }

    public init(role: String, content: Content?, name: String? = nil, toolCalls: [ToolCall]? = nil,
                toolCallID: String? = nil, reasoningContent: String? = nil) {
        self.role = role
        self.content = content
        self.name = name
        self.toolCalls = toolCalls
        self.toolCallID = toolCallID
        self.reasoningContent = reasoningContent
    }

    /// `"content": "text"` or `"content": [{"type": "text", ...}, {"type": "image_url", ...}]`.
    public enum Content: Codable, Sendable, Equatable {
        case text(String)
        case parts([Part])

        public init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let text = try? c.decode(String.self) { self = .text(text) } else { self = .parts(try c.decode([Part].self)) }
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.singleValueContainer()
            switch self {
            case .text(let text): try c.encode(text)
            case .parts(let parts): try c.encode(parts)
            }
        }
    }

    public enum Part: Codable, Sendable, Equatable {
        case text(String)
        case imageURL(String, detail: String?)

        enum CodingKeys: String, CodingKey { case type, text, imageURL = "image_url" }
        struct Image: Codable { var url: String; var detail: String? }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            let type = try c.decode(String.self, forKey: .type)
            switch type {
            case "text": self = .text(try c.decode(String.self, forKey: .text))
            case "image_url":
                let image = try c.decode(Image.self, forKey: .imageURL)
                self = .imageURL(image.url, detail: image.detail)
            default:
                throw DecodingError.dataCorruptedError(forKey: .type, in: c, debugDescription: "unsupported content part type '\(type)'")
            }
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            switch self {
            case .text(let text):
                try c.encode("text", forKey: .type)
                try c.encode(text, forKey: .text)
            case let .imageURL(url, detail):
                try c.encode("image_url", forKey: .type)
                try c.encode(Image(url: url, detail: detail), forKey: .imageURL)
            }
        }
    }

    public struct ToolCall: Codable, Sendable, Equatable {
        public var id: String
        public var type: String
        public var function: Function
        public struct Function: Codable, Sendable, Equatable {
            public var name: String
            /// The arguments as a JSON text, as the protocol carries them.
            public var arguments: String
            public init(name: String, arguments: String) {
                self.name = name
                self.arguments = arguments
            }
        }
        public init(id: String, name: String, arguments: String) {
            self.id = id
            type = "function"
            function = Function(name: name, arguments: arguments)
        }
    }
}
