// Evaluates expressions: names, literals, jinja2 sandbox lookups, calls, and run-time/plain value glue.

extension JinjaInterpreter {
    func eval(_ e: Expr, _ frame: Frame) throws -> Value {
        switch e.kind {
        case .literal(let v):
            return .plain(v)
        case .name(let name):
            return frame.lookup(name) ?? .undefined
        case .list(let items), .tuple(let items):
            let values = try items.map { try plain(try eval($0, frame)) }
            return .plain(try checkedDepth(.array(values)))
        case .dict(let entries):
            var object = JinjaObject()
            for entry in entries {
                let key = try eval(entry.key, frame)
                object[try dictKey(key)] = try plain(try eval(entry.value, frame))
            }
            return .plain(try checkedDepth(.object(object)))
        case .getattr(let base, let name):
            return try attribute(of: try eval(base, frame), name)
        case .getitem(let base, let index):
            let container = try eval(base, frame)
            if case .slice(let start, let stop, let step) = index.kind {
                let bounds = try [start, stop, step].map { try $0.map { try plain(try eval($0, frame)) } ?? .none }
                currentLine = e.line
                return .plain(try slice(try plain(container), bounds[0], bounds[1], bounds[2]))
            }
            return try item(of: container, try eval(index, frame))
        case .call(let calleeExpr, let argExprs):
            let callee: Value
            if case .getattr(let baseExpr, let method) = calleeExpr.kind {
                let base = try eval(baseExpr, frame)
                if JinjaInterpreter.mutatingMethods.contains(method),
                   let result = try callMutating(base, baseExpr, method, argExprs, frame)
                {
                    return result
                }
                callee = try attribute(of: base, method)
            } else {
                callee = try eval(calleeExpr, frame)
            }
            let (args, kwargs) = try evalArguments(argExprs, frame)
            currentLine = e.line
            return try call(callee, args, kwargs, calleeExpr: calleeExpr)
        case .filter(let base, let filter):
            return try applyFilter(filter, to: try eval(base, frame), frame)
        case .test(let base, let name, let argExprs, let negated):
            let value = try eval(base, frame)
            let (args, kwargs) = try evalArguments(argExprs, frame)
            currentLine = e.line
            let result = try runTest(name, value, args, kwargs, frame)
            return .plain(.bool(negated ? !result : result))
        case .negate(let operand):
            let v = try plain(try eval(operand, frame))
            currentLine = e.line
            return .plain(try unary(negate: true, v))
        case .plus(let operand):
            let v = try plain(try eval(operand, frame))
            currentLine = e.line
            return .plain(try unary(negate: false, v))
        case .not(let operand):
            return .plain(.bool(!(try truthy(try eval(operand, frame)))))
        case .binary(let op, let lhs, let rhs):
            let left = try eval(lhs, frame)
            let right = try eval(rhs, frame)
            currentLine = e.line
            if let result = try markupBinary(op, left, right) { return result }
            return .plain(try binary(op, try plain(left), try plain(right)))
        case .and(let lhs, let rhs):
            let a = try eval(lhs, frame)
            return try truthy(a) ? try eval(rhs, frame) : a
        case .or(let lhs, let rhs):
            let a = try eval(lhs, frame)
            return try truthy(a) ? a : try eval(rhs, frame)
        case .compare(let first, let comparisons):
            var left = try eval(first, frame)
            for comparison in comparisons {
                let right = try eval(comparison.operand, frame)
                currentLine = e.line
                if !(try compare(comparison.op, left, right)) { return .plain(.bool(false)) }
                left = right
            }
            return .plain(.bool(true))
        case .concat(let parts):
            var text = BoundedText(limit: limits.maxOutputBytes)
            for part in parts { try text.append(try stringify(try eval(part, frame))) }
            return .plain(.string(text.text))
        case .conditional(let test, let then, let otherwise):
            if try truthy(try eval(test, frame)) { return try eval(then, frame) }
            return try otherwise.map { try eval($0, frame) } ?? .undefined
        case .slice:
            throw JinjaFailure.runtime("a slice can only appear inside brackets")
        }
    }

    func evalArguments(_ args: CallArgs, _ frame: Frame) throws -> ([Value], [(String, Value)]) {
        let positional = try args.positional.map { try eval($0, frame) }
        let keyword = try args.keyword.map { ($0.name, try eval($0.value, frame)) }
        return (positional, keyword)
    }

