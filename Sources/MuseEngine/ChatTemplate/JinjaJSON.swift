// JSON in and out: an order-keeping parser, and a serializer that writes what Python's json.dumps writes.
import Foundation

/// Minimal RFC 8259 parser. It exists because JSONSerialization forgets key order, and templates
/// print tool schemas with `tojson`, where the order is visible to the model.
struct OrderedJSONParser {
    let bytes: [UInt8]
    var pos = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func parseDocument() throws -> JinjaValue {
        let value = try parseValue(depth: 0)
        skipWhitespace()
        guard pos == bytes.count else { throw fail("trailing characters") }
        return value
    }

    private func fail(_ why: String) -> JinjaValueConversionError {
        .invalidJSON(why, offset: pos)
    }

    private mutating func skipWhitespace() {
        while pos < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[pos]) { pos += 1 }
    }

    private mutating func parseValue(depth: Int) throws -> JinjaValue {
        guard depth <= JinjaValue.maxJSONDepth else { throw JinjaValueConversionError.tooDeep(JinjaValue.maxJSONDepth) }
        skipWhitespace()
        guard pos < bytes.count else { throw fail("unexpected end of input") }
        switch bytes[pos] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth)
        case UInt8(ascii: "["): return try parseArray(depth: depth)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectWord("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectWord("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectWord("null"); return .none
        default: return try parseNumber()
        }
    }

    private mutating func expectWord(_ word: String) throws {
        let w = Array(word.utf8)
        guard pos + w.count <= bytes.count, Array(bytes[pos..<pos + w.count]) == w else { throw fail("invalid literal") }
        pos += w.count
    }

    private mutating func parseObject(depth: Int) throws -> JinjaValue {
        pos += 1
        var object = JinjaObject()
        skipWhitespace()
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(object) }
        while true {
            skipWhitespace()
            guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
            let key = try parseString()
            skipWhitespace()
            guard pos < bytes.count, bytes[pos] == UInt8(ascii: ":") else { throw fail("expected ':'") }
            pos += 1
            object[key] = try parseValue(depth: depth + 1)
            skipWhitespace()
            guard pos < bytes.count else { throw fail("unterminated object") }
            if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
            if bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(object) }
            throw fail("expected ',' or '}'")
        }
    }

    private mutating func parseArray(depth: Int) throws -> JinjaValue {
        pos += 1
        var items: [JinjaValue] = []
        skipWhitespace()
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(items) }
        while true {
            items.append(try parseValue(depth: depth + 1))
            skipWhitespace()
            guard pos < bytes.count else { throw fail("unterminated array") }
            if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
            if bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(items) }
            throw fail("expected ',' or ']'")
        }
    }

    private mutating func parseHex4() throws -> UInt32 {
        guard pos + 4 <= bytes.count, let v = UInt32(String(decoding: bytes[pos..<pos + 4], as: UTF8.self), radix: 16)
        else { throw fail("invalid \\u escape") }
        pos += 4
        return v
    }

    private mutating func parseString() throws -> String {
        pos += 1
        var out: [UInt8] = []
        while pos < bytes.count {
            let b = bytes[pos]
            if b == UInt8(ascii: "\"") {
                pos += 1
                return String(decoding: out, as: UTF8.self)
            }
            if b < 0x20 { throw fail("control character in string") }
            if b != UInt8(ascii: "\\") { out.append(b); pos += 1; continue }
            pos += 1
            guard pos < bytes.count else { break }
            let e = bytes[pos]
            pos += 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var code = try parseHex4()
                if (0xD800..<0xDC00).contains(code), pos + 1 < bytes.count,
                   bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u")
                {
                    let save = pos
                    pos += 2
                    let low = try parseHex4()
                    if (0xDC00..<0xE000).contains(low) {
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    } else {
                        pos = save
                    }
                }
                // Lone surrogates cannot live in a Swift String; U+FFFD is the honest stand-in.
                let scalar = Unicode.Scalar(code) ?? "\u{FFFD}"
                out.append(contentsOf: Array(String(Character(scalar)).utf8))
            default: throw fail("invalid escape")
            }
        }
        throw fail("unterminated string")
    }

    private mutating func parseNumber() throws -> JinjaValue {
        let start = pos
        var isInteger = true
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "-") { pos += 1 }
        while pos < bytes.count {
            let b = bytes[pos]
            if b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") {
                pos += 1
            } else if b == UInt8(ascii: ".") || b == UInt8(ascii: "e") || b == UInt8(ascii: "E")
                || b == UInt8(ascii: "+") || b == UInt8(ascii: "-")
            {
                isInteger = false
                pos += 1
            } else {
                break
            }
        }
        let text = String(decoding: bytes[start..<pos], as: UTF8.self)
        guard !text.isEmpty, text != "-" else { throw fail("unexpected character") }
        if isInteger, let i = Int(text) { return .int(i) }
        // Python keeps huge integers exact; a double is the closest this engine can hold.
        guard let d = Double(text) else { throw fail("invalid number") }
        return .double(d)
    }
}

