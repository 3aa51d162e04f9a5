// What the assistant can call: a named function with a JSON-schema for its arguments. Errors go
// back to the model as text, never crash a run.
import Foundation
import MuseCore

public protocol Tool: Sendable {
    /// The function name the model calls (a-z, 0-9, _ and -).
    var name: String { get }
    var description: String { get }
    /// The JSON Schema of the arguments object, as JSON text.
    var parametersSchema: String { get }
    /// Runs the tool on its arguments (a JSON object as text) and returns the result as text.
    func call(arguments: String) async throws -> String
    /// How long a call may take, when the tool needs other than the assistant's limit.
    var timeLimit: Duration? { get }
    /// Whether the caller runs the tool (an API client's own function): a call to it ends the
    /// answer and is handed back, rather than run.
    var runsOnCaller: Bool { get }
}

extension Tool {
    public var timeLimit: Duration? { nil }
    public var runsOnCaller: Bool { false }
}

extension ToolSpec {
    /// The tool as a model is shown it.
    public init(_ tool: any Tool) {
        self.init(name: tool.name, description: tool.description, parametersSchema: tool.parametersSchema)
    }
}

public enum ToolError: Error, Sendable, Equatable, CustomStringConvertible {
    case badArguments(String)
    case failed(String)

    public var description: String {
        switch self {
        case .badArguments(let why): "bad arguments: \(why)"
        case .failed(let why): why
        }
    }
}

extension Tool {
    /// The string field `key` of a JSON-object argument text.
    public func stringArgument(_ key: String, in arguments: String) throws(ToolError) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: Data(arguments.utf8)) as? [String: Any] else {
            throw .badArguments("expected a JSON object like {\"\(key)\": ...}")
        }
        guard let value = object[key] as? String else { throw .badArguments("\"\(key)\" must be a string") }
        return value
    }
}
