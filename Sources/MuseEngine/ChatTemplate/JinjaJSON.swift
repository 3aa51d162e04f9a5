// JSON in and out for templates: text read in document order (through MuseCore's `JSONValue`, as
// Python's json.loads keeps it), and a serializer that writes what Python's json.dumps writes.
import Foundation
import MuseCore

extension JinjaValue {
    /// A parsed JSON value as a template value: integers that fit as `.int`, other numbers as
    /// `.double` (Python keeps huge integers exact; a double is the closest this engine holds).
    init(json: JSONValue, depth: Int = 0) throws(JinjaValueConversionError) {
        guard depth <= JinjaValue.maxJSONDepth else { throw .tooDeep(JinjaValue.maxJSONDepth) }
        switch json {
        case .null: self = .none
        case .bool(let value): self = .bool(value)
        case .number(let number): self = Int(number.text).map(JinjaValue.int) ?? .double(number.double)
        case .string(let text): self = .string(text)
        case .array(let items):
            var values: [JinjaValue] = []
            for item in items { values.append(try JinjaValue(json: item, depth: depth + 1)) }
            self = .array(values)
        case .object(let members):
            var object = JinjaObject()
            for (key, value) in members { object[key] = try JinjaValue(json: value, depth: depth + 1) }
            self = .object(object)
        }
    }

    /// JSON text in document order.
    static func parseJSON(_ bytes: [UInt8]) throws(JinjaValueConversionError) -> JinjaValue {
        let json: JSONValue
        do { json = try JSONValue.parse(bytes) } catch {
            throw error.tooDeep ? .tooDeep(JinjaValue.maxJSONDepth) : .invalidJSON(error.reason, offset: error.offset)
        }
        return try JinjaValue(json: json)
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
        JSONValue.quoted(s, asciiOnly: ensureASCII)
    }
}
