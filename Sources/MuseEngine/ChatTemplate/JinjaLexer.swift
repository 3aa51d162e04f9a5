// Splits source into text and tag tokens with jinja2's whitespace rules (trim_blocks, lstrip_blocks).

enum TokenKind: Equatable {
    case text(String)
    case variableBegin, variableEnd, blockBegin, blockEnd
    case name(String)
    case string(String)
    case integer(Int)
    case float(Double)
    case op(String)
    case eof
}

struct Token {
    var kind: TokenKind
    var line: Int
    var column: Int
}

struct JinjaLexer {
    private let s: [Unicode.Scalar]
    private var pos = 0
    private var line = 1
    private var lineStart = 0
    private var tokens: [Token] = []
    /// jinja2's `line_starting`: whether the previous match ended a line, which lets
    /// lstrip_blocks strip indentation that has no newline of its own in front of it.
    private var lineStarting = true

    private static let operators = ["//", "**", "==", "!=", ">=", "<=", "+", "-", "/", "*", "%", "~", "[", "]", "(", ")",
                                    "{", "}", ">", "<", "=", ".", ":", "|", ",", ";"]

    static func tokenize(_ source: String) throws -> [Token] {
        var lexer = JinjaLexer(source: source)
        try lexer.run()
        return lexer.tokens
    }

    private init(source: String) {
        // Like jinja2: every line break becomes "\n", and one trailing newline is dropped
        // (keep_trailing_newline=False).
        var out: [Unicode.Scalar] = []
        let input = Array(source.unicodeScalars)
        var i = 0
        while i < input.count {
            if input[i] == "\r" {
                out.append("\n")
                if i + 1 < input.count, input[i + 1] == "\n" { i += 1 }
            } else {
                out.append(input[i])
            }
            i += 1
        }
        if out.last == "\n" { out.removeLast() }
        s = out
    }

    private var column: Int { pos - lineStart + 1 }

    private func error(_ message: String) -> ChatTemplateError {
        .syntax(message: message, line: line, column: column)
    }

    private mutating func advance(to end: Int) {
        while pos < end {
            if s[pos] == "\n" { line += 1; lineStart = pos + 1 }
            pos += 1
        }
    }

    private func matches(_ literal: String, at i: Int) -> Bool {
        var j = i
        for c in literal.unicodeScalars {
            guard j < s.count, s[j] == c else { return false }
            j += 1
        }
        return true
    }

    private func skipSpace(from i: Int) -> Int {
        var j = i
        while j < s.count, PythonText.isSpace(s[j]) { j += 1 }
        return j
    }

    private mutating func emit(_ kind: TokenKind, line: Int, column: Int) {
        tokens.append(Token(kind: kind, line: line, column: column))
    }

    /// Text before a tag, with `{%-` stripping or lstrip_blocks applied as jinja2's OptionalLStrip does.
    private mutating func emitText(upTo end: Int, sign: Unicode.Scalar?, lstrip: Bool) {
        var text = Array(s[pos..<end])
        if sign == "-" {
            while let last = text.last, PythonText.isSpace(last) { text.removeLast() }
        } else if sign != "+" && lstrip {
            let lPos = (text.lastIndex(of: "\n") ?? -1) + 1
            if lPos > 0 || lineStarting {
                let tail = text[lPos...]
                if !tail.isEmpty && tail.allSatisfy(PythonText.isSpace) { text.removeSubrange(lPos...) }
            }
        }
        let (l, c) = (line, column)
        advance(to: end)
        if !text.isEmpty { emit(.text(PythonText.string(text)), line: l, column: c) }
    }

