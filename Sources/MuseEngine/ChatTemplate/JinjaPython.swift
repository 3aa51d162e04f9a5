// Python's text semantics (str(), repr(), str methods) that jinja2 output inherits.
import Foundation

/// How Python's `str()` and `repr()` print values; `{{ x }}` prints `str(x)`.
enum PythonFormat {
    /// Python's float repr: the shortest digits that round-trip (which Swift's `description` also
    /// finds), laid out by Python's rule: exponent form only below 1e-4 or from 1e16 up.
    static func float(_ d: Double) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d < 0 ? "-inf" : "inf" }
        if d == 0 { return d.sign == .minus ? "-0.0" : "0.0" }
        // Split Swift's text into its significant digits and the position of the decimal point.
        var text = d.description
        let negative = text.hasPrefix("-")
        if negative { text.removeFirst() }
        var exponent = 0
        if let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            exponent = Int(text[text.index(after: e)...]) ?? 0
            text = String(text[..<e])
        }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        let whole = String(parts[0])
        let fraction = parts.count > 1 ? String(parts[1]) : ""
        var digits = whole + fraction
        var point = whole.count + exponent // value = 0.digits * 10^point
        while digits.hasPrefix("0") && digits.count > 1 { digits.removeFirst(); point -= 1 }
        while digits.hasSuffix("0") && digits.count > 1 { digits.removeLast() }
        var out = negative ? "-" : ""
        if point > 16 || point < -3 {
            out += String(digits.first ?? "0")
            if digits.count > 1 { out += "." + digits.dropFirst() }
            let e = point - 1
            out += (e < 0 ? "e-" : "e+") + (abs(e) < 10 ? "0" : "") + String(abs(e))
        } else if point <= 0 {
            out += "0." + String(repeating: "0", count: -point) + digits
        } else if point >= digits.count {
            out += digits + String(repeating: "0", count: point - digits.count) + ".0"
        } else {
            out += digits.prefix(point) + "." + digits.dropFirst(point)
        }
        return out
    }

    static func str(_ value: JinjaValue, limit: Int) throws -> String {
        switch value {
        case .undefined: return ""
        case .string(let s): return s
        default:
            var out = BoundedText(limit: limit)
            try writeRepr(value, depth: 0, into: &out)
            return out.text
        }
    }

    static func repr(_ value: JinjaValue, limit: Int) throws -> String {
        var out = BoundedText(limit: limit)
        try writeRepr(value, depth: 0, into: &out)
        return out.text
    }

    private static func writeRepr(_ value: JinjaValue, depth: Int, into out: inout BoundedText) throws {
        guard depth <= JinjaLimits.maxValueDepth else { throw JinjaFailure.limit("value nested too deeply to print") }
        switch value {
        case .undefined: try out.append("Undefined")
        case .none: try out.append("None")
        case .bool(let b): try out.append(b ? "True" : "False")
        case .int(let i): try out.append(String(i))
        case .double(let d): try out.append(float(d))
        case .string(let s): try out.append(quote(s))
        case .array(let items):
            try out.append("[")
            for (i, item) in items.enumerated() {
                if i > 0 { try out.append(", ") }
                try writeRepr(item, depth: depth + 1, into: &out)
            }
            try out.append("]")
        case .object(let object):
            try out.append("{")
            for (i, entry) in object.enumerated() {
                if i > 0 { try out.append(", ") }
                try writeRepr(JinjaObject.keyValue(entry.key), depth: depth + 1, into: &out)
                try out.append(": ")
                try writeRepr(entry.value, depth: depth + 1, into: &out)
            }
            try out.append("}")
        }
    }

    /// `repr(str)`: single quotes unless the text has a single quote and no double quote.
    static func quote(_ s: String) -> String {
        let quote: Unicode.Scalar = s.contains("'") && !s.contains("\"") ? "\"" : "'"
        var out = String(quote)
        for scalar in s.unicodeScalars {
            switch scalar {
            case quote, "\\": out += "\\" + String(scalar)
            case "\t": out += "\\t"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            default:
                let v = scalar.value
                if v < 0x20 || v == 0x7F {
                    out += "\\x" + hex(v, 2)
                } else if v < 0x7F || isPrintable(scalar) {
                    out.unicodeScalars.append(scalar)
                } else if v <= 0xFF {
                    out += "\\x" + hex(v, 2)
                } else if v <= 0xFFFF {
                    out += "\\u" + hex(v, 4)
                } else {
                    out += "\\U" + hex(v, 8)
                }
            }
        }
        out.unicodeScalars.append(quote)
        return out
    }

    private static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator,
            .spaceSeparator:
            return scalar == " "
        default:
            return true
        }
    }

    private static func hex(_ v: UInt32, _ width: Int) -> String {
        let h = String(v, radix: 16)
        return String(repeating: "0", count: max(0, width - h.count)) + h
    }
}