    func dictKey(_ key: Value) throws -> String {
        let k = try plain(key)
        guard let stored = JinjaObject.storageKey(k) else { throw JinjaFailure.type("unhashable type: '\(typeName(key))'") }
        return stored
    }

    // MARK: Conversions

    func plain(_ value: Value, depth: Int = 0) throws -> JinjaValue {
        switch value {
        case .plain(let v):
            return v
        case .namespace(let box):
            guard depth < JinjaLimits.maxValueDepth else { throw JinjaFailure.limit("namespace nested too deeply") }
            var object = JinjaObject()
            for key in box.keys { object[key] = try plain(box.values[key] ?? .undefined, depth: depth + 1) }
            return .object(object)
        case .loop(let box):
            return .object(loopObject(box))
        case .markup(let s):
            return .string(s)
        case .iterator(let items):
            return .array(items)
        default:
            throw JinjaFailure.type("a \(typeName(value)) cannot be used as data")
        }
    }

    func stringify(_ value: Value) throws -> String {
        switch value {
        case .plain(let v):
            return try PythonFormat.str(v, limit: limits.maxOutputBytes)
        case .namespace:
            return "<Namespace " + (try PythonFormat.repr(try plain(value), limit: limits.maxOutputBytes)) + ">"
        case .macro(let m):
            return "<Macro '\(m.name)'>"
        case .builtin(let b):
            return "<function \(b.rawValue)>"
        case .method(let v, let name):
            return "<built-in method \(name) of \(typeName(.plain(v))) object>"
        case .loop(let box):
            return "<LoopContext \(box.index0 + 1)/\(box.items.count)>"
        case .loopCycle:
            return "<bound method LoopContext.cycle>"
        case .markup(let s):
            return s
        case .iterator(let items):
            return try PythonFormat.str(.array(items), limit: limits.maxOutputBytes)
        }
    }

    func truthy(_ value: Value) throws -> Bool {
        if case .plain(let v) = value { return v.isTruthy }
        if case .markup(let s) = value { return !s.isEmpty }
        return true
    }

    func typeName(_ value: Value) -> String {
        switch value {
        case .plain(let v):
            switch v {
            case .undefined: return "Undefined"
            case .none: return "NoneType"
            case .bool: return "bool"
            case .int: return "int"
            case .double: return "float"
            case .string: return "str"
            case .array: return "list"
            case .object: return "dict"
            }
        case .namespace: return "Namespace"
        case .macro: return "Macro"
        case .builtin: return "function"
        case .method, .loopCycle: return "builtin_function_or_method"
        case .loop: return "LoopContext"
        case .markup: return "Markup"
        case .iterator: return "generator"
        }
    }

    /// What `for` sees: list items, dict keys, string characters; Undefined iterates as empty.
    func iterate(_ value: Value) throws -> [JinjaValue] {
        switch value {
        case .plain(.array(let items)): return items
        case .plain(.object(let o)): return o.keys.map(JinjaObject.keyValue)
        case .plain(.string(let s)): return s.unicodeScalars.map { .string(String($0)) }
        case .plain(.undefined): return []
        case .markup(let s): return s.unicodeScalars.map { .string(String($0)) }
        case .iterator(let items): return items
        case .namespace(let box): return box.keys.map { .string($0) }
        default: throw JinjaFailure.type("'\(typeName(value))' object is not iterable")
        }
    }

    /// Rejects values nested deeper than the stack can safely walk (and free).
    func checkedDepth(_ value: JinjaValue) throws -> JinjaValue {
        var budget = 0
        func depth(_ v: JinjaValue, _ level: Int) throws {
            guard level <= JinjaLimits.maxValueDepth else { throw JinjaFailure.limit("value nested deeper than \(JinjaLimits.maxValueDepth) levels") }
            budget += 1
            if budget >= 1024 { try charge(budget); budget = 0 }
            switch v {
            case .array(let items): for item in items { try depth(item, level + 1) }
            case .object(let o): for entry in o { try depth(entry.value, level + 1) }
            default: break
            }
        }
        try depth(value, 0)
        try charge(budget)
        return value
    }

    func loopObject(_ box: LoopBox) -> JinjaObject {
        var o = JinjaObject()
        for name in ["index", "index0", "revindex", "revindex0", "first", "last", "length", "depth", "depth0",
                     "previtem", "nextitem"] {
            o[name] = loopAttribute(box, name)
        }
        return o
    }