    private mutating func run() throws {
        while pos < s.count {
            var i = pos
            var opener: Unicode.Scalar?
            while i + 1 < s.count {
                if s[i] == "{", s[i + 1] == "{" || s[i + 1] == "%" || s[i + 1] == "#" { opener = s[i + 1]; break }
                i += 1
            }
            guard let opener else {
                emitText(upTo: s.count, sign: nil, lstrip: false)
                break
            }
            let signIndex = i + 2
            let sign: Unicode.Scalar? = signIndex < s.count && (s[signIndex] == "-" || s[signIndex] == "+") ? s[signIndex] : nil
            let bodyStart = signIndex + (sign == nil ? 0 : 1)
            emitText(upTo: i, sign: sign, lstrip: opener != "{")
            lineStarting = false
            switch opener {
            case "#": try lexComment(bodyStart: bodyStart)
            case "%":
                if let rawEnd = rawBlockOpening(bodyStart) {
                    try lexRaw(openingEnd: rawEnd)
                } else {
                    emit(.blockBegin, line: line, column: column)
                    advance(to: bodyStart)
                    try lexTag(isBlock: true)
                }
            default:
                emit(.variableBegin, line: line, column: column)
                advance(to: bodyStart)
                try lexTag(isBlock: false)
            }
        }
        emit(.eof, line: line, column: column)
    }

    private mutating func lexComment(bodyStart: Int) throws {
        var q = bodyStart
        while q + 1 < s.count, !(s[q] == "#" && s[q + 1] == "}") { q += 1 }
        guard q + 1 < s.count else { throw error("missing end of comment tag") }
        var end = q + 2
        let modifier: Unicode.Scalar? = q > bodyStart ? s[q - 1] : nil
        if modifier == "-" {
            end = skipSpace(from: end)
        } else if modifier != "+", end < s.count, s[end] == "\n" {
            end += 1 // trim_blocks applies to comments too
        }
        advance(to: end)
        lineStarting = end > 0 && s[end - 1] == "\n"
    }

    /// If a `{% raw %}` opening starts here, the index just past it.
    private func rawBlockOpening(_ bodyStart: Int) -> Int? {
        var j = skipSpace(from: bodyStart)
        guard matches("raw", at: j) else { return nil }
        j = skipSpace(from: j + 3)
        if matches("-%}", at: j) { return skipSpace(from: j + 3) }
        if matches("%}", at: j) { return j + 2 }
        return nil
    }

    private mutating func lexRaw(openingEnd: Int) throws {
        let (startLine, startColumn) = (line, column)
        advance(to: openingEnd)
        lineStarting = openingEnd > 0 && s[openingEnd - 1] == "\n"
        var i = pos
        while i + 1 < s.count {
            if s[i] == "{", s[i + 1] == "%" {
                var j = i + 2
                let sign: Unicode.Scalar? = j < s.count && (s[j] == "-" || s[j] == "+") ? s[j] : nil
                if sign != nil { j += 1 }
                j = skipSpace(from: j)
                if matches("endraw", at: j) {
                    j = skipSpace(from: j + 6)
                    var end: Int?
                    if matches("+%}", at: j) { end = j + 3 }
                    else if matches("-%}", at: j) { end = skipSpace(from: j + 3) }
                    else if matches("%}", at: j) { end = j + 2 < s.count && s[j + 2] == "\n" ? j + 3 : j + 2 }
                    if let end {
                        emitText(upTo: i, sign: sign, lstrip: true)
                        advance(to: end)
                        lineStarting = s[end - 1] == "\n"
                        return
                    }
                }
            }
            i += 1
        }
        throw ChatTemplateError.syntax(message: "missing end of raw directive", line: startLine, column: startColumn)
    }

