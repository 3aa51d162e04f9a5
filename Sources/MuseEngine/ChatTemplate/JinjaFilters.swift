// The `|filter` library: jinja2's built-in filters that chat templates use, plus transformers' `tojson`.
import Foundation

extension JinjaInterpreter {
    static let supportedFilters: Set<String> = [
        "abs", "attr", "batch", "capitalize", "center", "count", "d", "default", "dictsort", "e", "escape", "first",
        "float", "forceescape", "format", "indent", "int", "items", "join", "last", "length", "list", "lower", "map",
        "max", "min", "reject", "rejectattr", "replace", "reverse", "round", "safe", "select", "selectattr", "sort",
        "string", "sum", "title", "tojson", "trim", "truncate", "unique", "upper", "wordcount",
    ]

    /// Filters that return generators in jinja2; their results are always truthy.
    static let lazyFilters: Set<String> = ["select", "reject", "selectattr", "rejectattr", "map", "unique", "batch", "reverse", "items"]

    func applyFilter(_ filter: FilterCall, to value: Value, _ frame: Frame) throws -> Value {
        let (args, kwargs) = try evalArguments(filter.args, frame)
        currentLine = filter.line
        return try callFilter(filter.name, value, args, kwargs)
    }

    func callFilter(_ name: String, _ value: Value, _ args: [Value], _ kwargs: [(String, Value)]) throws -> Value {
        let a = Arguments(positional: try args.map { try plain($0) }, keyword: try kwargs.map { ($0.0, try plain($0.1)) },
                          owner: "filter '\(name)'")
        switch name {
        case "default", "d":
            try a.expect(max: 2, names: ["default_value", "boolean"])
            let useDefault = try value.isUndefinedValue || ((a.bool(1, "boolean") ?? false) && !truthy(value))
            return useDefault ? (args.first ?? kwargs.first { $0.0 == "default_value" }?.1 ?? .plain(.string(""))) : value
        case "string":
            if case .markup = value { return value }
            return .plain(.string(try stringify(value)))
        case "safe", "e", "escape", "forceescape":
            if case .markup = value, name != "forceescape" { return value }
            let text = try stringify(value)
            return .markup(name == "safe" ? text : htmlEscape(text))
        case "select", "reject", "selectattr", "rejectattr", "map":
            // jinja2 yields nothing for a falsy input here instead of failing to iterate it.
            if !(try truthy(value)) { return .iterator([]) }
        default:
            break
        }
        let v = try plain(value)
        let result = try plainFilter(name, v, a, args, kwargs)
        if JinjaInterpreter.lazyFilters.contains(name), case .array(let items) = result {
            return .iterator(items)
        }
        // These filters go through Markup's own str methods, which return Markup.
        if case .markup = value, ["upper", "lower", "trim", "capitalize", "center", "indent"].contains(name),
           case .string(let s) = result
        {
            return .markup(s)
        }
        return .plain(result)
    }

