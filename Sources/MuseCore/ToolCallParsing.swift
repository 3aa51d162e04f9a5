// Reading tool calls out of a model's text, one parser per `ToolCallFormat`: the local engine
// reads its own replies with them, and the tool loop reads replies that came as text (a model
// whose calls are taught in the system prompt). How calls are taught and written back is in
// MuseAgents.
import Foundation

/// A model reply split into its text and the tool calls it makes.
public struct ParsedToolCalls: Sendable, Equatable {
    /// The text outside the calls, trimmed.
    public var content: String
    public var calls: [ToolCall]
    /// One message per call that could not be read, worded to be sent back to the model.
    public var errors: [String]

    public init(content: String, calls: [ToolCall] = [], errors: [String] = []) {
        self.content = content
        self.calls = calls
        self.errors = errors
    }
}

extension ToolCallFormat {
    /// Most calls read from one reply: a longer list written as bare JSON is more likely data.
    public static let maxParallelCalls = 4

    /// The text that opens a call, so that a caller can notice the model has started one.
    public var callPrefix: String {
        switch self {
        case .hermes: "<tool_call>"
        case .llama3: #"{"name": "#
        case .mistral: "[TOOL_CALLS]"
        }
    }

    /// The calls in a model reply and the text around them. A malformed call becomes an entry in
    /// `errors` (numbered by its place among all calls) and the well-formed ones still come through.
    /// Ids are `idPrefix` followed by the call's index among the valid calls.
    public func parse(_ text: String, idPrefix: String = "call_") -> ParsedToolCalls {
        let (prose, found) = switch self {
        case .hermes: Self.splitHermes(text)
        case .llama3: Self.splitLlama3(text)
        case .mistral: Self.splitMistral(text)
        }
        var result = ParsedToolCalls(content: prose
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            .filter { !$0.isEmpty }
            .joined(separator: "\n"))
        for (number, candidate) in zip(1..., found) {
            switch candidate.checked() {
            case .call(let name, let arguments):
                result.calls.append(ToolCall(id: "\(idPrefix)\(result.calls.count)", name: name, arguments: arguments))
            case .invalid(let why):
                result.errors.append("tool call \(number): \(why). Write each call as \(example).")
            }
        }
        return result
    }

    /// The shape of one call, quoted in error messages so the model can correct itself.
    private var example: String {
        switch self {
        case .hermes: #"<tool_call>{"name": "<function-name>", "arguments": {...}}</tool_call>"#
        case .llama3: #"{"name": "<function-name>", "parameters": {...}}"#
        case .mistral: #"[TOOL_CALLS][{"name": "<function-name>", "arguments": {...}}]"#
        }
    }

    // MARK: Splitting a reply into prose and candidate calls

    private static func splitHermes(_ text: String) -> ([Substring], [CallCandidate]) {
        var prose: [Substring] = []
        var found: [CallCandidate] = []
        var rest = text[...]
        while let open = rest.range(of: "<tool_call>") {
            prose.append(rest[..<open.lowerBound])
            let body = rest[open.upperBound...]
            // A whole JSON value followed by the closing tag is the call, even when one of its
            // strings contains "</tool_call>".
            let value = body.drop { $0.isWhitespace }
            if let end = ToolCallJSON.endOfValue(value) {
                let after = value[end...].drop { $0.isWhitespace }
                if after.hasPrefix("</tool_call>") {
                    found.append(ToolCallJSON.decode(value[..<end]))
                    rest = after.dropFirst("</tool_call>".count)
                    continue
                }
            }
            let close = body.range(of: "</tool_call>")
            // A block that is never closed, or that a new block interrupts, is cut off.
            if let next = body.range(of: "<tool_call>"), close.map({ next.lowerBound < $0.lowerBound }) ?? true {
                found.append(.malformed("the <tool_call> block is not closed with </tool_call>"))
                rest = body[next.lowerBound...]
                continue
            }
            guard let close else {
                found.append(.malformed("the <tool_call> block is not closed with </tool_call>"))
                rest = body[body.endIndex...]
                break
            }
            found.append(ToolCallJSON.decode(body[..<close.lowerBound]))
            rest = body[close.upperBound...]
        }
        prose.append(rest)
        return (prose, found)
    }

