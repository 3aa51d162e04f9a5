// Output formats compiled to grammars: JSON values, JSON Schema instances, literal wrappers, a line.
// Objects are written with their properties in the schema's order (required ones always, optional
// ones when the model chooses), strict: no other properties. Whitespace is at most one space after
// `{`, `[`, `:` and `,`, so a small model cannot wander into endless blank lines. Numbers and
// strings have bounded lengths where the schema bounds them; keywords that only narrow values
// further (pattern, format, minimum, ...) are not enforced.

import MuseCore

enum FormatCompiler {
    /// Digits allowed in an integer part, a fraction and an exponent.
    static let maxIntegerDigits = 16, maxFractionDigits = 16, maxExponentDigits = 3
    /// Bounds wider than this are treated as unbounded (each unit of bound is a grammar rule).
    static let maxBoundedRepeat = 1_024
    /// Deepest schema nesting followed (a hostile schema cannot exhaust the stack).
    static let maxSchemaDepth = 64

    static func compile(_ format: OutputFormat) throws(GrammarError) -> Grammar {
        var compiler = JSONGrammar()
        let root = try compiler.format(format)
        return try compiler.builder.build(root: root)
    }
}

private struct JSONGrammar {
    typealias Symbol = GrammarBuilder.Symbol
    var builder = GrammarBuilder()
    /// The documents `$ref`s resolve in (the schema being compiled).
    private var documents: [JinjaValue] = []
    /// The length limit of strings that have none of their own, inside a `.bounded` format.
    private var stringBound: Int?

    mutating func format(_ format: OutputFormat) throws(GrammarError) -> Int32 {
        switch format {
        case .jsonObject:
            return object()
        case .jsonSchema(let text):
            let schema: JinjaValue
            do {
                schema = try JinjaValue.parseJSON(Array(text.utf8))
            } catch {
                throw .invalidSchema("\(error)")
            }
            documents.append(schema)
            defer { documents.removeLast() }
            return try self.schema(schema, depth: 0)
        case .literal(let text):
            return builder.rule([[.literal(text)]])
        case .sequence(let parts):
            var symbols: [Symbol] = []
            for part in parts { symbols.append(.rule(try self.format(part))) }
            return builder.rule([symbols])
        case .bounded(let inner, let limit):
            let outer = stringBound
            stringBound = min(max(limit, 1), FormatCompiler.maxBoundedRepeat)
            defer { stringBound = outer }
            return try self.format(inner)
        case .repeated(let inner, let separator, let max):
            let item = try self.format(inner)
            let more = builder.repeated([.literal(separator), .rule(item)], min: 0, max: Swift.max(max, 1) - 1)
            return builder.rule([[.rule(item)] + more])
        case .line(let maxLength):
            let chars = builder.repeated([.rule(lineCharacter())], min: 1, max: min(max(maxLength, 1), FormatCompiler.maxBoundedRepeat))
            let lineBreak = builder.rule([[], [.literal("\n")]])
            return builder.rule([[.rule(lineBreak)] + chars + [.rule(lineBreak)]])
        }
    }

    /// One character of a line of text: printable ASCII, a tab, or a well-formed UTF-8 sequence.
    private mutating func lineCharacter() -> Int32 {
        memoized("line-char") { json in
            json.builder.rule([[.bytes(ByteSet(0x20...0x7E).union(ByteSet(0x09)))]] + Self.multibyte)
        }
    }

    // MARK: - JSON Schema

    private mutating func schema(_ schema: JinjaValue, depth: Int) throws(GrammarError) -> Int32 {
        guard depth < FormatCompiler.maxSchemaDepth else { throw .unsupported("schemas nested deeper than \(FormatCompiler.maxSchemaDepth) levels") }
        switch schema {
        case .bool(true): return value()
        case .bool(false): throw .invalidSchema("the schema `false` accepts nothing")
        case .object(let object): return try self.object(schema: object, depth: depth)
        default: throw .invalidSchema("a schema must be an object or a boolean")
        }
    }

