// One reply with tools: the prompt a step generates from and how its reply is read. The tool steps
// (`ToolSteps`) build each of their replies from it.
import Foundation
import MuseCore

/// A function the caller runs itself: offered to the model, never called here.
public struct DeclaredTool: Tool {
    public let name: String
    public let description: String
    public let parametersSchema: String
    public var runsOnCaller: Bool { true }

    public init(name: String, description: String, parametersSchema: String) {
        self.name = name
        self.description = description
        self.parametersSchema = parametersSchema
    }

    public func call(arguments: String) async throws -> String {
        throw ToolError.failed("\(name) is run by the caller, not by the assistant")
    }
}

public struct ToolTurn: Sendable {
    /// How calls are written in this reply.
    public let format: ToolCallFormat
    /// Whether the model's chat template renders the tools, calls and results itself.
    public let native: Bool
    /// The conversation to generate from: tools described in the system prompt, and earlier calls
    /// and results written as text, unless the template renders them.
    public let messages: [ChatMessage]
    /// The tools to hand to the chat template (empty unless `native`).
    public let specs: [ToolSpec]
    /// The shape a forced reply must have (nil: the model may answer in prose).
    public let constraint: OutputFormat?
    /// Text that ends a reply which must not call (a call prefix).
    public let stop: [String]
    /// The tools the model may call in this reply, which calls written as bare JSON must name.
    let offered: [any Tool]

    public init(conversation: [ChatMessage], tools: [any Tool], choice: ToolChoice, format preferred: ToolCallFormat,
                parallelCalls: Bool, useModelTemplate: Bool, model: any LanguageModel) {
        let nativeFormat = useModelTemplate ? model.toolCallFormat : nil
        let format = nativeFormat ?? preferred
        let offered: [any Tool] = switch choice {
        case .none: []
        case .auto, .required: tools
        case .function(let name): tools.filter { $0.name == name }
        }
        self.format = format
        self.offered = offered
        native = nativeFormat != nil
        if native {
            messages = conversation
            specs = offered.map(ToolSpec.init)
        } else {
            let written = Self.writtenOut(conversation, format: format)
            messages = offered.isEmpty ? written : withSystem(format.render(tools: offered), written)
            specs = []
        }
        constraint = switch choice {
        case .required, .function: format.callConstraint(tools: offered, parallel: parallelCalls)
        case .none, .auto: nil
        }
        stop = choice == .none ? [format.callPrefix] : []
    }

    /// The calls in a reply, and the text around them (a reply under `.none` is all text). A reply
    /// that is only calls written as bare JSON counts as calls (see `BareJSONCalls`).
    /// Calls a server reported in structured form (`structured`) come after those written in the
    /// text, with the server's ids; one whose arguments are not a JSON object is an error the model reads.
    public func read(_ text: String, structured: [ToolCall] = [], idPrefix: String) -> ParsedToolCalls {
        guard stop.isEmpty else { return ParsedToolCalls(content: text) }
        var parsed = format.parse(text, idPrefix: idPrefix, tools: offered.map(ToolSpec.init))
        for call in structured {
            if case .object? = try? JSONValue.parse(call.arguments) {
                parsed.calls.append(call)
            } else {
                parsed.errors.append("the arguments of the \(call.name) call are not a JSON object: \(call.arguments.prefix(200))")
            }
        }
        return parsed
    }

    /// A gate for streaming this reply's text: it holds back a call in the format's syntax, and,
    /// while tools are offered, a reply that may yet be calls written as bare JSON, so that text
    /// `read` turns into calls is not streamed as an answer first.
    public var gate: CallGate {
        CallGate(prefix: format.callPrefix, holdingBareJSON: stop.isEmpty && !offered.isEmpty)
    }

    /// Earlier calls and results as plain text, for a template that cannot render them: a call as
    /// the format writes it, the results as one user turn in the words the agent loop uses.
    static func writtenOut(_ conversation: [ChatMessage], format: ToolCallFormat) -> [ChatMessage] {
        guard conversation.contains(where: { $0.role == .tool || !$0.toolCalls.isEmpty }) else { return conversation }
        var out: [ChatMessage] = []
        var names: [String: String] = [:]
        var pending: [ToolResult] = []
        let question = conversation.last { $0.role == .user }?.text ?? ""
        func flush() {
            guard !pending.isEmpty else { return }
            out.append(.user(Assistant.renderResults(pending, errors: []) + "\n\n" + Assistant.followUp(question)))
            pending = []
        }
        for message in conversation {
            switch message.role {
            case .tool:
                let name = message.name ?? message.toolCallID.flatMap { names[$0] } ?? "function"
                pending.append(ToolResult(callID: message.toolCallID ?? "", name: name, content: message.text, isError: false, seconds: 0))
            case .assistant where !message.toolCalls.isEmpty:
                flush()
                for call in message.toolCalls { names[call.id] = call.name }
                let said = message.text.isEmpty ? "" : message.text + "\n"
                out.append(.assistant(said + format.renderCall(message.toolCalls)))
            default:
                flush()
                out.append(message)
            }
        }
        flush()
        return out
    }
}

/// `instruction` as the system prompt, added to one the conversation already has.
func withSystem(_ instruction: String, _ conversation: [ChatMessage]) -> [ChatMessage] {
    if let first = conversation.first, first.role == .system {
        return [.system(first.text + "\n\n" + instruction)] + conversation.dropFirst()
    }
    return [.system(instruction)] + conversation
}
