// Any JSON value, as the client wrote it: objects keep their keys' order (a schema's properties
// are generated in the order they were declared) and numbers their exact text (an integer beyond
// 2^53 is not rounded). `JSONValue.parse` reads JSON text and `jsonText` writes it back.

public indirect enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(JSONNumber)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// The value at `key` of an object (nil for a missing key or a value that is not an object).
    public subscript(key: String) -> JSONValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    /// The value at `index` of an array (nil out of range or for a value that is not an array).
    public subscript(index: Int) -> JSONValue? {
        if case .array(let items) = self, items.indices.contains(index) { return items[index] }
        return nil
    }
}

/// A JSON number as written: its text, read as an integer or a double on demand.
public struct JSONNumber: Sendable, Hashable, CustomStringConvertible, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral {
    /// The number's JSON text (`-12`, `3.5e-2`), exact whatever its size.
    public let text: String

    public init(_ value: Int) { text = String(value) }

    /// Whole values within ±2^53 print without a fraction, as JSON writers do; others in full.
    public init(_ value: Double) {
        text = value.rounded() == value && abs(value) < 9_007_199_254_740_992 ? String(Int64(value))
            : value.isFinite ? "\(value)" : "null"
    }

    public init(integerLiteral value: Int) { self.init(value) }
    public init(floatLiteral value: Double) { self.init(value) }

    /// `text`, which the caller has checked is a JSON number.
    init(checkedText text: String) { self.text = text }

    /// The value as an integer, when it is one that fits (`3` and `3.0` do, `3.5` does not).
    public var integer: Int? {
        if let exact = Int(text) { return exact }
        let value = double
        return value.rounded() == value && abs(value) < 9_007_199_254_740_992 ? Int(value) : nil
    }

    public var double: Double { Double(text) ?? .nan }

    public var description: String { text }

    /// Numbers are equal when they are the same number, whatever their spelling (`1`, `1.0`, `1e0`).
    public static func == (a: JSONNumber, b: JSONNumber) -> Bool {
        a.text == b.text || (Int(a.text) == nil || Int(b.text) == nil ? a.double == b.double : false)
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(double) }
}

/// A JSON object's members in the order they were written. Keys are unique (a later duplicate
/// replaces the earlier value in place, as most parsers keep the last one).
public struct JSONObject: Sendable, Equatable, Sequence, ExpressibleByDictionaryLiteral {
    public private(set) var members: [(key: String, value: JSONValue)] = []

    public init() {}

    public init(_ members: [(String, JSONValue)]) {
        for (key, value) in members { self[key] = value }
    }

    public init(dictionaryLiteral elements: (String, JSONValue)...) { self.init(elements) }

    public var keys: [String] { members.map(\.key) }
    public var count: Int { members.count }
    public var isEmpty: Bool { members.isEmpty }

    public subscript(key: String) -> JSONValue? {
        get { members.first { $0.key == key }?.value }
        set {
            if let at = members.firstIndex(where: { $0.key == key }) {
                if let newValue { members[at].value = newValue } else { members.remove(at: at) }
            } else if let newValue {
                members.append((key, newValue))
            }
        }
    }

    public func makeIterator() -> IndexingIterator<[(key: String, value: JSONValue)]> { members.makeIterator() }

    public func mapValues(_ transform: (JSONValue) throws -> JSONValue) rethrows -> JSONObject {
        var out = JSONObject()
        for (key, value) in members { out.members.append((key, try transform(value))) }
        return out
    }

    /// Objects are equal when they have the same members, in any order (as JSON means them).
    public static func == (a: JSONObject, b: JSONObject) -> Bool {
        a.count == b.count && a.members.allSatisfy { b[$0.key] == $0.value }
    }
}

extension JSONValue: ExpressibleByDictionaryLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral,
    ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral {
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(JSONObject(elements)) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(integerLiteral value: Int) { self = .number(JSONNumber(value)) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}

// MARK: - Writing

extension JSONValue {
    /// Compact JSON text (no spaces), members in their order.
    public var jsonText: String {
        var out = ""
        write(to: &out)
        return out
    }

    private func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let value): out += value ? "true" : "false"
        case .number(let number): out += number.text
        case .string(let text): Self.writeString(text, to: &out)
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                item.write(to: &out)
            }
            out += "]"
        case .object(let object):
            out += "{"
            for (i, member) in object.members.enumerated() {
                if i > 0 { out += "," }
                Self.writeString(member.key, to: &out)
                out += ":"
                member.value.write(to: &out)
            }
            out += "}"
        }
    }

    private static func writeString(_ text: String, to out: inout String) {
        out += quoted(text)
    }

    /// `text` as a JSON string literal. With `asciiOnly`, everything outside printable ASCII is
    /// escaped too (`\u` and surrogate pairs), as Python's `json.dumps` does by default.
    public static func quoted(_ text: String, asciiOnly: Bool = false) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if scalar.value < 0x20 {
                    out += "\\u" + hex4(scalar.value)
                } else if asciiOnly && scalar.value > 0x7E {
                    if scalar.value > 0xFFFF {
                        let v = scalar.value - 0x10000
                        out += "\\u" + hex4(0xD800 + (v >> 10)) + "\\u" + hex4(0xDC00 + (v & 0x3FF))
                    } else {
                        out += "\\u" + hex4(scalar.value)
                    }
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    private static func hex4(_ value: UInt32) -> String {
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }
}

// MARK: - Reading

/// Why a text is not JSON, with the byte offset where reading stopped.
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public let offset: Int
    public let reason: String
    /// The text nests deeper than `JSONValue.maxDepth`.
    public let tooDeep: Bool
    public var description: String { "not valid JSON at byte \(offset): \(reason)" }
}

extension JSONValue {
    /// Nesting deeper than this is refused, so that hostile input cannot exhaust the stack.
    public static let maxDepth = 512

    /// The value of a whole JSON text (RFC 8259; whitespace around it allowed, nothing else).
    public static func parse(_ text: String) throws(JSONParseError) -> JSONValue {
        try parse(Array(text.utf8))
    }

    public static func parse(_ bytes: [UInt8]) throws(JSONParseError) -> JSONValue {
        var reader = JSONReader(bytes: bytes)
        reader.skipSpace()
        let value = try reader.value(depth: 0)
        reader.skipSpace()
        guard reader.at == bytes.count else { throw reader.error("text after the value") }
        return value
    }
}

private struct JSONReader {
    let bytes: [UInt8]
    var at = 0

    func error(_ reason: String, tooDeep: Bool = false) -> JSONParseError { JSONParseError(offset: at, reason: reason, tooDeep: tooDeep) }

