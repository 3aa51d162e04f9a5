// Python operator semantics: checked int/float arithmetic, Markup concatenation, equality, ordering, membership.
import Foundation

enum Number {
    case int(Int)
    case double(Double)

    /// bool is an int subclass in Python, so `true + 1 == 2`.
    init?(_ v: JinjaValue) {
        switch v {
        case .int(let i): self = .int(i)
        case .bool(let b): self = .int(b ? 1 : 0)
        case .double(let d): self = .double(d)
        default: return nil
        }
    }

    var double: Double {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        }
    }
}

extension JinjaInterpreter {
    func unary(negate: Bool, _ v: JinjaValue) throws -> JinjaValue {
        switch Number(v) {
        case .int(let i)?:
            guard negate else { return .int(i) }
            let (r, overflow) = (0).subtractingReportingOverflow(i)
            if overflow { throw JinjaFailure.runtime("integer overflow") }
            return .int(r)
        case .double(let d)?:
            return .double(negate ? -d : d)
        case nil:
            throw JinjaFailure.type("bad operand type for unary \(negate ? "-" : "+"): '\(typeName(.plain(v)))'")
        }
    }

    func binary(_ op: BinaryOp, _ a: JinjaValue, _ b: JinjaValue) throws -> JinjaValue {
        if let x = Number(a), let y = Number(b) { return try arithmetic(op, x, y) }
        switch (op, a, b) {
        case (.add, .string(let x), .string(let y)):
            return .string(try bounded(x + y))
        case (.add, .array(let x), .array(let y)):
            try checkLength(x.count + y.count)
            return .array(x + y)
        case (.multiply, .string(let s), _), (.multiply, _, .string(let s)):
            guard let n = Number(a == .string(s) ? b : a), case .int(let count) = n else { break }
            try checkLength(count, bytes: s.utf8.count)
            return .string(count <= 0 ? "" : String(repeating: s, count: count))
        case (.multiply, .array(let items), _), (.multiply, _, .array(let items)):
            guard let n = Number(a == .array(items) ? b : a), case .int(let count) = n else { break }
            try checkLength(count, bytes: items.count)
            var out: [JinjaValue] = []
            for _ in 0..<max(0, count) { out += items }
            return .array(out)
        case (.modulo, .string(let format), _):
            return .string(try percentFormat(format, b))
        default:
            break
        }
        if a.isUndefined || b.isUndefined {
            throw JinjaFailure.runtime("undefined value used with operator '\(op.rawValue)'")
        }
        throw JinjaFailure.type("unsupported operand type(s) for \(op.rawValue): '\(typeName(.plain(a)))' and '\(typeName(.plain(b)))'")
    }

