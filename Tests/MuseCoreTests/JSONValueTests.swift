// JSON as the client wrote it: members in order, numbers exact, every escape, and hostile or broken
// text refused with the offset where reading stopped, never a crash.
import Foundation
import MuseCore
import Testing

@Suite struct JSONValueTests {
    @Test func objectsKeepTheirOrderThroughParseAndWrite() throws {
        let text = #"{"zeta":1,"alpha":{"b":[true,false,null],"a":"x"},"mid":-0.5e3}"#
        let value = try JSONValue.parse(text)
        guard case .object(let object) = value else { Issue.record("not an object"); return }
        #expect(object.keys == ["zeta", "alpha", "mid"])
        #expect(value.jsonText == text)
        #expect(value["alpha"]?["b"]?[2] == .null)
    }

    @Test func integersBeyondDoublesStayExact() throws {
        let big = "9007199254740993"   // 2^53 + 1: a Double would round it to 2^53
        let value = try JSONValue.parse("[\(big), 12345678901234567890123]")
        #expect(value.jsonText == "[\(big),12345678901234567890123]")
        guard case .number(let number)? = value[0] else { Issue.record("not a number"); return }
        #expect(number.integer == 9_007_199_254_740_993)
        #expect(value[0] != .number(JSONNumber(9_007_199_254_740_992)))
        // The same number spelled differently is equal.
        #expect(try JSONValue.parse("1.0") == JSONValue.parse("1"))
        #expect(try JSONValue.parse("1e2") == .number(100))
    }

    @Test func objectsAreEqualWhateverTheirOrder() throws {
        #expect(try JSONValue.parse(#"{"a":1,"b":2}"#) == JSONValue.parse(#"{"b":2,"a":1}"#))
        #expect(try JSONValue.parse(#"{"a":1,"b":2}"#) != JSONValue.parse(#"{"a":1}"#))
        // A repeated name keeps its place and takes the last value.
        #expect(try JSONValue.parse(#"{"a":1,"b":2,"a":3}"#).jsonText == #"{"a":3,"b":2}"#)
    }

    @Test func stringsDecodeEveryEscapeAndWriteBackAsJSON() throws {
        let value = try JSONValue.parse(#""q\" b\\ s\/ \b\f\n\r\t \u00e9 \ud83d\ude00 \ud800x""#)
        #expect(value == .string("q\" b\\ s/ \u{08}\u{0C}\n\r\t é 😀 \u{FFFD}x"))
        // What is written reads back the same, and Foundation reads it too.
        let written = value.jsonText
        #expect(try JSONValue.parse(written) == value)
        #expect(try JSONSerialization.jsonObject(with: Data(written.utf8), options: .fragmentsAllowed) as? String == "q\" b\\ s/ \u{08}\u{0C}\n\r\t é 😀 \u{FFFD}x")
    }

    @Test(arguments: [
        ("", 0), ("{", 1), (#"{"a" 1}"#, 5), ("[1,]", 3), ("[1 2]", 3), ("01", 1), ("1.", 2), ("-", 1), ("1e+", 3),
        ("tru", 0), (#""abc"#, 4), ("\"a\u{01}\"", 2), (#""\x""#, 3), (#""\u12""#, 3), ("{} {}", 3), ("nul", 0),
    ])
    func brokenTextIsRefusedWhereItBreaks(text: String, offset: Int) {
        #expect(throws: JSONParseError.self) { try JSONValue.parse(text) }
        do { _ = try JSONValue.parse(text) } catch { #expect(error.offset == offset, "\(text): \(error)") }
    }

    @Test func deepNestingIsRefusedNotACrash() throws {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect(throws: JSONParseError.self) { try JSONValue.parse(deep) }
        let fine = String(repeating: "[", count: 500) + String(repeating: "]", count: 500)
        #expect(try JSONValue.parse(fine).jsonText == fine)
    }

    @Test func codableRoundTripsThroughFoundation() throws {
        let value: JSONValue = ["n": 3, "s": "x", "a": [true, .null], "o": ["k": .number(JSONNumber(0.25))]]
        let data = try JSONEncoder().encode(value)
        #expect(try JSONDecoder().decode(JSONValue.self, from: data) == value)
    }
}
