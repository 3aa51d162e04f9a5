// A tool's arguments checked against the part of its JSON Schema that tells a real call from JSON
// that merely looks like one: required properties, the types of declared properties, and closed
// objects. Nothing deeper: the tool itself reports finer problems to the model, and a full
// validator lives in the engine.
import Foundation

/// Why arguments do not fit a tool's schema.
package enum ArgumentMismatch: Error, Sendable, Equatable, CustomStringConvertible {
    case notAnObject
    case missing(String)
    /// The property, and the types the schema allows for it.
    case wrongType(String, expected: [String])
    /// A property the schema does not declare, with `additionalProperties: false`.
    case unknown(String)

    package var description: String {
        switch self {
        case .notAnObject: "the arguments are not a JSON object"
        case .missing(let name): "the required property \"\(name)\" is missing"
        case .wrongType(let name, let expected): "\"\(name)\" must be \(expected.joined(separator: " or "))"
        case .unknown(let name): "\"\(name)\" is not a property of this tool"
        }
    }
}

struct ArgumentSchema: Sendable {
    /// Each declared property's allowed types; an empty list allows any value.
    var properties: [String: [String]] = [:]
    var required: [String] = []
    /// `additionalProperties: false`.
    var closed = false

    /// The schema in `text`. One that cannot be read constrains nothing: the format's own parser
    /// does not check schemas either, and a tool with an odd schema should stay callable.
    init(_ text: String) {
        guard case .object(let schema)? = try? JSONValue.parse(text) else { return }
        if case .object(let declared)? = schema["properties"] {
            for (name, property) in declared {
                properties[name] = switch property {
                case .object(let fields): Self.types(fields["type"])
                default: []
                }
            }
        }
        if case .array(let names)? = schema["required"] {
            required = names.compactMap { if case .string(let name) = $0 { name } else { nil } }
        }
        closed = schema["additionalProperties"] == .bool(false)
    }

    func check(_ arguments: JSONValue) throws(ArgumentMismatch) {
        guard case .object(let object) = arguments else { throw .notAnObject }
        for name in required where object[name] == nil { throw .missing(name) }
        // Sorted, so that the reported property does not depend on dictionary order.
        for (name, value) in object.sorted(by: { $0.key < $1.key }) {
            guard let types = properties[name] else {
                if closed { throw .unknown(name) }
                continue
            }
            if !types.isEmpty && !types.contains(where: { Self.value(value, is: $0) }) {
                throw .wrongType(name, expected: types)
            }
        }
    }

    /// `"type": "string"` or `"type": ["string", "null"]`; anything else (absent, `anyOf`, …) is
    /// not checked.
    private static func types(_ value: JSONValue?) -> [String] {
        switch value {
        case .string(let type)?: [type]
        case .array(let types)?: types.compactMap { if case .string(let type) = $0 { type } else { nil } }
        default: []
        }
    }

    private static func value(_ value: JSONValue, is type: String) -> Bool {
        switch (type, value) {
        case ("string", .string), ("boolean", .bool), ("number", .number), ("array", .array),
             ("object", .object), ("null", .null):
            true
        case ("integer", .number(let number)):
            number.double.rounded() == number.double
        case ("string", _), ("boolean", _), ("number", _), ("integer", _), ("array", _), ("object", _), ("null", _):
            false
        default:
            // A type name JSON Schema does not have: not ours to reject.
            true
        }
    }
}
