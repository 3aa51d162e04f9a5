// Calls written as bare JSON. Small models offered tools often drop their template's tags and
// reply with just `{"name": …, "arguments": {…}}`, fenced or not, which the format parsers leave
// as text. A reply that is nothing but such objects, each naming an offered tool with arguments
// its schema accepts, is read as calls. Anything less certain stays an answer, and no error goes
// back to the model: an answer that happens to be JSON must not be turned into a failed call.
import Foundation

extension ToolCallFormat {
    /// The calls in a reply to a turn that offered `tools`: the format's own, or, when the reply
    /// has none and tried none, the calls it is made of as bare JSON (see `BareJSONCalls`).
    public func parse(_ text: String, idPrefix: String = "call_", tools: [ToolSpec]) -> ParsedToolCalls {
        let parsed = parse(text, idPrefix: idPrefix)
        // A malformed call in the format's own syntax is the model trying that syntax: it is told
        // how to fix it rather than second-guessed.
        guard parsed.calls.isEmpty, parsed.errors.isEmpty, !tools.isEmpty else { return parsed }
        return BareJSONCalls.read(text, tools: tools, idPrefix: idPrefix) ?? parsed
    }
}

package enum BareJSONCalls {
    /// The calls `text` is made of, or nil unless the whole reply is calls. The reply (trimmed) is
    /// either the JSON itself or one fenced block (```json or ```) holding it; the JSON is one or
    /// more call objects, one per line, or arrays of them. Each call names one of `tools`, has its
    /// arguments under "arguments" or "parameters" (an object, or a string holding one), and the
    /// tool's schema accepts them. At most `ToolCallFormat.maxParallelCalls`: a longer list is more
    /// likely data than calls.
    static func read(_ text: String, tools: [ToolSpec], idPrefix: String) -> ParsedToolCalls? {
        var body = text.trimmingCharacters(in: .whitespacesAndNewlines)[...]
        if body.hasPrefix("```") {
            guard let inner = fenced(body) else { return nil }
            body = inner
        }
        var values: [JSONValue] = []
        while let first = body.first {
            guard first == "{" || first == "[", let end = ToolCallJSON.endOfValue(body),
                  case .value(let value) = ToolCallJSON.decode(body[..<end]) else { return nil }
            if case .array(let list) = value { values += list } else { values.append(value) }
            body = body[end...].drop(while: \.isWhitespace)
        }
        guard !values.isEmpty, values.count <= ToolCallFormat.maxParallelCalls else { return nil }
        var calls: [ToolCall] = []
        for value in values {
            guard let call = call(value, tools: tools, id: "\(idPrefix)\(calls.count)") else { return nil }
            calls.append(call)
        }
        return ParsedToolCalls(content: "", calls: calls)
    }

    /// The inside of a reply that is one fenced block, from its first non-space character; nil for
    /// a fence of another language. A second fence inside is left for the JSON reading to reject.
    private static func fenced(_ text: Substring) -> Substring? {
        guard text.count >= 6, text.hasPrefix("```"), text.hasSuffix("```") else { return nil }
        let inner = text.dropFirst(3).dropLast(3)
        let tag = inner.prefix { !$0.isWhitespace && $0 != "{" && $0 != "[" }
        guard tag.isEmpty || tag.lowercased() == "json" else { return nil }
        return inner.dropFirst(tag.count).drop(while: \.isWhitespace)
    }

    private static func call(_ value: JSONValue, tools: [ToolSpec], id: String) -> ToolCall? {
        guard case .object(var object) = value else { return nil }
        if case .object(let function)? = object["function"] { object = function }
        // Without an arguments field, `{"name": "units"}` is more likely an answer than a call.
        guard object["arguments"] != nil || object["parameters"] != nil,
              case .call(let name, let arguments) = CallCandidate.value(.object(object)).checked(),
              let tool = tools.first(where: { $0.name == name }),
              let decoded = try? JSONValue.parse(arguments) else { return nil }
        do {
            try ArgumentSchema(tool.parametersSchema).check(decoded)
        } catch {
            return nil
        }
        return ToolCall(id: id, name: name, arguments: arguments)
    }

    /// Whether a reply that starts with `start` may still turn out to be calls as bare JSON: false
    /// as soon as its opening shows it cannot, so that a streamed answer is held back no longer
    /// than that.
    package static func couldBeCalls(_ start: Substring) -> Bool {
        let text = start.drop(while: \.isWhitespace)
        guard let first = text.first else { return true }
        if first == "{" || first == "[" { return true }
        guard text.hasPrefix("```") else { return text.count < 3 && text.allSatisfy { $0 == "`" } }
        let afterTicks = text.dropFirst(3)
        let tag = afterTicks.prefix { !$0.isWhitespace && $0 != "{" && $0 != "[" }
        let afterTag = afterTicks.dropFirst(tag.count)
        // The language tag may still be growing.
        if afterTag.isEmpty { return "json".hasPrefix(tag.lowercased()) }
        guard tag.isEmpty || tag.lowercased() == "json" else { return false }
        guard let open = afterTag.first(where: { !$0.isWhitespace }) else { return true }
        return open == "{" || open == "["
    }
}
