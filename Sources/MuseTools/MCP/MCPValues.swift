// Between Muse's JSON values and the MCP SDK's: arguments go out as the model wrote them (whole
// numbers as integers when they fit, others as doubles); schemas and structured results come back
// with their members sorted, since the SDK's objects keep no order.
import Foundation
import MCP
import MuseCore

extension MCP.Value {
    init(_ value: JSONValue) {
        switch value {
        case .null: self = .null
        case .bool(let flag): self = .bool(flag)
        case .number(let number):
            if let whole = Int(number.text) { self = .int(whole) } else { self = .double(number.double) }
        case .string(let text): self = .string(text)
        case .array(let items): self = .array(items.map(MCP.Value.init))
        case .object(let object): self = .object(Dictionary(object.map { ($0.key, MCP.Value($0.value)) }, uniquingKeysWith: { _, last in last }))
        }
    }
}

extension JSONValue {
    init(_ value: MCP.Value) {
        switch value {
        case .null: self = .null
        case .bool(let flag): self = .bool(flag)
        case .int(let whole): self = .number(JSONNumber(whole))
        case .double(let number): self = number.isFinite ? .number(JSONNumber(number)) : .null
        case .string(let text): self = .string(text)
        // The SDK reads strings that look like data URLs as data; they go back as those strings.
        case .data: self = .string(value.description)
        case .array(let items): self = .array(items.map(JSONValue.init))
        case .object(let members): self = .object(JSONObject(members.sorted { $0.key < $1.key }.map { ($0.key, JSONValue($0.value)) }))
        }
    }
}
