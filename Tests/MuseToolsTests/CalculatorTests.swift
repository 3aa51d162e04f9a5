// The calculator: exact results, a real grammar, clear errors, bounded work.
import MuseAgents
import Testing
@testable import MuseTools

@Suite struct CalculatorTests {
    let calc = Calculator()

    @Test(arguments: [
        ("12.5% of 3,480", "435"),
        ("0.1 + 0.2", "0.3"),
        ("2^100", "1267650600228229401496703205376"),
        ("2 ** 10", "1024"),
        ("-3 * (4 - 10) / 4", "4.5"),
        ("1/8", "0.125"),
        ("2^-2", "0.25"),
        ("(1 + 2) * 3 - 4 / 2", "7"),
        ("abs(-7.25) + max(1, 5, 3) - min(2, -1)", "13.25"),
        ("1,000,000 / 4", "250000"),
        ("3 × 4 ÷ 6", "2"),
        ("50%", "0.5"),
        ("123456789012345678901234567890 * 10", "1234567890123456789012345678900"),
    ])
    func exactResults(_ expression: String, _ expected: String) throws {
        #expect(try calc.evaluate(expression) == expected)
    }

    @Test func repeatingDecimalsGiveAFractionAndAnApproximation() throws {
        #expect(try calc.evaluate("1/3") == "1/3 ≈ 0.33333333333333333333")
        #expect(try calc.evaluate("-2/3") == "-2/3 ≈ -0.66666666666666666667")
    }

    @Test(arguments: [
        ("1 / 0", "division by zero"),
        ("2 +", "expected a number"),
        ("(1 + 2", "expected ')'"),
        ("2 $ 3", "unexpected '$'"),
        ("import os", "unexpected 'i'"),
        ("2^0.5", "whole numbers"),
        ("2^100000", "whole numbers"),
        ("0^-1", "zero to a negative power"),
        ("abs(1, 2)", "one argument"),
    ])
    func clearErrors(_ expression: String, _ message: String) {
        do {
            _ = try calc.evaluate(expression)
            Issue.record("\(expression) should fail")
        } catch {
            #expect("\(error)".contains(message), "\(expression): \(error)")
        }
    }

    @Test func hostileInputIsBounded() {
        #expect(throws: ToolError.self) { try calc.evaluate(String(repeating: "(", count: 500) + "1" + String(repeating: ")", count: 500)) }
        #expect(throws: ToolError.self) { try calc.evaluate(String(repeating: "1+", count: 600) + "1") }
    }

    @Test func callTakesJSONArguments() async throws {
        #expect(try await calc.call(arguments: "{\"expression\": \"6*7\"}") == "42")
        await #expect(throws: ToolError.self) { _ = try await calc.call(arguments: "6*7") }
        await #expect(throws: ToolError.self) { _ = try await calc.call(arguments: "{\"expression\": 42}") }
    }
}