/// Python `str` methods on code points (Python indexes and compares code points, where Swift's
/// `String` works on grapheme clusters and canonical equivalence).
enum PythonText {
    static func isSpace(_ s: Unicode.Scalar) -> Bool {
        // Python's str.isspace also counts the ASCII information separators 0x1C-0x1F.
        s.properties.isWhitespace || (0x1C...0x1F).contains(s.value)
    }

    static func scalars(_ s: String) -> [Unicode.Scalar] { Array(s.unicodeScalars) }

    static func string<C: Sequence>(_ scalars: C) -> String where C.Element == Unicode.Scalar {
        var out = String.UnicodeScalarView()
        out.append(contentsOf: scalars)
        return String(out)
    }

    static func length(_ s: String) -> Int { s.unicodeScalars.count }

    static func equal(_ a: String, _ b: String) -> Bool { a.unicodeScalars.elementsEqual(b.unicodeScalars) }

    static func less(_ a: String, _ b: String) -> Bool {
        a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars) { $0.value < $1.value }
    }

    static func strip(_ s: String, _ chars: String?, leading: Bool, trailing: Bool) -> String {
        let set = chars.map { Set($0.unicodeScalars) }
        let remove: (Unicode.Scalar) -> Bool = { c in set.map { $0.contains(c) } ?? isSpace(c) }
        let a = scalars(s)
        var lo = 0
        var hi = a.count
        if leading { while lo < hi, remove(a[lo]) { lo += 1 } }
        if trailing { while hi > lo, remove(a[hi - 1]) { hi -= 1 } }
        return string(a[lo..<hi])
    }

    /// Byte offset of `needle` in `hay` at or after `from`; UTF-8 matching equals code point matching.
    static func findBytes(_ hay: [UInt8], _ needle: [UInt8], from: Int = 0) -> Int? {
        if needle.isEmpty { return from <= hay.count ? from : nil }
        guard hay.count >= needle.count else { return nil }
        var i = from
        let last = hay.count - needle.count
        while i <= last {
            if hay[i] == needle[0] {
                var j = 1
                while j < needle.count, hay[i + j] == needle[j] { j += 1 }
                if j == needle.count { return i }
            }
            i += 1
        }
        return nil
    }

    static func contains(_ hay: String, _ needle: String) -> Bool {
        findBytes(Array(hay.utf8), Array(needle.utf8)) != nil
    }

    /// Python `str.find`: a code point index, or -1.
    static func find(_ hay: String, _ needle: String) -> Int {
        let h = Array(hay.utf8)
        guard let byte = findBytes(h, Array(needle.utf8)) else { return -1 }
        return h[..<byte].reduce(0) { $0 + (($1 & 0xC0) == 0x80 ? 0 : 1) }
    }

    static func rfind(_ hay: String, _ needle: String) -> Int {
        let h = scalars(hay)
        let n = scalars(needle)
        guard n.count <= h.count else { return -1 }
        var i = h.count - n.count
        while i >= 0 {
            if Array(h[i..<i + n.count]) == n { return i }
            i -= 1
        }
        return -1
    }

    static func count(_ hay: String, _ needle: String) -> Int {
        if needle.isEmpty { return length(hay) + 1 }
        let h = Array(hay.utf8)
        let n = Array(needle.utf8)
        var total = 0
        var from = 0
        while let at = findBytes(h, n, from: from) {
            total += 1
            from = at + n.count
        }
        return total
    }

    static func replace(_ s: String, _ old: String, _ new: String, count: Int, limit: Int) throws -> String {
        var remaining = count < 0 ? Int.max : count
        var out = BoundedText(limit: limit)
        if old.isEmpty {
            // Python inserts the replacement before every code point and at the end.
            for scalar in s.unicodeScalars {
                if remaining > 0 { try out.append(new); remaining -= 1 }
                try out.append(String(scalar))
            }
            if remaining > 0 { try out.append(new) }
            return out.text
        }
        let h = Array(s.utf8)
        let n = Array(old.utf8)
        var from = 0
        while remaining > 0, let at = findBytes(h, n, from: from) {
            try out.append(String(decoding: h[from..<at], as: UTF8.self))
            try out.append(new)
            from = at + n.count
            remaining -= 1
        }
        try out.append(String(decoding: h[from...], as: UTF8.self))
        return out.text
    }

    static func split(_ s: String, _ sep: String?, maxsplit: Int) throws -> [String] {
        var remaining = maxsplit < 0 ? Int.max : maxsplit
        guard let sep else {
            // Whitespace mode: runs of whitespace separate, and empty pieces are dropped.
            let a = scalars(s)
            var parts: [String] = []
            var i = 0
            while i < a.count {
                while i < a.count, isSpace(a[i]) { i += 1 }
                if i == a.count { break }
                if remaining == 0 {
                    var end = a.count
                    while end > i, isSpace(a[end - 1]) { end -= 1 }
                    parts.append(string(a[i..<end]))
                    break
                }
                let start = i
                while i < a.count, !isSpace(a[i]) { i += 1 }
                parts.append(string(a[start..<i]))
                remaining -= 1
            }
            return parts
        }
        guard !sep.isEmpty else { throw JinjaFailure.runtime("empty separator") }
        let h = Array(s.utf8)
        let n = Array(sep.utf8)
        var parts: [String] = []
        var from = 0
        while remaining > 0, let at = findBytes(h, n, from: from) {
            parts.append(String(decoding: h[from..<at], as: UTF8.self))
            from = at + n.count
            remaining -= 1
        }
        parts.append(String(decoding: h[from...], as: UTF8.self))
        return parts
    }

    static func splitlines(_ s: String, keepends: Bool = false) -> [String] {
        let breaks: Set<UInt32> = [0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x85, 0x2028, 0x2029]
        let a = scalars(s)
        var lines: [String] = []
        var start = 0
        var i = 0
        while i < a.count {
            if breaks.contains(a[i].value) {
                var end = i + 1
                if a[i] == "\r", i + 1 < a.count, a[i + 1] == "\n" { end += 1 }
                lines.append(string(a[start..<(keepends ? end : i)]))
                start = end
                i = end
            } else {
                i += 1
            }
        }
        if start < a.count { lines.append(string(a[start...])) }
        return lines
    }

    static func upper(_ s: String) -> String { s.uppercased() }
    static func lower(_ s: String) -> String { s.lowercased() }

    /// Python `str.capitalize`: first code point upper, the rest lower.
    static func capitalize(_ s: String) -> String {
        guard let first = s.unicodeScalars.first else { return s }
        return first.properties.titlecaseMapping + string(s.unicodeScalars.dropFirst()).lowercased()
    }

    /// Python `str.title`: a letter following a cased letter is lowered, any other is raised.
    static func title(_ s: String) -> String {
        var out = ""
        var previousCased = false
        for scalar in s.unicodeScalars {
            let text = String(scalar)
            out += previousCased ? text.lowercased() : scalar.properties.titlecaseMapping
            previousCased = scalar.properties.isCased
        }
        return out
    }

    /// jinja2's `title` filter: words begin after whitespace, '-', or an opening bracket.
    static func jinjaTitle(_ s: String) -> String {
        var out = ""
        var atWordStart = true
        for scalar in s.unicodeScalars {
            let boundary = isSpace(scalar) || "-({[<".unicodeScalars.contains(scalar)
            if boundary {
                out.unicodeScalars.append(scalar)
                atWordStart = true
            } else {
                out += atWordStart ? scalar.properties.uppercaseMapping : String(scalar).lowercased()
                atWordStart = false
            }
        }
        return out
    }
}
