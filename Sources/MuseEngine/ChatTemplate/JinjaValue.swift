// The data model chat templates see: Python-like values, with dicts that keep insertion order.
import Foundation

/// A value as a Jinja template sees it. Mirrors the Python types transformers hands to jinja2
/// (None, bool, int, float, str, list, dict) plus jinja2's `Undefined`.
public enum JinjaValue: Sendable, Equatable {
    case undefined
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JinjaValue])
    case object(JinjaObject)

    /// Spelled out because `.none` is ambiguous wherever a `JinjaValue?` is expected.
    public static var null: JinjaValue { .none }

    /// Python truthiness: empty containers, zero, "", None and Undefined are false.
    public var isTruthy: Bool {
        switch self {
        case .undefined, .none: return false
        case .bool(let b): return b
        case .int(let i): return i != 0
        case .double(let d): return d != 0
        case .string(let s): return !s.isEmpty
        case .array(let a): return !a.isEmpty
        case .object(let o): return !o.isEmpty
        }
    }

    public var isUndefined: Bool {
        if case .undefined = self { return true }
        return false
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var arrayValue: [JinjaValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var objectValue: JinjaObject? {
        if case .object(let o) = self { return o }
        return nil
    }

    /// Dict lookup that answers `.undefined` for a missing key or a non-dict, as templates expect.
    public subscript(key: String) -> JinjaValue {
        if case .object(let o) = self { return o[key] ?? .undefined }
        return .undefined
    }
}

/// A string-keyed dictionary that remembers insertion order, as Python dicts do; `tojson`,
/// `items()` and iteration depend on that order.
public struct JinjaObject: Sendable, Equatable, Sequence, ExpressibleByDictionaryLiteral {
    public private(set) var keys: [String] = []
    private var storage: [String: JinjaValue] = [:]

    public init() {}

    /// Later duplicates overwrite the value but keep the first position, as `dict(pairs)` does.
    public init(_ pairs: [(String, JinjaValue)]) {
        for (key, value) in pairs { self[key] = value }
    }

    public init(dictionaryLiteral elements: (String, JinjaValue)...) {
        self.init(elements)
    }

    public var count: Int { keys.count }
    public var isEmpty: Bool { keys.isEmpty }
    public var values: [JinjaValue] { keys.map { storage[$0] ?? .undefined } }

    public subscript(key: String) -> JinjaValue? {
        get { storage[key] }
        set {
            if let newValue {
                if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if storage.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    public func makeIterator() -> AnyIterator<(key: String, value: JinjaValue)> {
        var index = 0
        return AnyIterator {
            guard index < keys.count else { return nil }
            defer { index += 1 }
            let key = keys[index]
            return (key, storage[key] ?? .undefined)
        }
    }

    /// Order-insensitive, like Python dict equality.
    public static func == (lhs: JinjaObject, rhs: JinjaObject) -> Bool {
        lhs.storage == rhs.storage
    }
}

extension JinjaValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JinjaValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JinjaValue)...) { self = .object(JinjaObject(elements)) }
}

// MARK: - Conversion from JSON

public enum JinjaValueConversionError: Error, CustomStringConvertible, Equatable, Sendable {
    case tooDeep(Int)
    case invalidJSON(String, offset: Int)

    public var description: String {
        switch self {
        case .tooDeep(let d): return "JSON nested deeper than \(d) levels"
        case .invalidJSON(let why, let offset): return "invalid JSON at byte \(offset): \(why)"
        }
    }
}

extension JinjaValue {
    /// Deep enough for any real message or tool schema, shallow enough that recursive walks stay
    /// far from the stack limit.
    public static let maxJSONDepth = 256

    /// Parses JSON text keeping object keys in document order, as Python's `json.loads` does.
    public init(jsonData: Data) throws {
        self = try JinjaValue.parseJSON([UInt8](jsonData))
    }

    public init(jsonString: String) throws {
        self = try JinjaValue.parseJSON(Array(jsonString.utf8))
    }
}

// MARK: - Non-string keys

/// Python dicts built by a template may have int, float, bool or None keys (Seed-OSS's template
/// maps budgets by int). Such keys are stored under a reserved prefix; caller-supplied objects,
/// which come from JSON, only ever have string keys, so the prefix never shows outside rendering.
extension JinjaObject {
    private static let foreignKeyPrefix = "\u{0}jinja-key:"

    static func storageKey(_ key: JinjaValue) -> String? {
        switch key {
        case .string(let s): return s
        case .int(let i): return foreignKeyPrefix + "int:" + String(i)
        case .double(let d):
            // Python hashes 1.0 and 1 alike, so they are the same key.
            if let i = Int(exactly: d) { return storageKey(.int(i)) }
            return foreignKeyPrefix + "float:" + PythonFormat.float(d)
        case .bool(let b): return foreignKeyPrefix + (b ? "bool:True" : "bool:False")
        case .none: return foreignKeyPrefix + "none"
        default: return nil
        }
    }

    static func keyValue(_ stored: String) -> JinjaValue {
        guard stored.hasPrefix(foreignKeyPrefix) else { return .string(stored) }
        let body = stored.dropFirst(foreignKeyPrefix.count)
        if body.hasPrefix("int:"), let i = Int(body.dropFirst(4)) { return .int(i) }
        if body.hasPrefix("float:") { return .double(Double(body.dropFirst(6)) ?? .nan) }
        if body.hasPrefix("bool:") { return .bool(body.hasSuffix("True")) }
        if body == "none" { return .none }
        return .string(stored)
    }

    /// How json.dumps writes a key: non-string keys become their JSON spelling.
    static func jsonKey(_ stored: String) -> String {
        switch keyValue(stored) {
        case .string(let s): return s
        case .int(let i): return String(i)
        case .double(let d): return PythonFormat.float(d)
        case .bool(let b): return b ? "true" : "false"
        default: return "null"
        }
    }
}