    private mutating func object(schema s: JinjaObject, depth: Int) throws(GrammarError) -> Int32 {
        if let ref = s["$ref"] {
            guard case .string(let path) = ref else { throw .invalidSchema("$ref must be a string") }
            return try reference(path, depth: depth)
        }
        if let value = s["const"] { return builder.rule([[.literal(try literal(value))]]) }
        if let values = s["enum"] {
            guard case .array(let items) = values, !items.isEmpty else { throw .invalidSchema("enum must be a non-empty array") }
            var alternatives: [[Symbol]] = []
            for item in items { alternatives.append([.literal(try literal(item))]) }
            return builder.rule(alternatives)
        }
        for key in ["anyOf", "oneOf"] {
            guard let options = s[key] else { continue }
            guard case .array(let items) = options, !items.isEmpty else { throw .invalidSchema("\(key) must be a non-empty array") }
            var alternatives: [[Symbol]] = []
            for item in items { alternatives.append([.rule(try schema(item, depth: depth + 1))]) }
            return builder.rule(alternatives)
        }
        if let all = s["allOf"] {
            guard case .array(let items) = all, items.count == 1 else { throw .unsupported("allOf with more than one schema") }
            return try schema(items[0], depth: depth + 1)
        }
        switch s["type"] {
        case nil:
            if s["properties"] != nil { return try typed("object", s, depth: depth) }
            if s["items"] != nil { return try typed("array", s, depth: depth) }
            return value()
        case .string(let type)?:
            return try typed(type, s, depth: depth)
        case .array(let types)?:
            var alternatives: [[Symbol]] = []
            for type in types {
                guard case .string(let name) = type else { throw .invalidSchema("type names must be strings") }
                alternatives.append([.rule(try typed(name, s, depth: depth))])
            }
            guard !alternatives.isEmpty else { throw .invalidSchema("type must not be an empty array") }
            return builder.rule(alternatives)
        default:
            throw .invalidSchema("type must be a string or an array of strings")
        }
    }

    private mutating func typed(_ type: String, _ s: JinjaObject, depth: Int) throws(GrammarError) -> Int32 {
        switch type {
        case "string":
            let min = try bound(s, "minLength") ?? 0, max = try bound(s, "maxLength") ?? stringBound
            if min == 0 && max == stringBound { return string() }
            let chars = builder.repeated([.rule(character())], min: min, max: max)
            return builder.rule([[.literal("\"")] + chars + [.literal("\"")]])
        case "integer": return integer()
        case "number": return number()
        case "boolean": return memoized("boolean") { $0.builder.rule([[.literal("true")], [.literal("false")]]) }
        case "null": return memoized("null") { $0.builder.rule([[.literal("null")]]) }
        case "array":
            let item: Int32
            switch s["items"] {
            case nil, .bool(true)?: item = value()
            case let items?: item = try schema(items, depth: depth + 1)
            }
            return array(of: item, min: try bound(s, "minItems") ?? 0, max: try bound(s, "maxItems"))
        case "object":
            guard case .object(let properties)? = s["properties"], !properties.isEmpty else {
                // No declared properties: any object (its values constrained if additionalProperties says so).
                if case .object(let extra)? = s["additionalProperties"] {
                    return objectOf(values: try schema(.object(extra), depth: depth + 1))
                }
                return object()
            }
            var required: Set<String> = []
            if case .array(let names)? = s["required"] {
                for name in names { if case .string(let n) = name { required.insert(n) } }
            }
            var members: [(key: String, value: Int32, required: Bool)] = []
            for (key, sub) in properties {
                members.append((key, try schema(sub, depth: depth + 1), required.contains(key)))
            }
            return declaredObject(members)
        default:
            throw .unsupported("type \"\(type)\"")
        }
    }