// MARK: - json.dumps

struct JSONDumpOptions {
    var indent: String?
    var itemSeparator: String
    var keySeparator: String
    var sortKeys = false
    var ensureASCII = false

    /// transformers' `tojson` defaults: ensure_ascii=False and json.dumps' default separators,
    /// which drop the space after ',' once an indent is set.
    init(indent: String? = nil, separators: (String, String)? = nil, sortKeys: Bool = false, ensureASCII: Bool = false) {
        self.indent = indent
        self.itemSeparator = separators?.0 ?? (indent == nil ? ", " : ",")
        self.keySeparator = separators?.1 ?? ": "
        self.sortKeys = sortKeys
        self.ensureASCII = ensureASCII
    }
}

enum JSONDump {
    static func dump(_ value: JinjaValue, options: JSONDumpOptions, limit: Int) throws -> String {
        var out = BoundedText(limit: limit)
        try write(value, options: options, level: 0, into: &out)
        return out.text
    }

    private static func write(_ value: JinjaValue, options: JSONDumpOptions, level: Int, into out: inout BoundedText) throws {
        guard level <= JinjaLimits.maxValueDepth else { throw JinjaFailure.limit("value nested too deeply to serialize") }
        switch value {
        case .undefined: throw JinjaFailure.type("Object of type Undefined is not JSON serializable")
        case .none: try out.append("null")
        case .bool(let b): try out.append(b ? "true" : "false")
        case .int(let i): try out.append(String(i))
        case .double(let d):
            if d.isNaN { try out.append("NaN") }
            else if d.isInfinite { try out.append(d < 0 ? "-Infinity" : "Infinity") }
            else { try out.append(PythonFormat.float(d)) }
        case .string(let s): try out.append(quote(s, ensureASCII: options.ensureASCII))
        case .array(let items):
            if items.isEmpty { try out.append("[]"); return }
            try out.append("[")
            for (i, item) in items.enumerated() {
                if i > 0 { try out.append(options.itemSeparator) }
                try newline(options, level + 1, &out)
                try write(item, options: options, level: level + 1, into: &out)
            }
            try newline(options, level, &out)
            try out.append("]")
        case .object(let object):
            if object.isEmpty { try out.append("{}"); return }
            try out.append("{")
            let keys = options.sortKeys ? object.keys.sorted { PythonText.less($0, $1) } : object.keys
            for (i, key) in keys.enumerated() {
                if i > 0 { try out.append(options.itemSeparator) }
                try newline(options, level + 1, &out)
                try out.append(quote(JinjaObject.jsonKey(key), ensureASCII: options.ensureASCII))
                try out.append(options.keySeparator)
                try write(object[key] ?? .none, options: options, level: level + 1, into: &out)
            }
            try newline(options, level, &out)
            try out.append("}")
        }
    }

    private static func newline(_ options: JSONDumpOptions, _ level: Int, _ out: inout BoundedText) throws {
        guard let indent = options.indent else { return }
        try out.append("\n")
        for _ in 0..<level { try out.append(indent) }
    }

    static func quote(_ s: String, ensureASCII: Bool) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
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
                } else if ensureASCII && scalar.value > 0x7E {
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
        out += "\""
        return out
    }

    private static func hex4(_ v: UInt32) -> String {
        let h = String(v, radix: 16)
        return String(repeating: "0", count: max(0, 4 - h.count)) + h
    }
}