    private mutating func lexTag(isBlock: Bool) throws {
        var balance: [Unicode.Scalar] = []
        while true {
            guard pos < s.count else {
                throw error("unexpected end of template, expected '\(isBlock ? "%}" : "}}")'")
            }
            if balance.isEmpty, let end = tagEnd(isBlock: isBlock) {
                emit(isBlock ? .blockEnd : .variableEnd, line: line, column: column)
                advance(to: end)
                lineStarting = s[end - 1] == "\n"
                return
            }
            let c = s[pos]
            let (l, col) = (line, column)
            if PythonText.isSpace(c) {
                advance(to: skipSpace(from: pos))
            } else if let (end, value) = scanFloat() {
                emit(.float(value), line: l, column: col)
                advance(to: end)
            } else if let (end, value) = try scanInteger() {
                emit(.integer(value), line: l, column: col)
                advance(to: end)
            } else if c == "_" || c.properties.isXIDStart {
                var end = pos + 1
                while end < s.count, s[end] == "_" || s[end].properties.isXIDContinue { end += 1 }
                emit(.name(PythonText.string(s[pos..<end])), line: l, column: col)
                advance(to: end)
            } else if c == "'" || c == "\"", let end = stringEnd(quote: c) {
                let value = try JinjaStringLiteral.unescape(Array(s[(pos + 1)..<(end - 1)]))
                    .mapError { error($0) }
                emit(.string(value), line: l, column: col)
                advance(to: end)
            } else if let op = JinjaLexer.operators.first(where: { matches($0, at: pos) }) {
                try balanceCheck(op, &balance)
                emit(.op(op), line: l, column: col)
                advance(to: pos + op.unicodeScalars.count)
            } else {
                throw error("unexpected character '\(c)'")
            }
        }
    }

    private func tagEnd(isBlock: Bool) -> Int? {
        if isBlock {
            if matches("+%}", at: pos) { return pos + 3 }
            if matches("-%}", at: pos) { return skipSpace(from: pos + 3) }
            if matches("%}", at: pos) { return pos + 2 < s.count && s[pos + 2] == "\n" ? pos + 3 : pos + 2 }
        } else {
            if matches("-}}", at: pos) { return skipSpace(from: pos + 3) }
            if matches("}}", at: pos) { return pos + 2 }
        }
        return nil
    }

    private func balanceCheck(_ op: String, _ balance: inout [Unicode.Scalar]) throws {
        switch op {
        case "(": balance.append(")")
        case "[": balance.append("]")
        case "{": balance.append("}")
        case ")", "]", "}":
            guard let expected = balance.popLast() else { throw error("unexpected '\(op)'") }
            guard String(expected) == op else { throw error("unexpected '\(op)', expected '\(expected)'") }
        default: break
        }
    }

    private func stringEnd(quote: Unicode.Scalar) -> Int? {
        var j = pos + 1
        while j < s.count {
            if s[j] == "\\" { j += 2; continue }
            if s[j] == quote { return j + 1 }
            j += 1
        }
        return nil
    }

    private func isDigit(_ i: Int) -> Bool { i < s.count && s[i].value >= 48 && s[i].value <= 57 }

    /// `(\d+_)*\d+`: digits with single underscores between groups.
    private func scanDigits(_ start: Int) -> Int? {
        guard isDigit(start) else { return nil }
        var j = start
        while isDigit(j) { j += 1 }
        while j < s.count, s[j] == "_", isDigit(j + 1) {
            j += 1
            while isDigit(j) { j += 1 }
        }
        return j
    }

    private func scanFloat() -> (Int, Double)? {
        guard !(pos > 0 && s[pos - 1] == "."), let intEnd = scanDigits(pos) else { return nil }
        var fracEnd: Int?
        if intEnd < s.count, s[intEnd] == "." { fracEnd = scanDigits(intEnd + 1) }
        let mantissaEnd = fracEnd ?? intEnd
        var end: Int?
        if mantissaEnd < s.count, s[mantissaEnd] == "e" || s[mantissaEnd] == "E" {
            var j = mantissaEnd + 1
            if j < s.count, s[j] == "+" || s[j] == "-" { j += 1 }
            end = scanDigits(j)
        }
        guard let finalEnd = end ?? fracEnd else { return nil }
        let text = PythonText.string(s[pos..<finalEnd]).replacingOccurrences(of: "_", with: "")
        guard let value = Double(text) else { return nil }
        return (finalEnd, value)
    }

    private func scanInteger() throws -> (Int, Int)? {
        guard isDigit(pos) else { return nil }
        var radix = 10
        var end = pos
        let lower = pos + 1 < s.count ? Character(s[pos + 1]).lowercased() : ""
        if s[pos] == "0", ["b", "o", "x"].contains(lower) {
            radix = lower == "b" ? 2 : lower == "o" ? 8 : 16
            var j = pos + 2
            var any = false
            while true {
                var k = j
                if k < s.count, s[k] == "_" { k += 1 }
                guard k < s.count, let digit = asciiHexDigit(s[k]), digit < radix else { break }
                j = k + 1
                any = true
            }
            if any { end = j }
        }
        if end == pos {
            radix = 10
            if s[pos] == "0" {
                end = pos + 1
                while true {
                    var k = end
                    if k < s.count, s[k] == "_" { k += 1 }
                    guard k < s.count, s[k] == "0" else { break }
                    end = k + 1
                }
            } else {
                end = pos + 1
                while true {
                    var k = end
                    if k < s.count, s[k] == "_" { k += 1 }
                    guard isDigit(k) else { break }
                    end = k + 1
                }
            }
        }
        var digits = PythonText.string(s[pos..<end]).replacingOccurrences(of: "_", with: "")
        if radix != 10 { digits.removeFirst(2) }
        guard let value = Int(digits, radix: radix) else { throw error("integer literal too large") }
        return (end, value)
    }
}