    private func plainFilter(_ name: String, _ v: JinjaValue, _ a: Arguments, _ args: [Value],
                             _ kwargs: [(String, Value)]) throws -> JinjaValue
    {
        let text = { try PythonFormat.str(v, limit: self.limits.maxOutputBytes) }
        switch name {
        case "length", "count":
            switch v {
            case .string(let s): return .int(PythonText.length(s))
            case .array(let items): return .int(items.count)
            case .object(let o): return .int(o.count)
            case .undefined: return .int(0)
            default: throw JinjaFailure.type("object of type '\(typeName(.plain(v)))' has no len()")
            }
        case "trim":
            try a.expect(max: 1, names: ["chars"])
            return .string(PythonText.strip(try text(), try a.string(0, "chars"), leading: true, trailing: true))
        case "lower": return .string(PythonText.lower(try text()))
        case "upper": return .string(PythonText.upper(try text()))
        case "title": return .string(PythonText.jinjaTitle(try text()))
        case "capitalize": return .string(PythonText.capitalize(try text()))
        case "wordcount":
            return .int(try text().unicodeScalars.split { !($0.properties.isAlphabetic || $0.properties.numericType != nil || $0 == "_") }.count)
        case "replace":
            try a.expect(max: 3, names: ["old", "new", "count"])
            let old = try PythonFormat.str(a(0, "old") ?? .undefined, limit: limits.maxOutputBytes)
            let new = try PythonFormat.str(a(1, "new") ?? .undefined, limit: limits.maxOutputBytes)
            return .string(try PythonText.replace(try text(), old, new, count: try a.int(2, "count") ?? -1, limit: limits.maxOutputBytes))
        case "center":
            let width = try a.int(0, "width") ?? 80
            let s = try text()
            let missing = max(0, width - PythonText.length(s))
            try checkLength(missing)
            let left = missing / 2 + (missing & width & 1)
            return .string(String(repeating: " ", count: left) + s + String(repeating: " ", count: missing - left))
        case "indent":
            try a.expect(max: 3, names: ["width", "first", "blank"])
            return .string(try indent(try text(), a))
        case "truncate":
            return .string(try truncate(try text(), a))
        case "format":
            if !a.keyword.isEmpty { return .string(try percentFormat(try text(), .object(JinjaObject(a.keyword)))) }
            return .string(try percentFormat(try text(), .array(a.positional)))
        case "join":
            try a.expect(max: 2, names: ["d", "attribute"])
            let separator = try PythonFormat.str(a(0, "d") ?? .string(""), limit: limits.maxOutputBytes)
            var items = try iterate(.plain(v))
            if let attribute = a(1, "attribute") { items = try items.map { try attributePath($0, attribute) } }
            var out = BoundedText(limit: limits.maxOutputBytes)
            for (i, item) in items.enumerated() {
                if i > 0 { try out.append(separator) }
                try out.append(try PythonFormat.str(item, limit: limits.maxOutputBytes))
            }
            return .string(out.text)
        case "first":
            return try iterate(.plain(v)).first ?? .undefined
        case "last":
            return try iterate(.plain(v)).last ?? .undefined
        case "list":
            return .array(try iterate(.plain(v)))
        case "reverse":
            if case .string(let s) = v { return .string(PythonText.string(s.unicodeScalars.reversed())) }
            return .array(try iterate(.plain(v)).reversed())
        case "items":
            switch v {
            case .undefined: return .array([])
            case .object(let o): return try checkedDepth(.array(o.map { .array([JinjaObject.keyValue($0.key), $0.value]) }))
            default: throw JinjaFailure.type("Can only get item pairs from a mapping.")
            }
        case "dictsort":
            guard case .object(let o) = v else { throw JinjaFailure.type("dictsort: you can only sort by either key or value") }
            let byValue = (try a.string(1, "by") ?? "key") == "value"
            let caseSensitive = a.bool(0, "case_sensitive") ?? false
            let pairs = o.map { JinjaValue.array([JinjaObject.keyValue($0.key), $0.value]) }
            let sorted = try stableSort(pairs) { x, y in
                let (p, q) = (x.arrayValue?[byValue ? 1 : 0] ?? .none, y.arrayValue?[byValue ? 1 : 0] ?? .none)
                return try pyLess(caseSensitive ? p : foldCase(p), caseSensitive ? q : foldCase(q))
            }
            return .array((a.bool(2, "reverse") ?? false) ? sorted.reversed() : sorted)
        case "tojson":
            try a.expect(max: 4, names: ["ensure_ascii", "indent", "separators", "sort_keys"])
            var indent: String?
            switch a(1, "indent") {
            case .int(let n)?: indent = String(repeating: " ", count: max(0, min(n, 1000)))
            case .string(let s)?: indent = s
            default: indent = nil
            }
            var separators: (String, String)?
            if case .array(let pair)? = a(2, "separators"), pair.count == 2, case .string(let x) = pair[0], case .string(let y) = pair[1] {
                separators = (x, y)
            }
            let options = JSONDumpOptions(indent: indent, separators: separators, sortKeys: a.bool(3, "sort_keys") ?? false,
                                          ensureASCII: a.bool(0, "ensure_ascii") ?? false)
            return .string(try JSONDump.dump(v, options: options, limit: limits.maxOutputBytes))
        case "int":
            try a.expect(max: 2, names: ["default", "base"])
            return toInt(v, base: try a.int(1, "base") ?? 10) ?? a(0, "default") ?? .int(0)
        case "float":
            try a.expect(max: 1, names: ["default"])
            return toFloat(v) ?? a(0, "default") ?? .double(0)
        case "abs":
            switch Number(v) {
            case .int(let i)?:
                guard i != Int.min else { throw JinjaFailure.runtime("integer overflow") }
                return .int(abs(i))
            case .double(let d)?: return .double(abs(d))
            case nil: throw JinjaFailure.type("bad operand type for abs(): '\(typeName(.plain(v)))'")
            }
        case "round":
            return try round(v, precision: try a.int(0, "precision") ?? 0, method: try a.string(1, "method") ?? "common")
        case "sum":
            try a.expect(max: 2, names: ["attribute", "start"])
            var total = a(1, "start") ?? .int(0)
            for item in try iterate(.plain(v)) {
                total = try binary(.add, total, try a(0, "attribute").map { try attributePath(item, $0) } ?? item)
            }
            return total
        case "min", "max":
            try a.expect(max: 2, names: ["case_sensitive", "attribute"])
            let items = try iterate(.plain(v))
            let key = try keyFunction(caseSensitive: a.bool(0, "case_sensitive") ?? false, attribute: a(1, "attribute"))
            guard var best = items.first else { return .undefined }
            for item in items.dropFirst() {
                let better = name == "min" ? try pyLess(try key(item), try key(best)) : try pyLess(try key(best), try key(item))
                if better { best = item }
            }
            return best
        case "sort":
            try a.expect(max: 3, names: ["reverse", "case_sensitive", "attribute"])
            let reverse = a.bool(0, "reverse") ?? false
            let key = try keyFunction(caseSensitive: a.bool(1, "case_sensitive") ?? false, attribute: a(2, "attribute"), multi: true)
            let keyed = try iterate(.plain(v)).map { JinjaValue.array([try key($0), $0]) }
            let sorted = try stableSort(keyed) { x, y in
                let (p, q) = (x.arrayValue?[0] ?? .none, y.arrayValue?[0] ?? .none)
                return reverse ? try pyLess(q, p) : try pyLess(p, q)
            }
            return .array(sorted.map { $0.arrayValue?[1] ?? .none })
        case "unique":
            try a.expect(max: 2, names: ["case_sensitive", "attribute"])
            let key = try keyFunction(caseSensitive: a.bool(0, "case_sensitive") ?? false, attribute: a(1, "attribute"))
            var seen: [JinjaValue] = []
            var out: [JinjaValue] = []
            for item in try iterate(.plain(v)) {
                let k = try key(item)
                if try seen.contains(where: { try pyEqual($0, k) }) { continue }
                seen.append(k)
                out.append(item)
            }
            return .array(out)
        case "batch":
            try a.expect(max: 2, names: ["linecount", "fill_with"])
            guard let size = try a.int(0, "linecount"), size > 0 else { throw JinjaFailure.runtime("batch size must be positive") }
            try checkLength(size)
            var rows: [JinjaValue] = []
            var row: [JinjaValue] = []
            for item in try iterate(.plain(v)) {
                if row.count == size { rows.append(.array(row)); row = [] }
                row.append(item)
            }
            if !row.isEmpty {
                if let fill = a(1, "fill_with"), fill != .none { row += Array(repeating: fill, count: size - row.count) }
                rows.append(.array(row))
            }
            return try checkedDepth(.array(rows))
        case "map":
            return .array(try mapFilter(v, a, args, kwargs))
        case "select", "reject":
            let keep = name == "select"
            let test = try a.string(0, "name")
            return .array(try iterate(.plain(v)).filter { item in
                try charge()
                let passed = try test.map { try runTest($0, .plain(item), Array(args.dropFirst()), kwargs, nil) } ?? item.isTruthy
                return passed == keep
            })
        case "selectattr", "rejectattr":
            let keep = name == "selectattr"
            guard let attribute = a(0, "attribute") else { throw JinjaFailure.type("\(name) needs an attribute") }
            let test = try a.string(1, "name")
            return .array(try iterate(.plain(v)).filter { item in
                try charge()
                let field = try attributePath(item, attribute)
                let passed = try test.map { try runTest($0, .plain(field), Array(args.dropFirst(2)), kwargs, nil) } ?? field.isTruthy
                return passed == keep
            })
        case "attr":
            guard let attribute = try a.string(0, "name") else { throw JinjaFailure.type("attr needs a name") }
            if case .object = v, !JinjaInterpreter.dictMethods.contains(attribute) { return .undefined }
            return try plainOrUndefined(try self.attribute(of: .plain(v), attribute))
        case "xmlattr", "urlize", "urlencode", "wordwrap", "filesizeformat", "pprint", "random", "groupby", "slice",
             "striptags", "mark_unsafe":
            throw JinjaFailure.unsupported("filter '\(name)'")
        default:
            throw JinjaFailure.unsupported("filter '\(name)'")
        }
    }