    func loopAttribute(_ box: LoopBox, _ name: String) -> JinjaValue {
        let i = box.index0
        let n = box.items.count
        switch name {
        case "index": return .int(i + 1)
        case "index0": return .int(i)
        case "revindex": return .int(n - i)
        case "revindex0": return .int(n - i - 1)
        case "first": return .bool(i == 0)
        case "last": return .bool(i == n - 1)
        case "length": return .int(n)
        case "depth": return .int(1)
        case "depth0": return .int(0)
        case "previtem": return i > 0 ? box.items[i - 1] : .undefined
        case "nextitem": return i + 1 < n ? box.items[i + 1] : .undefined
        default: return .undefined
        }
    }

    // MARK: Lookup

    static let stringMethods: Set<String> = [
        "capitalize", "casefold", "center", "count", "encode", "endswith", "expandtabs", "find", "format", "format_map",
        "index", "isalnum", "isalpha", "isascii", "isdecimal", "isdigit", "isidentifier", "islower", "isnumeric",
        "isprintable", "isspace", "istitle", "isupper", "join", "ljust", "lower", "lstrip", "maketrans", "partition",
        "removeprefix", "removesuffix", "replace", "rfind", "rindex", "rjust", "rpartition", "rsplit", "rstrip", "split",
        "splitlines", "startswith", "strip", "swapcase", "title", "translate", "upper", "zfill",
    ]
    static let dictMethods: Set<String> = [
        "clear", "copy", "fromkeys", "get", "items", "keys", "pop", "popitem", "setdefault", "update", "values",
    ]
    static let listMethods: Set<String> = [
        "append", "clear", "copy", "count", "extend", "index", "insert", "pop", "remove", "reverse", "sort",
    ]
    static let mutatingMethods: Set<String> = [
        "append", "extend", "insert", "pop", "remove", "clear", "reverse", "sort", "update", "setdefault", "popitem",
    ]

    /// `obj.name`: like jinja2, a Python attribute (a method) wins over a dict key of the same name.
    func attribute(of value: Value, _ name: String) throws -> Value {
        switch value {
        case .plain(let v):
            switch v {
            case .object(let o):
                if JinjaInterpreter.dictMethods.contains(name) { return .method(v, name) }
                return .plain(o[name] ?? .undefined)
            case .string:
                return JinjaInterpreter.stringMethods.contains(name) ? .method(v, name) : .undefined
            case .array:
                return JinjaInterpreter.listMethods.contains(name) ? .method(v, name) : .undefined
            default:
                // Attributes of Undefined are Undefined here, where jinja2 raises: only inputs
                // that fail under transformers render differently.
                return .undefined
            }
        case .namespace(let box):
            return box[name] ?? .undefined
        case .loop(let box):
            if name == "cycle" { return .loopCycle(box) }
            return .plain(loopAttribute(box, name))
        case .macro(let m):
            return name == "name" ? .plain(.string(m.name)) : .undefined
        case .markup(let s):
            return try attribute(of: .plain(.string(s)), name)
        case .iterator(let items):
            return try attribute(of: .plain(.array(items)), name)
        default:
            return .undefined
        }
    }

    /// `obj[key]`: like jinja2, a subscript that fails falls back to attribute lookup for string keys.
    func item(of container: Value, _ key: Value) throws -> Value {
        if case .markup(let s) = container { return try item(of: .plain(.string(s)), key) }
        if case .iterator(let items) = container { return try item(of: .plain(.array(items)), key) }
        guard case .plain(let c) = container else {
            if case .plain(.string(let name)) = key { return try attribute(of: container, name) }
            return .undefined
        }
        let k = try plain(key)
        switch (c, k) {
        case (.object(let o), _):
            if let stored = JinjaObject.storageKey(k), let v = o[stored] { return .plain(v) }
        case (.array(let items), _):
            if let i = indexValue(k), let v = element(items, i) { return .plain(v) }
        case (.string(let s), _):
            if let i = indexValue(k) {
                let scalars = Array(s.unicodeScalars)
                if let v = element(scalars, i) { return .plain(.string(String(v))) }
            }
        default:
            break
        }
        if case .string(let name) = k { return try attribute(of: container, name) }
        return .undefined
    }