    private func arithmetic(_ op: BinaryOp, _ x: Number, _ y: Number) throws -> JinjaValue {
        if case .int(let i) = x, case .int(let j) = y {
            func checked(_ r: (partialValue: Int, overflow: Bool)) throws -> JinjaValue {
                if r.overflow { throw JinjaFailure.runtime("integer overflow") }
                return .int(r.partialValue)
            }
            switch op {
            case .add: return try checked(i.addingReportingOverflow(j))
            case .subtract: return try checked(i.subtractingReportingOverflow(j))
            case .multiply: return try checked(i.multipliedReportingOverflow(by: j))
            case .divide:
                guard j != 0 else { throw JinjaFailure.runtime("division by zero") }
                return .double(Double(i) / Double(j))
            case .floorDivide, .modulo:
                guard j != 0 else { throw JinjaFailure.runtime("integer division or modulo by zero") }
                if i == Int.min && j == -1 { throw JinjaFailure.runtime("integer overflow") }
                var q = i / j
                var r = i % j
                // Python rounds toward negative infinity; Swift toward zero.
                if r != 0 && ((r < 0) != (j < 0)) { q -= 1; r += j }
                return .int(op == .floorDivide ? q : r)
            case .power:
                if j < 0 {
                    guard i != 0 else { throw JinjaFailure.runtime("0.0 cannot be raised to a negative power") }
                    return .double(Foundation.pow(Double(i), Double(j)))
                }
                var result = 1
                var base = i
                var e = j
                while e > 0 {
                    if e & 1 == 1 { result = try checkedInt(result.multipliedReportingOverflow(by: base)) }
                    e >>= 1
                    if e > 0 { base = try checkedInt(base.multipliedReportingOverflow(by: base)) }
                }
                return .int(result)
            }
        }
        let (a, b) = (x.double, y.double)
        switch op {
        case .add: return .double(a + b)
        case .subtract: return .double(a - b)
        case .multiply: return .double(a * b)
        case .divide:
            guard b != 0 else { throw JinjaFailure.runtime("float division by zero") }
            return .double(a / b)
        case .floorDivide:
            guard b != 0 else { throw JinjaFailure.runtime("float floor division by zero") }
            return .double((a / b).rounded(.down))
        case .modulo:
            guard b != 0 else { throw JinjaFailure.runtime("float modulo") }
            var r = fmod(a, b)
            if r != 0 && ((r < 0) != (b < 0)) { r += b }
            if r == 0 { r = b < 0 ? -0.0 : 0.0 }
            return .double(r)
        case .power:
            if a == 0 && b < 0 { throw JinjaFailure.runtime("0.0 cannot be raised to a negative power") }
            return .double(Foundation.pow(a, b))
        }
    }

    /// Markup arithmetic: `Markup + str` escapes the str, and the result stays Markup.
    func markupBinary(_ op: BinaryOp, _ a: Value, _ b: Value) throws -> Value? {
        func text(_ v: Value) -> (String, Bool)? {
            switch v {
            case .markup(let s): return (s, true)
            case .plain(.string(let s)): return (s, false)
            default: return nil
            }
        }
        switch op {
        case .add:
            guard let (x, xSafe) = text(a), let (y, ySafe) = text(b), xSafe || ySafe else { return nil }
            return .markup(try bounded((xSafe ? x : htmlEscape(x)) + (ySafe ? y : htmlEscape(y))))
        case .multiply:
            if case .markup(let s) = a, case .string(let r) = try binary(.multiply, .string(s), try plain(b)) { return .markup(r) }
            if case .markup(let s) = b, case .string(let r) = try binary(.multiply, try plain(a), .string(s)) { return .markup(r) }
            return nil
        default:
            return nil
        }
    }

    private func checkedInt(_ r: (partialValue: Int, overflow: Bool)) throws -> Int {
        if r.overflow { throw JinjaFailure.runtime("integer overflow") }
        return r.partialValue
    }

    func bounded(_ s: String) throws -> String {
        if s.utf8.count > limits.maxOutputBytes { throw JinjaFailure.limit("string longer than \(limits.maxOutputBytes) bytes") }
        return s
    }

    /// Guards repetition and concatenation before the memory is allocated.
    func checkLength(_ count: Int, bytes: Int = 1) throws {
        let (total, overflow) = count.multipliedReportingOverflow(by: max(bytes, 1))
        if overflow || total > limits.maxOutputBytes || count > limits.maxCollectionLength {
            throw JinjaFailure.limit("result larger than the template limits allow")
        }
    }

    // MARK: Comparison

    func compare(_ op: CompareOp, _ lhs: Value, _ rhs: Value) throws -> Bool {
        switch op {
        case .isIn: return try contains(rhs, lhs)
        case .notIn: return !(try contains(rhs, lhs))
        default: break
        }
        let a = try plainForComparison(lhs)
        let b = try plainForComparison(rhs)
        switch op {
        case .equal: return try pyEqual(a, b)
        case .notEqual: return !(try pyEqual(a, b))
        case .less: return try pyLess(a, b, op: "<")
        case .lessEqual: return try pyLess(a, b, op: "<=") || pyEqual(a, b)
        case .greater: return try pyLess(b, a, op: ">")
        case .greaterEqual: return try pyLess(b, a, op: ">=") || pyEqual(a, b)
        case .isIn, .notIn: return false
        }
    }