    private func plainOrUndefined(_ value: Value) throws -> JinjaValue {
        if case .plain(let v) = value { return v }
        return .string(try stringify(value))
    }

    private func mapFilter(_ v: JinjaValue, _ a: Arguments, _ args: [Value], _ kwargs: [(String, Value)]) throws -> [JinjaValue] {
        let items = try iterate(.plain(v))
        if let attribute = a.keyword.first(where: { $0.0 == "attribute" })?.1 {
            let fallback = a.keyword.first { $0.0 == "default" }?.1
            return try items.map { item in
                let field = try attributePath(item, attribute)
                return field.isUndefined ? (fallback ?? .undefined) : field
            }
        }
        guard case .string(let filterName)? = a.positional.first else { throw JinjaFailure.type("map needs a filter name or attribute=") }
        return try items.map { item in
            try charge()
            return try plain(try callFilter(filterName, .plain(item), Array(args.dropFirst()), kwargs))
        }
    }

    /// jinja2's attribute getter: "a.b.0" walks items, then attributes, like `x['a']['b'][0]`.
    func attributePath(_ item: JinjaValue, _ attribute: JinjaValue) throws -> JinjaValue {
        var parts: [JinjaValue]
        switch attribute {
        case .string(let path): parts = path.split(separator: ".", omittingEmptySubsequences: false).map { Int($0).map(JinjaValue.int) ?? .string(String($0)) }
        default: parts = [attribute]
        }
        var current = Value.plain(item)
        for part in parts { current = try self.item(of: current, .plain(part)) }
        return try plainOrUndefined(current)
    }