    private mutating func reference(_ path: String, depth: Int) throws(GrammarError) -> Int32 {
        guard let document = documents.last else { throw .invalidSchema("$ref outside a schema") }
        if let id = builder.existing("ref:\(documents.count):\(path)") { return id }
        guard path.hasPrefix("#") else { throw .unsupported("$ref to another document (\(path))") }
        var target = document
        for raw in path.dropFirst().split(separator: "/") {
            let key = raw.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            guard case .object(let object) = target, let next = object[key] else { throw .invalidSchema("$ref \(path) points nowhere") }
            target = next
        }
        // Reserved before the target is compiled, so that recursive schemas refer to themselves.
        let id = builder.reserve()
        builder.remember("ref:\(documents.count):\(path)", id)
        let body = try schema(target, depth: depth + 1)
        builder.define(id, [[.rule(body)]])
        return id
    }

    private func bound(_ s: JinjaObject, _ key: String) throws(GrammarError) -> Int? {
        switch s[key] {
        case nil: return nil
        case .int(let n)? where n >= 0: return n <= FormatCompiler.maxBoundedRepeat ? n : nil
        case .double(let d)? where d >= 0 && d == d.rounded(): return d <= Double(FormatCompiler.maxBoundedRepeat) ? Int(d) : nil
        default: throw .invalidSchema("\(key) must be a non-negative integer")
        }
    }

    /// A JSON value written compactly, as the literal an enum or const demands.
    private func literal(_ value: JinjaValue) throws(GrammarError) -> String {
        do {
            return try JSONDump.dump(value, options: JSONDumpOptions(separators: (",", ":")), limit: 1 << 20)
        } catch {
            throw .invalidSchema("a const or enum value cannot be written as JSON: \(error)")
        }
    }

    // MARK: - JSON pieces

    /// The rule built once under `key` and reused after.
    private mutating func memoized(_ key: String, _ build: (inout JSONGrammar) -> Int32) -> Int32 {
        if let id = builder.existing(key) { return id }
        let id = build(&self)
        builder.remember(key, id)
        return id
    }

    private mutating func space() -> Int32 {
        memoized("space") { $0.builder.rule([[], [.literal(" ")]]) }
    }