    private func indexValue(_ v: JinjaValue) -> Int? {
        switch v {
        case .int(let i): return i
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }

    private func element<T>(_ items: [T], _ index: Int) -> T? {
        let i = index < 0 ? items.count + index : index
        return i >= 0 && i < items.count ? items[i] : nil
    }

    /// Python slicing of lists and strings (by code point), including negative steps. jinja2
    /// compiles slices to plain Python subscripts, so bad operands raise instead of giving Undefined.
    func slice(_ value: JinjaValue, _ start: JinjaValue, _ stop: JinjaValue, _ step: JinjaValue) throws -> JinjaValue {
        func bound(_ v: JinjaValue) throws -> Int? {
            switch v {
            case .none, .undefined: return nil
            case .int(let i): return i
            case .bool(let b): return b ? 1 : 0
            default: throw JinjaFailure.type("slice indices must be integers or None")
            }
        }
        switch value {
        case .array, .string: break
        case .undefined: return .undefined
        default: throw JinjaFailure.type("'\(typeName(.plain(value)))' object is not subscriptable")
        }
        let stepValue = try bound(step) ?? 1
        guard stepValue != 0 else { throw JinjaFailure.runtime("slice step cannot be zero") }
        func indices(_ count: Int) throws -> [Int] {
            func clamp(_ v: Int?, _ defaultValue: Int) -> Int {
                guard var i = v else { return defaultValue }
                if i < 0 { i += count }
                if stepValue > 0 { return min(max(i, 0), count) }
                return min(max(i, -1), count - 1)
            }
            let lo = clamp(try bound(start), stepValue > 0 ? 0 : count - 1)
            let hi = clamp(try bound(stop), stepValue > 0 ? count : -1)
            return Array(stride(from: lo, to: hi, by: stepValue))
        }
        if case .array(let items) = value { return .array(try indices(items.count).map { items[$0] }) }
        let scalars = Array((value.stringValue ?? "").unicodeScalars)
        return .string(PythonText.string(try indices(scalars.count).map { scalars[$0] }))
    }

    // MARK: Calls

    func call(_ callee: Value, _ args: [Value], _ kwargs: [(String, Value)], calleeExpr: Expr) throws -> Value {
        switch callee {
        case .macro(let m):
            return try callMacro(m, args, kwargs, caller: nil)
        case .builtin(let b):
            return try callBuiltin(b, args, kwargs)
        case .method(let v, let name):
            return try callMethod(v, name, args, kwargs)
        case .loopCycle(let box):
            guard !args.isEmpty else { throw JinjaFailure.type("no items for cycling given") }
            return args[box.index0 % args.count]
        case .plain(.undefined):
            switch calleeExpr.kind {
            case .name(let n): throw JinjaFailure.runtime("'\(n)' is undefined")
            case .getattr(_, let n): throw JinjaFailure.runtime("'\(n)' is undefined (no such attribute or method)")
            default: throw JinjaFailure.runtime("called an undefined value")
            }
        default:
            throw JinjaFailure.type("'\(typeName(callee))' object is not callable")
        }
    }

    /// `x.append(...)`-style calls write the changed value back where `x` lives, which gives
    /// Python's in-place effect for variables and namespace attributes. transformers'
    /// immutable sandbox forbids these, so templates that work there never reach this.
    private func callMutating(_ base: Value, _ baseExpr: Expr, _ method: String, _ argExprs: CallArgs,
                              _ frame: Frame) throws -> Value?
    {
        guard case .plain(let container) = base else { return nil }
        switch container {
        case .array: guard JinjaInterpreter.listMethods.contains(method) else { return nil }
        case .object: guard JinjaInterpreter.dictMethods.contains(method) else { return nil }
        default: return nil
        }
        let (args, kwargs) = try evalArguments(argExprs, frame)
        currentLine = baseExpr.line
        var updated = container
        let result = try mutate(&updated, method, try args.map { try plain($0) }, try kwargs.map { ($0.0, try plain($0.1)) })
        updated = try checkedDepth(updated)
        switch baseExpr.kind {
        case .name(let name):
            frame.owner(of: name)?.vars[name] = .plain(updated)
        case .getattr(let nsExpr, let attr):
            if case .namespace(let box) = try eval(nsExpr, frame) { box[attr] = .plain(updated) }
        default:
            break
        }
        return .plain(result)
    }
}