    private func plainForComparison(_ v: Value) throws -> JinjaValue {
        if case .plain(let p) = v { return p }
        if case .markup(let s) = v { return .string(s) }
        if case .iterator(let items) = v { return .array(items) }
        if case .namespace = v { return try plain(v) }
        return .string(try stringify(v))
    }

    /// Python `==`: numbers compare across int/float/bool, dicts ignore order, strings compare
    /// code points.
    func pyEqual(_ a: JinjaValue, _ b: JinjaValue) throws -> Bool {
        try charge()
        if let x = Number(a), let y = Number(b) {
            if case .int(let i) = x, case .int(let j) = y { return i == j }
            return x.double == y.double
        }
        switch (a, b) {
        case (.undefined, .undefined), (.none, .none): return true
        case (.string(let x), .string(let y)): return PythonText.equal(x, y)
        case (.array(let x), .array(let y)):
            guard x.count == y.count else { return false }
            for (p, q) in zip(x, y) where !(try pyEqual(p, q)) { return false }
            return true
        case (.object(let x), .object(let y)):
            guard x.count == y.count else { return false }
            for entry in x {
                guard let other = y[entry.key], try pyEqual(entry.value, other) else { return false }
            }
            return true
        default:
            return false
        }
    }

    func pyLess(_ a: JinjaValue, _ b: JinjaValue, op: String = "<") throws -> Bool {
        try charge()
        if let x = Number(a), let y = Number(b) {
            if case .int(let i) = x, case .int(let j) = y { return i < j }
            return x.double < y.double
        }
        switch (a, b) {
        case (.string(let x), .string(let y)):
            return PythonText.less(x, y)
        case (.array(let x), .array(let y)):
            for (p, q) in zip(x, y) where !(try pyEqual(p, q)) { return try pyLess(p, q, op: op) }
            return x.count < y.count
        default:
            throw JinjaFailure.type("'\(op)' not supported between instances of '\(typeName(.plain(a)))' and '\(typeName(.plain(b)))'")
        }
    }

    func contains(_ container: Value, _ element: Value) throws -> Bool {
        if case .markup(let s) = container { return try contains(.plain(.string(s)), element) }
        if case .iterator(let items) = container { return try contains(.plain(.array(items)), element) }
        let item = try plainForComparison(element)
        switch container {
        case .plain(.string(let s)):
            guard case .string(let needle) = item else {
                throw JinjaFailure.type("'in <string>' requires string as left operand, not \(typeName(element))")
            }
            return PythonText.contains(s, needle)
        case .plain(.array(let items)):
            for candidate in items where try pyEqual(candidate, item) { return true }
            return false
        case .plain(.object(let o)):
            guard let key = JinjaObject.storageKey(item) else { throw JinjaFailure.type("unhashable type: '\(typeName(element))'") }
            return o[key] != nil
        case .plain(.undefined):
            return false
        case .namespace(let box):
            guard case .string(let key) = item else { return false }
            return box[key] != nil
        default:
            throw JinjaFailure.type("argument of type '\(typeName(container))' is not iterable")
        }
    }

    /// Stable merge sort whose comparator may throw (Python's sorted raises on mixed types).
    func stableSort(_ items: [JinjaValue], by less: (JinjaValue, JinjaValue) throws -> Bool) throws -> [JinjaValue] {
        if items.count < 2 { return items }
        let mid = items.count / 2
        let left = try stableSort(Array(items[..<mid]), by: less)
        let right = try stableSort(Array(items[mid...]), by: less)
        var out: [JinjaValue] = []
        out.reserveCapacity(items.count)
        var i = 0
        var j = 0
        while i < left.count && j < right.count {
            if try less(right[j], left[i]) { out.append(right[j]); j += 1 } else { out.append(left[i]); i += 1 }
        }
        out += left[i...]
        out += right[j...]
        return out
    }
}
