// The `is` tests (`defined`, `none`, `string`, `mapping`, `divisibleby`...) with jinja2's Python meanings.

extension JinjaInterpreter {
    static let supportedTests: Set<String> = [
        "boolean", "callable", "defined", "divisibleby", "eq", "equalto", "escaped", "even", "false", "filter", "float",
        "ge", "greaterthan", "gt", "in", "integer", "iterable", "le", "lessthan", "lower", "lt", "mapping", "ne", "none",
        "number", "odd", "sameas", "sequence", "string", "test", "true", "undefined", "upper", "==", "!=", "<", "<=", ">",
        ">=",
    ]

    func runTest(_ name: String, _ value: Value, _ args: [Value], _ kwargs: [(String, Value)], _ frame: Frame?) throws -> Bool {
        func argument() throws -> Value {
            if let first = args.first { return first }
            if let keyword = kwargs.first { return keyword.1 }
            throw JinjaFailure.type("test '\(name)' needs an argument")
        }
        if case .markup(let s) = value { return try runTest(name, .plain(.string(s)), args, kwargs, frame) }
        if case .iterator(let items) = value { return try runTest(name, .plain(.array(items)), args, kwargs, frame) }
        let v: JinjaValue
        switch value {
        case .plain(let p): v = p
        case .namespace, .loop:
            switch name {
            case "defined": return true
            case "undefined", "none", "string", "number", "integer", "float", "boolean", "true", "false", "mapping",
                 "callable":
                return false
            case "iterable", "sequence": if case .loop = value { return true } else { return false }
            default: v = try plain(value)
            }
        default:
            switch name {
            case "defined", "callable": return true
            case "undefined", "none", "string", "number", "integer", "float", "boolean", "true", "false", "mapping",
                 "iterable", "sequence":
                return false
            default: v = .string(try stringify(value))
            }
        }
        switch name {
        case "defined": return !v.isUndefined
        case "undefined": return v.isUndefined
        case "none": return v == .none
        case "boolean": if case .bool = v { return true } else { return false }
        case "true": return v == .bool(true)
        case "false": return v == .bool(false)
        case "string": if case .string = v { return true } else { return false }
        case "number":
            switch v {
            case .int, .double, .bool: return true
            default: return false
            }
        case "integer": if case .int = v { return true } else { return false }
        case "float": if case .double = v { return true } else { return false }
        case "mapping": if case .object = v { return true } else { return false }
        case "iterable", "sequence":
            switch v {
            case .string, .array, .object, .undefined: return true
            default: return false
            }
        case "callable": return false
        case "escaped": return false
        case "odd", "even":
            guard let n = Number(v) else { throw JinjaFailure.type("test '\(name)' needs a number, got \(typeName(value))") }
            let remainder = try binary(.modulo, v, .int(2))
            let isOdd = try pyEqual(remainder, .int(1))
            if case .double = n { return name == "odd" ? isOdd : (try pyEqual(remainder, .int(0))) }
            return name == "odd" ? isOdd : !isOdd
        case "divisibleby":
            let divisor = try plain(try argument())
            return try pyEqual(try binary(.modulo, v, divisor), .int(0))
        case "eq", "equalto", "==": return try compare(.equal, .plain(v), try argument())
        case "ne", "!=": return try compare(.notEqual, .plain(v), try argument())
        case "lt", "lessthan", "<": return try compare(.less, .plain(v), try argument())
        case "le", "<=": return try compare(.lessEqual, .plain(v), try argument())
        case "gt", "greaterthan", ">": return try compare(.greater, .plain(v), try argument())
        case "ge", ">=": return try compare(.greaterEqual, .plain(v), try argument())
        case "in": return try contains(try argument(), .plain(v))
        case "lower", "upper":
            let s = try PythonFormat.str(v, limit: limits.maxOutputBytes)
            let cased = s.unicodeScalars.filter { $0.properties.isCased }
            let check: (Unicode.Scalar) -> Bool = name == "lower" ? { $0.properties.isLowercase } : { $0.properties.isUppercase }
            return !cased.isEmpty && cased.allSatisfy(check)
        case "sameas":
            // Python identity; for the singletons templates compare against it is equality of
            // both value and type.
            let other = try plain(try argument())
            return try typeName(.plain(v)) == typeName(.plain(other)) && pyEqual(v, other)
        case "filter":
            guard case .string(let n) = v else { return false }
            return JinjaInterpreter.supportedFilters.contains(n)
        case "test":
            guard case .string(let n) = v else { return false }
            return JinjaInterpreter.supportedTests.contains(n)
        default:
            throw JinjaFailure.unsupported("test '\(name)'")
        }
    }
}
