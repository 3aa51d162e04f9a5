// The calculator tool: arithmetic expressions parsed by a small recursive-descent parser and
// computed exactly with big-integer fractions. Nothing is evaluated as code.
import BigInt
import MuseAgents
import MuseCore

public struct Calculator: Tool {
    public let name = "calculator"
    public let description = "Exact arithmetic: + - * / ^, parentheses, percentages (12.5% of 3480), abs, min, max."
    public let parametersSchema = """
        {"type": "object", "properties": {"expression": {"type": "string", "description": "The arithmetic expression"}}, "required": ["expression"]}
        """

    /// Longest expression accepted, and the largest exponent: the result's size stays bounded.
    static let maxLength = 1_000
    static let maxExponent = 4_096

    public init() {}

    public func call(arguments: String) async throws -> String {
        try evaluate(try stringArgument("expression", in: arguments))
    }

    /// The exact value of `expression`: a decimal when it is one, else a fraction with a decimal
    /// approximation ("1/3 ≈ 0.33333333333333333333").
    public func evaluate(_ expression: String) throws(ToolError) -> String {
        guard expression.count <= Self.maxLength else { throw .badArguments("the expression is longer than \(Self.maxLength) characters") }
        var parser = Parser(expression)
        let value = try parser.parse()
        if let exact = value.exactDecimal { return exact }
        return "\(value.numerator)/\(value.denominator) ≈ \(value.rounded(places: 20))"
    }

    private struct Parser {
        let chars: [Character]
        var pos = 0
        var depth = 0

        init(_ text: String) {
            // Thousands separators ("3,480") are dropped; other commas separate function arguments.
            let all = Array(text)
            func isThousandsSeparator(_ i: Int) -> Bool {
                guard all[i] == ",", i > 0, all[i - 1].isASCIIDigit, i + 3 < all.count else { return false }
                let group = all[(i + 1)...(i + 3)]
                return group.allSatisfy(\.isASCIIDigit) && (i + 4 == all.count || !all[i + 4].isASCIIDigit)
            }
            let cleaned = all.indices.filter { !isThousandsSeparator($0) }.map { all[$0] }
            chars = cleaned
        }

        mutating func parse() throws(ToolError) -> Rational {
            let value = try expression()
            skipSpaces()
            guard pos == chars.count else { throw error("unexpected '\(chars[pos])'") }
            return value
        }

        func error(_ message: String) -> ToolError { .failed("\(message) at position \(pos + 1)") }

        mutating func skipSpaces() { while pos < chars.count, chars[pos].isWhitespace { pos += 1 } }

        mutating func accept(_ c: Character) -> Bool {
            skipSpaces()
            if pos < chars.count, chars[pos] == c { pos += 1; return true }
            return false
        }

        /// A symbol of several characters, taken whole or not at all.
        mutating func acceptSymbol(_ symbol: String) -> Bool {
            skipSpaces()
            let s = Array(symbol)
            guard pos + s.count <= chars.count, Array(chars[pos..<(pos + s.count)]) == s else { return false }
            pos += s.count
            return true
        }

        mutating func acceptWord(_ word: String) -> Bool {
            skipSpaces()
            let w = Array(word)
            guard pos + w.count <= chars.count, Array(chars[pos..<(pos + w.count)]).map({ Character($0.lowercased()) }) == w else { return false }
            if pos + w.count < chars.count, chars[pos + w.count].isLetter { return false }
            pos += w.count
            return true
        }

        // expression := term (("+" | "-") term)*
        mutating func expression() throws(ToolError) -> Rational {
            var value = try term()
            while true {
                if accept("+") { value = value + (try term()) }
                else if accept("-") { value = value - (try term()) }
                else { return value }
            }
        }

        // term := power (("*" | "×" | "/" | "÷" | "of") power)*
        mutating func term() throws(ToolError) -> Rational {
            var value = try power()
            while true {
                if accept("*") || accept("×") || acceptWord("of") { value = value * (try power()) }
                else if accept("/") || accept("÷") {
                    let divisor = try power()
                    guard let q = value / divisor else { throw error("division by zero") }
                    value = q
                } else { return value }
            }
        }

        // power := unary ("^" power)?   (right-associative, integer exponents)
        mutating func power() throws(ToolError) -> Rational {
            let base = try unary()
            guard accept("^") || acceptSymbol("**") else { return base }
            let exponent = try power()
            guard exponent.isInteger, abs(exponent.numerator) <= BigInt(Calculator.maxExponent),
                  let n = Int(exactly: exponent.numerator) else {
                throw error("exponents must be whole numbers up to \(Calculator.maxExponent)")
            }
            guard let value = base.power(n) else { throw error("zero to a negative power") }
            return value
        }

        // unary := ("-" | "+") unary | postfix
        mutating func unary() throws(ToolError) -> Rational {
            if accept("-") { return Rational(-1) * (try unary()) }
            if accept("+") { return try unary() }
            return try postfix()
        }

        // postfix := primary "%"*
        mutating func postfix() throws(ToolError) -> Rational {
            var value = try primary()
            while accept("%") { value = value * Rational(1, 100) }
            return value
        }

        // primary := number | "(" expression ")" | function "(" args ")"
        mutating func primary() throws(ToolError) -> Rational {
            skipSpaces()
            depth += 1
            defer { depth -= 1 }
            guard depth < 200 else { throw error("nested too deeply") }
            guard pos < chars.count else { throw error("expected a number") }
            if accept("(") {
                let value = try expression()
                guard accept(")") else { throw error("expected ')'") }
                return value
            }
            for function in ["abs", "min", "max"] where acceptWord(function) {
                guard accept("(") else { throw error("expected '(' after \(function)") }
                var args = [try expression()]
                while accept(",") { args.append(try expression()) }
                guard accept(")") else { throw error("expected ')'") }
                switch function {
                case "abs": guard args.count == 1 else { throw error("abs takes one argument") }
                    return args[0].numerator < 0 ? Rational(-1) * args[0] : args[0]
                case "min": return args.dropFirst().reduce(args[0]) { less($1, $0) ? $1 : $0 }
                default: return args.dropFirst().reduce(args[0]) { less($0, $1) ? $1 : $0 }
                }
            }
            let start = pos
            while pos < chars.count, chars[pos].isASCIIDigit || chars[pos] == "." { pos += 1 }
            guard pos > start, let value = Rational(decimal: String(chars[start..<pos])) else {
                pos = start
                throw error(pos < chars.count ? "unexpected '\(chars[pos])'" : "expected a number")
            }
            return value
        }

        func less(_ a: Rational, _ b: Rational) -> Bool {
            (a - b).numerator < 0
        }
    }
}
