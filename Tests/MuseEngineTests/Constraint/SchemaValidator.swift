// A plain JSON Schema checker for tests, independent of the grammar compiler: what the model
// produced under a schema must pass it.
import Foundation

enum SchemaValidator {
    /// The reasons `json` does not satisfy `schema` (empty when it does).
    static func problems(_ json: String, schema: String) -> [String] {
        guard let value = try? JSONSerialization.jsonObject(with: Data(json.utf8), options: [.fragmentsAllowed]) else {
            return ["not JSON: \(json)"]
        }
        guard let root = try? JSONSerialization.jsonObject(with: Data(schema.utf8)) else { return ["bad schema"] }
        var out: [String] = []
        check(value, root, root: root, path: "$", into: &out)
        return out
    }

    private static func check(_ value: Any, _ schema: Any, root: Any, path: String, into out: inout [String]) {
        guard let s = schema as? [String: Any] else { return }
        if let ref = s["$ref"] as? String {
            var target: Any = root
            for key in ref.dropFirst(2).split(separator: "/") { target = (target as? [String: Any])?[String(key)] ?? [:] }
            return check(value, target, root: root, path: path, into: &out)
        }
        if let c = s["const"], !equal(value, c) { out.append("\(path): not the const") }
        if let e = s["enum"] as? [Any], !e.contains(where: { equal(value, $0) }) { out.append("\(path): not in the enum") }
        if let any = (s["anyOf"] ?? s["oneOf"]) as? [Any] {
            let fits = any.contains { option in
                var sub: [String] = []
                check(value, option, root: root, path: path, into: &sub)
                return sub.isEmpty
            }
            if !fits { out.append("\(path): matches no alternative") }
        }
        if let type = s["type"] {
            let types = (type as? [String]) ?? [type as? String ?? ""]
            if !types.contains(where: { hasType(value, $0) }) { out.append("\(path): not of type \(types)") }
        }
        if let string = value as? String {
            if let max = s["maxLength"] as? Int, string.count > max { out.append("\(path): longer than \(max)") }
            if let min = s["minLength"] as? Int, string.count < min { out.append("\(path): shorter than \(min)") }
        }
        if let array = value as? [Any] {
            if let max = s["maxItems"] as? Int, array.count > max { out.append("\(path): more than \(max) items") }
            if let min = s["minItems"] as? Int, array.count < min { out.append("\(path): fewer than \(min) items") }
            if let items = s["items"] {
                for (i, item) in array.enumerated() { check(item, items, root: root, path: "\(path)[\(i)]", into: &out) }
            }
        }
        if let object = value as? [String: Any] {
            let properties = s["properties"] as? [String: Any] ?? [:]
            for name in s["required"] as? [String] ?? [] where object[name] == nil { out.append("\(path): \(name) missing") }
            for (key, member) in object {
                if let sub = properties[key] {
                    check(member, sub, root: root, path: "\(path).\(key)", into: &out)
                } else if s["additionalProperties"] as? Bool == false {
                    out.append("\(path): unexpected \(key)")
                }
            }
        }
    }

    private static func hasType(_ value: Any, _ type: String) -> Bool {
        switch type {
        case "object": value is [String: Any]
        case "array": value is [Any]
        case "string": value is String
        case "null": value is NSNull
        case "boolean": (value as? NSNumber).map(isBool) ?? false
        case "integer": (value as? NSNumber).map { !isBool($0) && $0.doubleValue == $0.doubleValue.rounded() } ?? false
        case "number": (value as? NSNumber).map { !isBool($0) } ?? false
        default: false
        }
    }

    private static func isBool(_ n: NSNumber) -> Bool { String(cString: n.objCType) == "c" }

    private static func equal(_ a: Any, _ b: Any) -> Bool {
        guard let x = try? JSONSerialization.data(withJSONObject: [a], options: .sortedKeys),
              let y = try? JSONSerialization.data(withJSONObject: [b], options: .sortedKeys) else { return false }
        return x == y
    }
}
