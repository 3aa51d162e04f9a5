// Python methods templates call on str, dict and list values, and printf/str.format formatting.
import Foundation

/// Positional-or-keyword argument access with Python-style errors for anything unexpected.
struct Arguments {
    let positional: [JinjaValue]
    let keyword: [(String, JinjaValue)]
    let owner: String

    func callAsFunction(_ index: Int, _ name: String) -> JinjaValue? {
        if index < positional.count { return positional[index] }
        return keyword.first { $0.0 == name }?.1
    }

    func string(_ index: Int, _ name: String) throws -> String? {
        guard let v = self(index, name), !v.isUndefined, v != .none else { return nil }
        guard case .string(let s) = v else { throw JinjaFailure.type("\(owner) argument '\(name)' must be str") }
        return s
    }

    func int(_ index: Int, _ name: String) throws -> Int? {
        guard let v = self(index, name), !v.isUndefined, v != .none else { return nil }
        guard case .int(let i)? = Number(v) else { throw JinjaFailure.type("\(owner) argument '\(name)' must be int") }
        return i
    }

    func bool(_ index: Int, _ name: String) -> Bool? {
        self(index, name).map { $0.isTruthy }
    }

    /// Python raises TypeError for surplus or misspelled arguments; so does this.
    func expect(max count: Int, names: [String]) throws {
        if positional.count > count {
            throw JinjaFailure.type("\(owner) takes at most \(count) argument(s) (\(positional.count) given)")
        }
        for (key, _) in keyword {
            guard let at = names.firstIndex(of: key) else {
                throw JinjaFailure.type("\(owner) got an unexpected keyword argument '\(key)'")
            }
            if at < positional.count { throw JinjaFailure.type("\(owner) got multiple values for argument '\(key)'") }
        }
    }
}

extension JinjaInterpreter {
    func callMethod(_ value: JinjaValue, _ name: String, _ args: [Value], _ kwargs: [(String, Value)]) throws -> Value {
        let a = Arguments(positional: try args.map { try plain($0) }, keyword: try kwargs.map { ($0.0, try plain($0.1)) },
                          owner: "\(typeName(.plain(value))).\(name)()")
        switch value {
        case .string(let s): return .plain(try stringMethod(s, name, a))
        case .object(let o): return .plain(try dictMethod(o, name, a))
        case .array(let items): return .plain(try listMethod(items, name, a))
        default: throw JinjaFailure.type("'\(typeName(.plain(value)))' object has no attribute '\(name)'")
        }
    }