    mutating func skipSpace() {
        while at < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[at]) { at += 1 }
    }

    mutating func value(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth < JSONValue.maxDepth else { throw error("nested more than \(JSONValue.maxDepth) deep", tooDeep: true) }
        guard at < bytes.count else { throw error("the text ends where a value should be") }
        switch bytes[at] {
        case UInt8(ascii: "{"): return .object(try object(depth: depth))
        case UInt8(ascii: "["): return .array(try array(depth: depth))
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
        default: throw error("unexpected character")
        }
    }

    private mutating func literal(_ word: String) throws(JSONParseError) {
        let expected = Array(word.utf8)
        guard bytes.count - at >= expected.count, Array(bytes[at..<at + expected.count]) == expected else {
            throw error("expected \(word)")
        }
        at += expected.count
    }

    private mutating func object(depth: Int) throws(JSONParseError) -> JSONObject {
        at += 1
        var object = JSONObject()
        skipSpace()
        if at < bytes.count, bytes[at] == UInt8(ascii: "}") { at += 1; return object }
        while true {
            skipSpace()
            guard at < bytes.count, bytes[at] == UInt8(ascii: "\"") else { throw error("expected a member name in quotes") }
            let key = try string()
            skipSpace()
            guard at < bytes.count, bytes[at] == UInt8(ascii: ":") else { throw error("expected : after a member name") }
            at += 1
            skipSpace()
            object[key] = try value(depth: depth + 1)
            skipSpace()
            guard at < bytes.count else { throw error("the text ends inside an object") }
            if bytes[at] == UInt8(ascii: ",") { at += 1; continue }
            if bytes[at] == UInt8(ascii: "}") { at += 1; return object }
            throw error("expected , or } in an object")
        }
    }

    private mutating func array(depth: Int) throws(JSONParseError) -> [JSONValue] {
        at += 1
        var items: [JSONValue] = []
        skipSpace()
        if at < bytes.count, bytes[at] == UInt8(ascii: "]") { at += 1; return items }
        while true {
            skipSpace()
            items.append(try value(depth: depth + 1))
            skipSpace()
            guard at < bytes.count else { throw error("the text ends inside an array") }
            if bytes[at] == UInt8(ascii: ",") { at += 1; continue }
            if bytes[at] == UInt8(ascii: "]") { at += 1; return items }
            throw error("expected , or ] in an array")
        }
    }

    private mutating func number() throws(JSONParseError) -> JSONNumber {
        let start = at
        func digits() -> Int {
            let from = at
            while at < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[at]) { at += 1 }
            return at - from
        }
        if bytes[at] == UInt8(ascii: "-") { at += 1 }
        guard at < bytes.count else { throw error("a number without digits") }
        if bytes[at] == UInt8(ascii: "0") {
            at += 1
        } else if digits() == 0 {
            throw error("a number without digits")
        }
        if at < bytes.count, bytes[at] == UInt8(ascii: ".") {
            at += 1
            guard digits() > 0 else { throw error("a fraction without digits") }
        }
        if at < bytes.count, bytes[at] == UInt8(ascii: "e") || bytes[at] == UInt8(ascii: "E") {
            at += 1
            if at < bytes.count, bytes[at] == UInt8(ascii: "+") || bytes[at] == UInt8(ascii: "-") { at += 1 }
            guard digits() > 0 else { throw error("an exponent without digits") }
        }
        return JSONNumber(checkedText: String(decoding: bytes[start..<at], as: UTF8.self))
    }

    private mutating func string() throws(JSONParseError) -> String {
        at += 1
        var out: [UInt8] = []
        while true {
            guard at < bytes.count else { throw error("the text ends inside a string") }
            let byte = bytes[at]
            switch byte {
            case UInt8(ascii: "\""):
                at += 1
                // Invalid UTF-8 in the input becomes U+FFFD rather than an error.
                return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                at += 1
                guard at < bytes.count else { throw error("the text ends inside an escape") }
                let escape = bytes[at]
                at += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escape)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800..<0xDC00).contains(scalar), bytes.count - at >= 6,
                       bytes[at] == UInt8(ascii: "\\"), bytes[at + 1] == UInt8(ascii: "u") {
                        let mark = at
                        at += 2
                        let low = try hex4()
                        if (0xDC00..<0xE000).contains(low) {
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        } else {
                            at = mark
                        }
                    }
                    out += Array(String(Unicode.Scalar(scalar).map(Character.init) ?? "\u{FFFD}").utf8)
                default: throw error("an unknown escape")
                }
            case 0..<0x20:
                throw error("a control character inside a string")
            default:
                out.append(byte)
                at += 1
            }
        }
    }

    private mutating func hex4() throws(JSONParseError) -> UInt32 {
        guard bytes.count - at >= 4 else { throw error("a \\u escape needs four hex digits") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[at]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw error("a \\u escape needs four hex digits")
            }
            value = value << 4 | UInt32(digit)
            at += 1
        }
        return value
    }
}

// MARK: - Codable

/// Through `Codable` an object's order is the coder's (Foundation's decoder does not keep it) and a
/// number goes through Int64 or Double; `parse` and `jsonText` keep both exact.
extension JSONValue: Codable {
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let n = try? c.decode(Int.self) { self = .number(JSONNumber(n)) }
        else if let n = try? c.decode(Double.self) { self = .number(JSONNumber(n)) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(JSONObject(try c.decode([String: JSONValue].self).sorted { $0.key < $1.key })) }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .null:
            var c = encoder.singleValueContainer()
            try c.encodeNil()
        case .bool(let b):
            var c = encoder.singleValueContainer()
            try c.encode(b)
        case .number(let n):
            var c = encoder.singleValueContainer()
            if let exact = Int(n.text) { try c.encode(exact) } else { try c.encode(n.double) }
        case .string(let s):
            var c = encoder.singleValueContainer()
            try c.encode(s)
        case .array(let a):
            var c = encoder.unkeyedContainer()
            for item in a { try c.encode(item) }
        case .object(let o):
            var c = encoder.container(keyedBy: MemberKey.self)
            for (key, value) in o { try c.encode(value, forKey: MemberKey(key)) }
        }
    }

    private struct MemberKey: CodingKey {
        let stringValue: String
        init(_ key: String) { stringValue = key }
        init?(stringValue: String) { self.stringValue = stringValue }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }
}

extension DecodingError.Context {
    /// Where decoding failed, as a JSON path: `messages[0].content`.
    public var jsonPath: String { DecodingError.jsonPath(codingPath) }
}

extension DecodingError {
    /// `keys` as a JSON path: `messages[0].content` (empty for the top level).
    public static func jsonPath(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().trimmingPrefix(".").description
    }
}
