// The conversation vocabulary every layer shares: messages, their parts, tool calls.

/// Who speaks a message.
public enum ChatRole: String, Sendable, Codable, CaseIterable {
    case system, user, assistant, tool
}

/// One part of a message's content. Images are carried through the layers so that a front end can
/// accept them; an engine without vision rejects them with a clear error.
public enum ContentPart: Sendable, Equatable {
    case text(String)
    case image(ImageSource)
}

/// Where an image comes from: a URL (http(s) or data:) as the OpenAI protocol carries it.
public struct ImageSource: Sendable, Equatable {
    public var url: String
    public init(url: String) { self.url = url }
}

/// A call the assistant asked for: the function's name and its arguments as a JSON text.
public struct ToolCall: Sendable, Equatable, Codable {
    public var id: String
    public var name: String
    public var arguments: String
    public init(id: String, name: String, arguments: String) {
        self.id = id
        self.name = name
        self.arguments = arguments
    }
}

public struct ChatMessage: Sendable, Equatable {
    public var role: ChatRole
    public var content: [ContentPart]
    public var name: String?
    public var toolCalls: [ToolCall]
    /// For a `tool` message: the id of the call it answers.
    public var toolCallID: String?

    public init(role: ChatRole, content: [ContentPart], name: String? = nil,
                toolCalls: [ToolCall] = [], toolCallID: String? = nil) {
        self.role = role
        self.content = content
        self.name = name
        self.toolCalls = toolCalls
        self.toolCallID = toolCallID
    }

    public init(role: ChatRole, text: String) {
        self.init(role: role, content: [.text(text)])
    }

    public static func system(_ text: String) -> ChatMessage { ChatMessage(role: .system, text: text) }
    public static func user(_ text: String) -> ChatMessage { ChatMessage(role: .user, text: text) }
    public static func assistant(_ text: String) -> ChatMessage { ChatMessage(role: .assistant, text: text) }

    /// The text parts joined; images contribute nothing.
    public var text: String {
        content.reduce(into: "") { out, part in
            if case .text(let t) = part { out += t }
        }
    }

    public var hasImages: Bool {
        content.contains { if case .image = $0 { true } else { false } }
    }
}