    private func keyFunction(caseSensitive: Bool, attribute: JinjaValue?, multi: Bool = false) throws -> (JinjaValue) throws -> JinjaValue {
        var paths: [JinjaValue] = []
        if let attribute, attribute != .none {
            if multi, case .string(let s) = attribute, s.contains(",") {
                paths = s.split(separator: ",", omittingEmptySubsequences: false).map { .string(String($0)) }
            } else {
                paths = [attribute]
            }
        }
        return { item in
            let keys = try paths.isEmpty ? [item] : paths.map { try self.attributePath(item, $0) }
            let folded = caseSensitive ? keys : keys.map(self.foldCase)
            return paths.count > 1 ? .array(folded) : folded[0]
        }
    }

    private func foldCase(_ v: JinjaValue) -> JinjaValue {
        if case .string(let s) = v { return .string(PythonText.lower(s)) }
        return v
    }

    private func indent(_ s: String, _ a: Arguments) throws -> String {
        let unit: String
        switch a(0, "width") {
        case .string(let w)?: unit = w
        case let w?:
            // Clamp in Double first: converting an out-of-range double to Int would trap.
            let width = Number(w).map { max(0, min($0.double, 10_000)) } ?? 4
            unit = String(repeating: " ", count: width.isNaN ? 0 : Int(width))
        case nil: unit = "    "
        }
        // jinja2 appends a newline first so splitlines() keeps a trailing empty line.
        let lines = PythonText.splitlines(s + "\n")
        var out = BoundedText(limit: limits.maxOutputBytes)
        if a.bool(2, "blank") ?? false {
            for (i, line) in lines.enumerated() { try out.append((i > 0 ? "\n" + unit : "") + line) }
        } else {
            for (i, line) in lines.enumerated() { try out.append(i == 0 ? line : "\n" + (line.isEmpty ? "" : unit + line)) }
        }
        return (a.bool(1, "first") ?? false) ? unit + out.text : out.text
    }