    private func stringMethod(_ s: String, _ name: String, _ a: Arguments) throws -> JinjaValue {
        switch name {
        case "strip", "lstrip", "rstrip":
            try a.expect(max: 1, names: ["chars"])
            return .string(PythonText.strip(s, try a.string(0, "chars"), leading: name != "rstrip", trailing: name != "lstrip"))
        case "split", "rsplit":
            try a.expect(max: 2, names: ["sep", "maxsplit"])
            let sep = try a.string(0, "sep")
            let maxsplit = try a.int(1, "maxsplit") ?? -1
            if name == "rsplit" && maxsplit >= 0 {
                // rsplit only differs from split when limited; split the reversed text instead.
                let reversed = { (t: String) in PythonText.string(t.unicodeScalars.reversed()) }
                let parts = try PythonText.split(reversed(s), sep.map(reversed), maxsplit: maxsplit)
                return .array(parts.reversed().map { .string(reversed($0)) })
            }
            return .array(try PythonText.split(s, sep, maxsplit: maxsplit).map { .string($0) })
        case "splitlines":
            try a.expect(max: 1, names: ["keepends"])
            return .array(PythonText.splitlines(s, keepends: a.bool(0, "keepends") ?? false).map { .string($0) })
        case "startswith", "endswith":
            try a.expect(max: 3, names: ["prefix", "start", "end"])
            let text = try substring(s, a)
            let candidates: [JinjaValue]
            switch a(0, "prefix") {
            case .string(let p)?: candidates = [.string(p)]
            case .array(let list)?: candidates = list
            default: throw JinjaFailure.type("\(a.owner) first arg must be str or a tuple of str")
            }
            for case .string(let p) in candidates {
                let (t, q) = (Array(text.unicodeScalars), Array(p.unicodeScalars))
                let hit = name == "startswith" ? t.starts(with: q) : t.reversed().starts(with: q.reversed())
                if hit { return .bool(true) }
            }
            return .bool(false)
        case "upper": return .string(PythonText.upper(s))
        case "lower", "casefold": return .string(PythonText.lower(s))
        case "title": return .string(PythonText.title(s))
        case "capitalize": return .string(PythonText.capitalize(s))
        case "swapcase":
            return .string(s.unicodeScalars.map { c in
                let t = String(c)
                return c.properties.isUppercase ? t.lowercased() : c.properties.isLowercase ? t.uppercased() : t
            }.joined())
        case "replace":
            try a.expect(max: 3, names: ["old", "new", "count"])
            guard let old = try a.string(0, "old"), let new = try a.string(1, "new") else {
                throw JinjaFailure.type("\(a.owner) needs 'old' and 'new'")
            }
            return .string(try PythonText.replace(s, old, new, count: try a.int(2, "count") ?? -1, limit: limits.maxOutputBytes))
        case "find", "rfind", "index", "rindex", "count":
            try a.expect(max: 3, names: ["sub", "start", "end"])
            guard let sub = try a.string(0, "sub") else { throw JinjaFailure.type("\(a.owner) needs a substring") }
            let text = try substring(s, a)
            if name == "count" { return .int(PythonText.count(text, sub)) }
            let found = name.hasPrefix("r") ? PythonText.rfind(text, sub) : PythonText.find(text, sub)
            if found < 0 && name.hasSuffix("index") { throw JinjaFailure.runtime("substring not found") }
            return .int(found < 0 ? -1 : found + sliceStart(s, a))
        case "join":
            try a.expect(max: 1, names: ["iterable"])
            var out = BoundedText(limit: limits.maxOutputBytes)
            for (i, item) in try iterate(.plain(a(0, "iterable") ?? .undefined)).enumerated() {
                guard case .string(let piece) = item else { throw JinjaFailure.type("sequence item \(i): expected str instance") }
                if i > 0 { try out.append(s) }
                try out.append(piece)
            }
            return .string(out.text)
        case "format":
            return .string(try braceFormat(s, a))
        case "removeprefix", "removesuffix":
            guard let affix = try a.string(0, "prefix") else { throw JinjaFailure.type("\(a.owner) needs a str") }
            let (t, q) = (Array(s.unicodeScalars), Array(affix.unicodeScalars))
            if name == "removeprefix", t.starts(with: q) { return .string(PythonText.string(t.dropFirst(q.count))) }
            if name == "removesuffix", !q.isEmpty, t.reversed().starts(with: q.reversed()) {
                return .string(PythonText.string(t.dropLast(q.count)))
            }
            return .string(s)
        case "partition", "rpartition":
            guard let sep = try a.string(0, "sep"), !sep.isEmpty else { throw JinjaFailure.runtime("empty separator") }
            let at = name == "partition" ? PythonText.find(s, sep) : PythonText.rfind(s, sep)
            let t = Array(s.unicodeScalars)
            if at < 0 { return name == "partition" ? .array([.string(s), "", ""]) : .array(["", "", .string(s)]) }
            let end = at + sep.unicodeScalars.count
            return .array([.string(PythonText.string(t[..<at])), .string(sep), .string(PythonText.string(t[end...]))])
        case "center", "ljust", "rjust", "zfill":
            let width = try a.int(0, "width") ?? 0
            let fill = name == "zfill" ? "0" : (try a.string(1, "fillchar") ?? " ")
            guard fill.unicodeScalars.count == 1 else { throw JinjaFailure.type("The fill character must be exactly one character long") }
            let missing = max(0, width - PythonText.length(s))
            try checkLength(missing)
            let pad = { (n: Int) in String(repeating: fill, count: n) }
            switch name {
            case "ljust": return .string(s + pad(missing))
            case "rjust": return .string(pad(missing) + s)
            case "zfill":
                if let sign = s.unicodeScalars.first, sign == "-" || sign == "+" {
                    return .string(String(sign) + pad(missing) + String(s.unicodeScalars.dropFirst()))
                }
                return .string(pad(missing) + s)
            default:
                let left = missing / 2 + (missing & width & 1)
                return .string(pad(left) + s + pad(missing - left))
            }
        case "isdigit", "isdecimal", "isnumeric":
            return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.numericType != nil })
        case "isalpha":
            return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.isAlphabetic })
        case "isalnum":
            return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy { $0.properties.isAlphabetic || $0.properties.numericType != nil })
        case "isspace":
            return .bool(!s.isEmpty && s.unicodeScalars.allSatisfy(PythonText.isSpace))
        case "islower", "isupper":
            let cased = s.unicodeScalars.filter { $0.properties.isCased }
            let test: (Unicode.Scalar) -> Bool = name == "islower" ? { $0.properties.isLowercase } : { $0.properties.isUppercase }
            return .bool(!cased.isEmpty && cased.allSatisfy(test))
        case "isascii":
            return .bool(s.unicodeScalars.allSatisfy { $0.isASCII })
        default:
            throw JinjaFailure.unsupported("string method '\(name)'")
        }
    }

    /// The part of `s` selected by optional `start`/`end` arguments (positions 1 and 2).
    private func substring(_ s: String, _ a: Arguments) throws -> String {
        let start = a(1, "start") ?? .none
        let end = a(2, "end") ?? .none
        if start == .none && end == .none { return s }
        guard case .string(let t) = try slice(.string(s), start, end, .none) else { return s }
        return t
    }

    private func sliceStart(_ s: String, _ a: Arguments) -> Int {
        guard case .int(var i)? = a(1, "start").flatMap(Number.init) else { return 0 }
        let n = PythonText.length(s)
        if i < 0 { i = max(0, i + n) }
        return min(i, n)
    }

    private func dictMethod(_ o: JinjaObject, _ name: String, _ a: Arguments) throws -> JinjaValue {
        switch name {
        case "items":
            return try checkedDepth(.array(o.map { .array([JinjaObject.keyValue($0.key), $0.value]) }))
        case "keys":
            return .array(o.keys.map(JinjaObject.keyValue))
        case "values":
            return .array(o.values)
        case "get":
            try a.expect(max: 2, names: ["key", "default"])
            guard let key = a(0, "key").flatMap(JinjaObject.storageKey) else { return a(1, "default") ?? .none }
            return o[key] ?? a(1, "default") ?? .none
        case "copy":
            return .object(o)
        default:
            var copy = JinjaValue.object(o)
            return try mutate(&copy, name, a.positional, a.keyword)
        }
    }

    private func listMethod(_ items: [JinjaValue], _ name: String, _ a: Arguments) throws -> JinjaValue {
        switch name {
        case "count":
            guard let x = a(0, "value") else { throw JinjaFailure.type("\(a.owner) takes exactly one argument") }
            var n = 0
            for item in items where try pyEqual(item, x) { n += 1 }
            return .int(n)
        case "index":
            guard let x = a(0, "value") else { throw JinjaFailure.type("\(a.owner) takes at least one argument") }
            for (i, item) in items.enumerated() where try pyEqual(item, x) { return .int(i) }
            throw JinjaFailure.runtime("value is not in list")
        case "copy":
            return .array(items)
        default:
            var copy = JinjaValue.array(items)
            return try mutate(&copy, name, a.positional, a.keyword)
        }
    }

    /// Python's in-place list and dict methods; returns what Python's method returns.
    func mutate(_ container: inout JinjaValue, _ name: String, _ args: [JinjaValue], _ kwargs: [(String, JinjaValue)]) throws -> JinjaValue {
        let a = Arguments(positional: args, keyword: kwargs, owner: "\(typeName(.plain(container))).\(name)()")
        switch container {
        case .array(var items):
            var result = JinjaValue.none
            switch name {
            case "append":
                guard let x = a(0, "object") else { throw JinjaFailure.type("\(a.owner) takes exactly one argument") }
                try checkLength(items.count + 1)
                items.append(x)
            case "extend":
                let more = try iterate(.plain(a(0, "iterable") ?? .undefined))
                try checkLength(items.count + more.count)
                items += more
            case "insert":
                guard var i = try a.int(0, "index"), let x = a(1, "object") else { throw JinjaFailure.type("\(a.owner) takes exactly 2 arguments") }
                try checkLength(items.count + 1)
                if i < 0 { i = max(0, i + items.count) }
                items.insert(x, at: min(i, items.count))
            case "pop":
                guard !items.isEmpty else { throw JinjaFailure.runtime("pop from empty list") }
                var i = try a.int(0, "index") ?? -1
                if i < 0 { i += items.count }
                guard i >= 0 && i < items.count else { throw JinjaFailure.runtime("pop index out of range") }
                result = items.remove(at: i)
            case "remove":
                guard let x = a(0, "value") else { throw JinjaFailure.type("\(a.owner) takes exactly one argument") }
                guard let i = try items.firstIndex(where: { try pyEqual($0, x) }) else { throw JinjaFailure.runtime("list.remove(x): x not in list") }
                items.remove(at: i)
            case "clear": items.removeAll()
            case "reverse": items.reverse()
            case "sort":
                let reverse = a(1, "reverse")?.isTruthy ?? false
                items = try stableSort(items) { try reverse ? pyLess($1, $0) : pyLess($0, $1) }
            default: throw JinjaFailure.unsupported("list method '\(name)'")
            }
            container = .array(items)
            return result
        case .object(var o):
            var result = JinjaValue.none
            switch name {
            case "update":
                if case .object(let other)? = a.positional.first { for e in other { o[e.key] = e.value } }
                for (k, v) in kwargs { o[k] = v }
            case "pop":
                guard let key = a(0, "key").flatMap(JinjaObject.storageKey) else { throw JinjaFailure.type("\(a.owner) needs a key") }
                if let v = o[key] { result = v; o[key] = nil }
                else if let d = a(1, "default") { result = d }
                else { throw JinjaFailure.runtime("KeyError: '\(key)'") }
            case "setdefault":
                guard let key = a(0, "key").flatMap(JinjaObject.storageKey) else { throw JinjaFailure.type("\(a.owner) needs a key") }
                if let v = o[key] { result = v } else { result = a(1, "default") ?? .none; o[key] = result }
            case "popitem":
                guard let key = o.keys.last else { throw JinjaFailure.runtime("popitem(): dictionary is empty") }
                result = .array([JinjaObject.keyValue(key), o[key] ?? .none])
                o[key] = nil
            case "clear": o = JinjaObject()
            default: throw JinjaFailure.unsupported("dict method '\(name)'")
            }
            container = .object(o)
            return result
        default:
            throw JinjaFailure.type("'\(typeName(.plain(container)))' object has no attribute '\(name)'")
        }
    }

    // MARK: Formatting

    /// `str.format` with automatic, numbered and named fields; format specs are not supported.
    func braceFormat(_ format: String, _ a: Arguments) throws -> String {
        let t = Array(format.unicodeScalars)
        var out = BoundedText(limit: limits.maxOutputBytes)
        var auto = 0
        var i = 0
        while i < t.count {
            let c = t[i]
            if c == "}" {
                guard i + 1 < t.count, t[i + 1] == "}" else { throw JinjaFailure.runtime("Single '}' encountered in format string") }
                try out.append("}"); i += 2; continue
            }
            guard c == "{" else { try out.append(String(c)); i += 1; continue }
            if i + 1 < t.count, t[i + 1] == "{" { try out.append("{"); i += 2; continue }
            guard let close = t[(i + 1)...].firstIndex(of: "}") else { throw JinjaFailure.runtime("Single '{' encountered in format string") }
            var field = PythonText.string(t[(i + 1)..<close])
            var conversion: String?
            if let bang = field.firstIndex(of: "!") {
                conversion = String(field[field.index(after: bang)...])
                field = String(field[..<bang])
            }
            if field.contains(":") || field.contains(".") || field.contains("[") {
                throw JinjaFailure.unsupported("format spec '{\(field)}' in str.format")
            }
            let value: JinjaValue?
            if field.isEmpty { value = auto < a.positional.count ? a.positional[auto] : nil; auto += 1 }
            else if let n = Int(field) { value = n < a.positional.count ? a.positional[n] : nil }
            else { value = a.keyword.first { $0.0 == field }?.1 }
            guard let value else { throw JinjaFailure.runtime("Replacement index \(field.isEmpty ? String(auto - 1) : field) out of range") }
            try out.append(conversion == "r" ? try PythonFormat.repr(value, limit: limits.maxOutputBytes)
                                             : try PythonFormat.str(value, limit: limits.maxOutputBytes))
            i = close + 1
        }
        return out.text
    }

    /// printf-style `format % args` (Python's `%` on strings and the `format` filter).
    func percentFormat(_ format: String, _ args: JinjaValue) throws -> String {
        var values: [JinjaValue]
        if case .array(let list) = args { values = list } else { values = [args] }
        let mapping: JinjaObject? = { if case .object(let o) = args { return o } else { return nil } }()
        let t = Array(format.unicodeScalars)
        var out = BoundedText(limit: limits.maxOutputBytes)
        var i = 0
        while i < t.count {
            guard t[i] == "%" else { try out.append(String(t[i])); i += 1; continue }
            i += 1
            var key: String?
            if i < t.count, t[i] == "(" {
                guard let close = t[i...].firstIndex(of: ")") else { throw JinjaFailure.runtime("incomplete format key") }
                key = PythonText.string(t[(i + 1)..<close])
                i = close + 1
            }
            var spec = ""
            while i < t.count, "-+ #0123456789.".unicodeScalars.contains(t[i]) { spec.unicodeScalars.append(t[i]); i += 1 }
            // printf would allocate whatever width or precision it is given.
            if spec.split(whereSeparator: { !$0.isNumber }).contains(where: { $0.count > 4 }) {
                throw JinjaFailure.limit("format width or precision too large")
            }
            guard i < t.count else { throw JinjaFailure.runtime("incomplete format") }
            let type = t[i]
            i += 1
            if type == "%" { try out.append("%"); continue }
            let value: JinjaValue
            if let key {
                guard let v = mapping?[key] else { throw JinjaFailure.runtime("KeyError: '\(key)'") }
                value = v
            } else {
                guard !values.isEmpty else { throw JinjaFailure.type("not enough arguments for format string") }
                value = values.removeFirst()
            }
            switch type {
            case "s", "r":
                let text = type == "s" ? try PythonFormat.str(value, limit: limits.maxOutputBytes)
                                       : try PythonFormat.repr(value, limit: limits.maxOutputBytes)
                try out.append(pad(text, spec))
            case "d", "i", "f", "F", "e", "E", "g", "G", "x", "X", "o":
                guard let n = Number(value) else { throw JinjaFailure.type("%\(type) format: a real number is required, not \(typeName(.plain(value)))") }
                let integral = "dixXo".unicodeScalars.contains(type)
                let cType = type == "i" ? "d" : String(type)
                if integral {
                    let i: Int
                    switch n {
                    case .int(let v): i = v
                    case .double(let d):
                        guard d.isFinite, abs(d) < 9.2e18 else { throw JinjaFailure.runtime("cannot convert float to integer") }
                        i = Int(d)
                    }
                    try out.append(String(format: "%" + spec + "l" + cType, i))
                } else {
                    try out.append(String(format: "%" + spec + cType, n.double))
                }
            default:
                throw JinjaFailure.unsupported("format character '%\(type)'")
            }
        }
        // CPython only complains about leftovers for a lone non-container argument; anything
        // subscriptable (list, dict, Undefined) is treated as a mapping that may go unused.
        switch args {
        case .array, .object, .undefined: break
        default:
            if !values.isEmpty { throw JinjaFailure.type("not all arguments converted during string formatting") }
        }
        return out.text
    }

    private func pad(_ text: String, _ spec: String) -> String {
        let parts = spec.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        var s = text
        if parts.count == 2, let precision = Int(parts[1]) { s = PythonText.string(s.unicodeScalars.prefix(precision)) }
        let flags = parts.first.map(String.init) ?? ""
        let width = Int(flags.filter { $0.isNumber && $0.isASCII }.drop { $0 == "0" }) ?? 0
        let missing = max(0, min(width, 1_000_000) - PythonText.length(s))
        let padding = String(repeating: " ", count: missing)
        return flags.hasPrefix("-") ? s + padding : padding + s
    }
}