/// Python string-literal escapes, as jinja2 decodes them with `unicode-escape`.
enum JinjaStringLiteral {
    enum Outcome {
        case success(String)
        case failure(String)

        func mapError(_ make: (String) -> ChatTemplateError) throws -> String {
            switch self {
            case .success(let s): return s
            case .failure(let m): throw make(m)
            }
        }
    }

    static func unescape(_ body: [Unicode.Scalar]) -> Outcome {
        var out = String.UnicodeScalarView()
        var i = 0
        func hexValue(_ count: Int) -> UInt32? {
            guard i + count <= body.count else { return nil }
            var value: UInt32 = 0
            for scalar in body[i..<i + count] {
                guard let digit = asciiHexDigit(scalar) else { return nil }
                value = value &* 16 &+ digit
            }
            return value
        }
        while i < body.count {
            let c = body[i]
            i += 1
            guard c == "\\", i < body.count else { out.append(c); continue }
            let e = body[i]
            i += 1
            switch e {
            case "\n": break
            case "\\", "'", "\"": out.append(e)
            case "a": out.append("\u{07}")
            case "b": out.append("\u{08}")
            case "f": out.append("\u{0C}")
            case "n": out.append("\n")
            case "r": out.append("\r")
            case "t": out.append("\t")
            case "v": out.append("\u{0B}")
            case "0"..."7":
                var value = e.value - 48
                var n = 1
                while n < 3, i < body.count, ("0"..."7").contains(body[i]) {
                    value = value * 8 + body[i].value - 48
                    i += 1
                    n += 1
                }
                out.append(Unicode.Scalar(value) ?? "\u{FFFD}")
            case "N":
                return .failure("\\N{...} character name escapes are not supported")
            case "x", "u", "U":
                let count = e == "x" ? 2 : e == "u" ? 4 : 8
                guard let value = hexValue(count) else { return .failure("truncated \\\(e) escape") }
                i += count
                guard value <= 0x10FFFF else { return .failure("illegal Unicode character") }
                // A lone surrogate cannot be stored in a Swift String.
                out.append(Unicode.Scalar(value) ?? "\u{FFFD}")
            default:
                if e.value > 0x7F {
                    // jinja2 first turns non-ASCII into backslash escapes, so "\é" keeps the
                    // backslash and spells the character out.
                    out.append("\\")
                    let v = e.value
                    let (prefix, width) = v <= 0xFF ? ("x", 2) : v <= 0xFFFF ? ("u", 4) : ("U", 8)
                    let h = String(v, radix: 16)
                    out.append(contentsOf: (prefix + String(repeating: "0", count: width - h.count) + h).unicodeScalars)
                } else {
                    out.append("\\")
                    out.append(e)
                }
            }
        }
        return .success(String(out))
    }
}

/// The value of an ASCII hex digit; Unicode's other digit forms are not Python escape digits.
func asciiHexDigit(_ scalar: Unicode.Scalar) -> UInt32? {
    switch scalar.value {
    case 48...57: return scalar.value - 48
    case 65...70: return scalar.value - 55
    case 97...102: return scalar.value - 87
    default: return nil
    }
}