    private static func splitLlama3(_ text: String) -> ([Substring], [CallCandidate]) {
        var prose: [Substring] = []
        var rest: Substring
        // After <|python_tag|> the model has committed to a call; without it, a reply is a call
        // only when it opens like one, so that a plain JSON answer stays an answer.
        if let tag = text.range(of: "<|python_tag|>") {
            prose.append(text[..<tag.lowerBound])
            rest = text[tag.upperBound...].drop(while: \.isWhitespace)
            if !rest.hasPrefix("{") { return (prose, [.malformed("expected a JSON object after <|python_tag|>")]) }
        } else {
            rest = text.drop(while: \.isWhitespace)
            guard looksLikeLlamaCall(rest) else { return ([text[...]], []) }
        }
        var found: [CallCandidate] = []
        while true {
            rest = rest.drop { $0.isWhitespace || $0 == ";" }
            guard rest.first == "{" else { break }
            guard let end = ToolCallJSON.endOfValue(rest) else {
                found.append(.malformed("the JSON is not valid: the text ends before the object is closed"))
                rest = rest[rest.endIndex...]
                break
            }
            found.append(ToolCallJSON.decode(rest[..<end]))
            rest = rest[end...]
        }
        prose.append(rest)
        return (prose, found)
    }

    /// A name alone is not enough: `{"name": "Alice", "age": 30}` is an answer, not a call.
    private static func looksLikeLlamaCall(_ text: Substring) -> Bool {
        guard text.first == "{" else { return false }
        let end = ToolCallJSON.endOfValue(text)
        if let end, case .object(let object)? = try? JSONValue.parse(String(text[..<end])) {
            return object["function"] != nil || object["name"] != nil && (object["parameters"] != nil || object["arguments"] != nil)
        }
        // Malformed or cut off: a call if it opens like one.
        let first = text[..<(end ?? text.endIndex)]
        return first.dropFirst().drop(while: \.isWhitespace).hasPrefix(#""name""#)
            && (first.contains(#""parameters""#) || first.contains(#""arguments""#))
    }

    private static func splitMistral(_ text: String) -> ([Substring], [CallCandidate]) {
        let tag = "[TOOL_CALLS]"
        var prose: [Substring] = []
        var found: [CallCandidate] = []
        var rest = text[...]
        while let open = rest.range(of: tag) {
            prose.append(rest[..<open.lowerBound])
            let body = rest[open.upperBound...].drop(while: \.isWhitespace)
            if body.first == "[" {
                let (elements, after) = ToolCallJSON.elements(ofArray: body)
                found += elements
                rest = after
            } else if body.first == "{" {
                guard let end = ToolCallJSON.endOfValue(body) else {
                    found.append(.malformed("the JSON is not valid: the text ends before the object is closed"))
                    rest = body[body.endIndex...]
                    break
                }
                found.append(ToolCallJSON.decode(body[..<end]))
                rest = body[end...]
            } else {
                // The newer shape: name[ARGS]{...}; v11 tokenizers put [CALL_ID]id before [ARGS].
                let limit = body.range(of: tag)?.lowerBound ?? body.endIndex
                guard let args = body[..<limit].range(of: "[ARGS]") else {
                    found.append(.malformed("expected a function name and [ARGS] after [TOOL_CALLS]"))
                    rest = body[limit...]
                    continue
                }
                var name = body[..<args.lowerBound]
                if let callID = name.range(of: "[CALL_ID]") { name = name[..<callID.lowerBound] }
                let value = body[args.upperBound..<limit].drop(while: \.isWhitespace)
                let end: Substring.Index? = if let first = value.first, "{[\"".contains(first) {
                    ToolCallJSON.endOfValue(value)
                } else {
                    limit
                }
                guard let end else {
                    found.append(.malformed("the JSON is not valid: the text ends before the arguments are closed"))
                    rest = body[limit...]
                    continue
                }
                switch ToolCallJSON.decode(value[..<end]) {
                case .value(let arguments):
                    found.append(.named(name.trimmingCharacters(in: .whitespacesAndNewlines), arguments))
                case let other:
                    found.append(other)
                }
                rest = body[end...]
            }
        }
        prose.append(rest)
        return (prose, found)
    }
}

// MARK: Checking candidate calls

/// One call as found in the text, before it is checked.
enum CallCandidate {
    /// A decoded JSON value that should be a call object.
    case value(JSONValue)
    /// A name and decoded arguments, from a shape that keeps them apart.
    case named(String, JSONValue)
    /// Why the call could not be read.
    case malformed(String)

    enum Checked {
        case call(name: String, arguments: String)
        case invalid(String)
    }

    func checked() -> Checked {
        switch self {
        case .malformed(let why):
            return .invalid(why)
        case .named(let name, let arguments):
            guard !name.isEmpty, !name.contains(where: \.isWhitespace) else { return .invalid("expected one function name before [ARGS], got \"\(name)\"") }
            return Self.checkArguments(arguments, name: name)
        case .value(let value):
            guard case .object(var object) = value else {
                return .invalid("a call must be a JSON object, not \(ToolCallJSON.kind(of: value))")
            }
            // OpenAI's own shape, {"type": "function", "function": {...}}, turns up too.
            if case .object(let function)? = object["function"] { object = function }
            guard let rawName = object["name"] else { return .invalid(#"the "name" field is missing"#) }
            guard case .string(let name) = rawName, !name.isEmpty else { return .invalid(#""name" must be a non-empty string"#) }
            return Self.checkArguments(object["arguments"] ?? object["parameters"] ?? .null, name: name)
        }
    }

    /// Arguments become compact JSON object text, members in the model's order and numbers as it
    /// wrote them. Some models write them as a string holding the object (as the OpenAI wire
    /// format does), so a string is decoded once more.
    private static func checkArguments(_ value: JSONValue, name: String) -> Checked {
        var value = value
        if case .string(let text) = value {
            if text.allSatisfy(\.isWhitespace) { return .call(name: name, arguments: "{}") }
            guard let inner = try? JSONValue.parse(text), case .object = inner else {
                return .invalid(#""arguments" is a string that does not hold a JSON object"#)
            }
            value = inner
        }
        if value == .null { return .call(name: name, arguments: "{}") }
        guard case .object = value else {
            return .invalid(#""arguments" must be a JSON object, not "# + ToolCallJSON.kind(of: value))
        }
        return .call(name: name, arguments: value.jsonText)
    }
}

// MARK: JSON text helpers

package enum ToolCallJSON {
    static func decode(_ text: Substring) -> CallCandidate {
        if text.allSatisfy(\.isWhitespace) { return .malformed("the JSON is not valid: the call is empty") }
        do {
            return .value(try JSONValue.parse(String(text)))
        } catch {
            return .malformed("the JSON is not valid: \(error.reason) (at character \(error.offset + 1))")
        }
    }

    /// Where the JSON object, array or string that opens `text` ends (just past its closing
    /// character), or nil when the text ends first or does not open with one. Brackets inside
    /// strings do not count; mismatched brackets are left for the JSON parser to report.
    static func endOfValue(_ text: Substring) -> Substring.Index? {
        var depth = 0
        var inString = false
        var escaped = false
        let utf8 = text.utf8
        var i = utf8.startIndex
        while i != utf8.endIndex {
            let byte = utf8[i]
            i = utf8.index(after: i)
            if inString {
                if escaped { escaped = false }
                else if byte == UInt8(ascii: "\\") { escaped = true }
                else if byte == UInt8(ascii: "\"") {
                    inString = false
                    if depth == 0 { return i }
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
                if depth <= 0 { return i }
            default:
                if depth == 0 { return nil }
            }
        }
        return nil
    }

    /// Each element of the JSON array opening `text`, decoded on its own so that one bad call does
    /// not hide its siblings, and the text after the array.
    static func elements(ofArray text: Substring) -> ([CallCandidate], Substring) {
        var found: [CallCandidate] = []
        var rest = text.dropFirst()
        while true {
            rest = rest.drop { $0.isWhitespace || $0 == "," }
            guard let first = rest.first else {
                found.append(.malformed("the JSON is not valid: the list of calls is not closed with ]"))
                return (found, rest)
            }
            if first == "]" { return (found, rest.dropFirst()) }
            // A bare value (not a call at all) runs to the next separator; the check reports it.
            let end: Substring.Index? = if "{[\"".contains(first) {
                endOfValue(rest)
            } else {
                rest.firstIndex { $0 == "," || $0 == "]" } ?? rest.endIndex
            }
            guard let end else {
                found.append(.malformed("the JSON is not valid: the text ends before the call is closed"))
                return (found, rest[rest.endIndex...])
            }
            found.append(decode(rest[..<end]))
            rest = rest[end...]
        }
    }

    /// `text` as compact JSON, members in their order, when it holds a JSON object; else nil.
    package static func compactObject(_ text: String) -> String? {
        guard let value = try? JSONValue.parse(text), case .object = value else { return nil }
        return value.jsonText
    }

    /// A call's arguments for rendering: the object compacted, `{}` when empty, and anything else
    /// kept as a JSON string so that the rendered call stays valid JSON.
    package static func argumentsText(_ arguments: String) -> String {
        if arguments.allSatisfy(\.isWhitespace) { return "{}" }
        return compactObject(arguments) ?? JSONValue.quoted(arguments)
    }

    static func kind(of value: JSONValue) -> String {
        switch value {
        case .array: "an array"
        case .string: "a string"
        case .null: "null"
        case .object: "an object"
        case .number, .bool: "a number or a boolean"
        }
    }
}
