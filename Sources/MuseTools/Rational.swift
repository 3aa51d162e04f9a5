// Exact fractions of big integers: the calculator never rounds until it prints.
import BigInt
import MuseAgents
import MuseCore

struct Rational: Equatable {
    private(set) var numerator: BigInt
    private(set) var denominator: BigInt   // always > 0, coprime with the numerator

    init(_ numerator: BigInt, _ denominator: BigInt = 1) {
        precondition(denominator != 0)
        let g = numerator.greatestCommonDivisor(with: denominator).magnitude
        let sign: BigInt = denominator < 0 ? -1 : 1
        self.numerator = sign * numerator / BigInt(g)
        self.denominator = sign * denominator / BigInt(g)
    }

    /// A decimal literal such as "3480", "12.5" or ".25", exactly.
    init?(decimal text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, !text.isEmpty else { return nil }
        let whole = parts[0].isEmpty ? "0" : String(parts[0])
        let fraction = parts.count == 2 ? String(parts[1]) : ""
        guard whole.allSatisfy(\.isASCIIDigit), fraction.allSatisfy(\.isASCIIDigit), let digits = BigInt(whole + fraction) else {
            return nil
        }
        self.init(digits, BigInt(10).power(fraction.count))
    }

    static func + (a: Rational, b: Rational) -> Rational {
        Rational(a.numerator * b.denominator + b.numerator * a.denominator, a.denominator * b.denominator)
    }
    static func - (a: Rational, b: Rational) -> Rational { a + Rational(-b.numerator, b.denominator) }
    static func * (a: Rational, b: Rational) -> Rational {
        Rational(a.numerator * b.numerator, a.denominator * b.denominator)
    }
    /// nil when dividing by zero.
    static func / (a: Rational, b: Rational) -> Rational? {
        b.numerator == 0 ? nil : Rational(a.numerator * b.denominator, a.denominator * b.numerator)
    }

    var isInteger: Bool { denominator == 1 }
    var isZero: Bool { numerator == 0 }

    /// self^n for an integer n (nil for 0^negative).
    func power(_ n: Int) -> Rational? {
        if n >= 0 { return Rational(numerator.power(n), denominator.power(n)) }
        if isZero { return nil }
        return Rational(denominator.power(-n), numerator.power(-n))
    }

    /// Exact decimal text when the denominator has only the prime factors 2 and 5; otherwise nil.
    var exactDecimal: String? {
        var d = denominator, twos = 0, fives = 0
        while d % 2 == 0 { d /= 2; twos += 1 }
        while d % 5 == 0 { d /= 5; fives += 1 }
        guard d == 1 else { return nil }
        let places = max(twos, fives)
        let scaled = numerator * BigInt(10).power(places) / denominator
        return Self.insertPoint(scaled, places: places)
    }

    /// The value rounded (half away from zero) to `places` decimal places.
    func rounded(places: Int) -> String {
        let scale = BigInt(10).power(places)
        let twice = 2 * numerator * scale
        let q = (twice.magnitude + denominator.magnitude) / (2 * denominator.magnitude)
        let value = numerator < 0 ? -BigInt(q) : BigInt(q)
        var text = Self.insertPoint(value, places: places)
        if text.contains(".") {
            while text.hasSuffix("0") { text.removeLast() }
            if text.hasSuffix(".") { text.removeLast() }
        }
        return text
    }

    private static func insertPoint(_ value: BigInt, places: Int) -> String {
        let negative = value < 0
        var digits = String(value.magnitude)
        guard places > 0 else { return (negative ? "-" : "") + digits }
        if digits.count <= places { digits = String(repeating: "0", count: places - digits.count + 1) + digits }
        let point = digits.index(digits.endIndex, offsetBy: -places)
        var text = String(digits[..<point]) + "." + String(digits[point...])
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return (negative && text != "0" ? "-" : "") + text
    }
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
