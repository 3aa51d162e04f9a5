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
        try ToolArguments(arguments, example: "{\"\(key)\": ...}").string(key)
    }
}

/// A call's arguments object, read with errors that name the field at fault (which go back to
/// the model, so that it can write the call again). Numbers keep the exactness the model wrote.
public struct ToolArguments: Sendable {
    public let object: JSONObject

    /// `example` shows the model the shape it should have written.
    public init(_ text: String, example: String) throws(ToolError) {
        guard case .object(let object)? = try? JSONValue.parse(text) else {
            throw .badArguments("expected a JSON object like \(example)")
        }
        self.object = object
    }

    /// The field `key`, nil when it is absent or null.
    public subscript(key: String) -> JSONValue? {
        object[key] == .null ? nil : object[key]
    }

    public func string(_ key: String) throws(ToolError) -> String {
        guard let value = self[key] else { throw .badArguments("\"\(key)\" is required") }
        guard case .string(let text) = value else { throw .badArguments("\"\(key)\" must be a string") }
        return text
    }

    /// A number, or a string that holds one (small models quote numbers).
    public func number(_ key: String) throws(ToolError) -> Double {
        switch self[key] {
        case .number(let number)?: return number.double
        case .string(let text)?:
            guard let number = Double(text.trimmingCharacters(in: .whitespaces)) else { throw .badArguments("\"\(key)\" must be a number") }
            return number
        default: throw .badArguments("\"\(key)\" must be a number")
        }
    }

    /// A whole number within `range`, or nil when the field is absent.
    public func integer(_ key: String, in range: ClosedRange<Int>) throws(ToolError) -> Int? {
        guard let value = self[key] else { return nil }
        guard case .number(let number) = value, let whole = number.integer, range.contains(whole) else {
            throw .badArguments("\"\(key)\" must be a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return whole
    }
}