    /// One character inside a string: printable ASCII but `"` and `\`, an escape, or a well-formed
    /// UTF-8 sequence.
    private mutating func character() -> Int32 {
        memoized("char") { json in
            let plain = ByteSet(0x20...0x7F).subtracting(ByteSet(bytesOf: "\"\\"))
            let hex = ByteSet(UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"), UInt8(ascii: "A")...UInt8(ascii: "F"))
            return json.builder.rule([
                [.bytes(plain)],
                [.literal("\\"), .bytes(ByteSet(bytesOf: "\"\\/bfnrt"))],
                [.literal("\\u"), .bytes(hex), .bytes(hex), .bytes(hex), .bytes(hex)],
            ] + Self.multibyte)
        }
    }

    /// The well-formed UTF-8 sequences of two to four bytes.
    private static let multibyte: [[Symbol]] = {
        let tail = Symbol.bytes(ByteSet(0x80...0xBF))
        return [
            [.bytes(ByteSet(0xC2...0xDF)), tail],
            [.bytes(ByteSet(0xE0...0xEF)), tail, tail],
            [.bytes(ByteSet(0xF0...0xF4)), tail, tail, tail],
        ]
    }()

    /// A string of any characters, as long as the bound in force allows.
    private mutating func string() -> Int32 {
        memoized("string:\(stringBound ?? -1)") { json in
            let chars = json.builder.repeated([.rule(json.character())], min: 0, max: json.stringBound)
            return json.builder.rule([[.literal("\"")] + chars + [.literal("\"")]])
        }
    }

    private static let digit = Symbol.bytes(ByteSet(UInt8(ascii: "0")...UInt8(ascii: "9")))

    private mutating func integer() -> Int32 {
        memoized("integer") { json in
            let more = json.builder.repeated([Self.digit], min: 0, max: FormatCompiler.maxIntegerDigits - 1)
            let magnitude = json.builder.rule([[.literal("0")], [.bytes(ByteSet(UInt8(ascii: "1")...UInt8(ascii: "9")))] + more])
            return json.builder.rule([[.rule(magnitude)], [.literal("-"), .rule(magnitude)]])
        }
    }

    private mutating func number() -> Int32 {
        memoized("number") { json in
            let int = json.integer()
            let fractionDigits = json.builder.repeated([Self.digit], min: 1, max: FormatCompiler.maxFractionDigits)
            let fraction = json.builder.rule([[], [.literal(".")] + fractionDigits])
            let sign = json.builder.rule([[], [.bytes(ByteSet(bytesOf: "+-"))]])
            let exponentDigits = json.builder.repeated([Self.digit], min: 1, max: FormatCompiler.maxExponentDigits)
            let exponent = json.builder.rule([[], [.bytes(ByteSet(bytesOf: "eE")), .rule(sign)] + exponentDigits])
            return json.builder.rule([[.rule(int), .rule(fraction), .rule(exponent)]])
        }
    }

    /// Any JSON value.
    private mutating func value() -> Int32 {
        let key = "value:\(stringBound ?? -1)"
        if let id = builder.existing(key) { return id }
        // Reserved first: values contain objects and arrays of values.
        let id = builder.reserve()
        builder.remember(key, id)
        let alternatives: [[Symbol]] = [
            [.rule(objectOf(values: id))], [.rule(array(of: id, min: 0, max: nil))],
            [.rule(string())], [.rule(number())],
            [.literal("true")], [.literal("false")], [.literal("null")],
        ]
        builder.define(id, alternatives)
        return id
    }

    /// Any JSON object.
    private mutating func object() -> Int32 { objectOf(values: value()) }

    /// `{` members `}` with string keys and values of rule `value`.
    private mutating func objectOf(values value: Int32) -> Int32 {
        let key = string(), ws = space()
        return memoized("object:\(value)") { json in
            let member: [Symbol] = [.rule(key), .literal(":"), .rule(ws), .rule(value)]
            let rest = json.builder.star([.literal(","), .rule(ws)] + member)
            return json.builder.rule([[.literal("{"), .rule(ws), .literal("}")], [.literal("{"), .rule(ws)] + member + [.rule(rest), .literal("}")]])
        }
    }

    private mutating func array(of item: Int32, min: Int, max: Int?) -> Int32 {
        let ws = space()
        let rest = builder.repeated([.literal(","), .rule(ws), .rule(item)], min: Swift.max(min - 1, 0), max: max.map { Swift.max($0 - 1, 0) })
        var alternatives: [[Symbol]] = [[.literal("["), .rule(ws), .rule(item)] + rest + [.literal("]")]]
        if min == 0 { alternatives.append([.literal("["), .rule(ws), .literal("]")]) }
        if max == 0 { alternatives.removeFirst() }
        return builder.rule(alternatives)
    }

    /// An object with the declared properties in order: required ones always, optional ones or not.
    /// `first[i]` writes the members from i on when none is written yet, `later[i]` after one was.
    private mutating func declaredObject(_ members: [(key: String, value: Int32, required: Bool)]) -> Int32 {
        let ws = space()
        var first = builder.rule([[]]), later = first
        for member in members.reversed() {
            let pair: [Symbol] = [.literal(JSONDump.quote(member.key, ensureASCII: false) + ":"), .rule(ws), .rule(member.value)]
            let newFirst = builder.rule(member.required ? [pair + [.rule(later)]] : [pair + [.rule(later)], [.rule(first)]])
            let separated: [Symbol] = [.literal(","), .rule(ws)] + pair + [.rule(later)]
            let newLater = builder.rule(member.required ? [separated] : [separated, [.rule(later)]])
            first = newFirst
            later = newLater
        }
        return builder.rule([[.literal("{"), .rule(ws), .rule(first), .literal("}")]])
    }
}