    private func truncate(_ s: String, _ a: Arguments) throws -> String {
        let length = try a.int(0, "length") ?? 255
        let killwords = a.bool(1, "killwords") ?? false
        let end = try a.string(2, "end") ?? "..."
        let leeway = try a.int(3, "leeway") ?? 5
        let chars = Array(s.unicodeScalars)
        if chars.count <= length + leeway { return s }
        let cut = Array(chars.prefix(max(0, length - end.unicodeScalars.count)))
        if killwords { return PythonText.string(cut) + end }
        let kept = cut.lastIndex(of: " ").map { Array(cut[..<$0]) } ?? cut
        return PythonText.string(kept) + end
    }

    private func round(_ v: JinjaValue, precision: Int, method: String) throws -> JinjaValue {
        guard let n = Number(v) else { throw JinjaFailure.type("type \(typeName(.plain(v))) doesn't define __round__ method") }
        guard ["common", "ceil", "floor"].contains(method) else { throw JinjaFailure.runtime("method must be common, ceil or floor") }
        let scale = Foundation.pow(10.0, Double(precision))
        if method != "common" {
            let scaled = n.double * scale
            return .double((method == "ceil" ? scaled.rounded(.up) : scaled.rounded(.down)) / scale)
        }
        if case .int(let i) = n, precision >= 0 { return .int(i) }
        let d = n.double
        guard d.isFinite else { return .double(d) }
        if precision > 300 { return .double(d) }
        if precision >= 0 {
            // printf rounds the exact binary value half-to-even, as Python's round() does.
            let text = String(format: "%.\(precision)f", d)
            return .double(Double(text) ?? d)
        }
        let rounded = (d / (1 / scale)).rounded(.toNearestOrEven) * (1 / scale)
        if case .int = n { return .int(Int(exactly: rounded) ?? 0) }
        return .double(rounded)
    }

    func toInt(_ v: JinjaValue, base: Int) -> JinjaValue? {
        switch v {
        case .int, .bool: return Number(v).map { if case .int(let i) = $0 { return .int(i) } else { return .none } }
        case .double(let d):
            guard d.isFinite, abs(d) < 9.2e18 else { return nil }
            return .int(Int(d))
        case .string(let s):
            var text = PythonText.strip(s, nil, leading: true, trailing: true).replacingOccurrences(of: "_", with: "")
            var negative = false
            if text.hasPrefix("-") || text.hasPrefix("+") { negative = text.hasPrefix("-"); text.removeFirst() }
            var radix = base
            let lower = text.lowercased()
            for (prefix, r) in [("0x", 16), ("0o", 8), ("0b", 2)] where lower.hasPrefix(prefix) && (base == r || base == 0) {
                radix = r
                text.removeFirst(2)
            }
            if radix == 0 { radix = 10 }
            if (2...36).contains(radix), let i = Int(text, radix: radix), !text.hasPrefix("+"), !text.hasPrefix("-") {
                return .int(negative ? -i : i)
            }
            // jinja2 retries through float so that "42.23"|int gives 42.
            if case .double(let d)? = toFloat(v), d.isFinite, abs(d) < 9.2e18 { return .int(Int(d)) }
            return nil
        default:
            return nil
        }
    }

    func toFloat(_ v: JinjaValue) -> JinjaValue? {
        switch v {
        case .int, .bool, .double: return Number(v).map { .double($0.double) }
        case .string(let s):
            let text = PythonText.strip(s, nil, leading: true, trailing: true).replacingOccurrences(of: "_", with: "")
            let lower = text.lowercased()
            if ["inf", "+inf", "infinity", "+infinity"].contains(lower) { return .double(.infinity) }
            if ["-inf", "-infinity"].contains(lower) { return .double(-.infinity) }
            if ["nan", "+nan", "-nan"].contains(lower) { return .double(.nan) }
            guard !text.isEmpty, text.unicodeScalars.allSatisfy({ "0123456789.eE+-".unicodeScalars.contains($0) }) else { return nil }
            return Double(text).map { .double($0) }
        default:
            return nil
        }
    }

    func htmlEscape(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&#34;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}

extension Value {
    var isUndefinedValue: Bool {
        if case .plain(.undefined) = self { return true }
        return false
    }
}
