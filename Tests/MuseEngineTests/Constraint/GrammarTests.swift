// Output formats compiled to grammars: what each accepts and refuses, byte by byte.
import MuseCore
import Testing
@testable import MuseEngine

/// Whether `text` is a complete sentence of `format`.
func formatAccepts(_ format: OutputFormat, _ text: String) throws -> Bool {
    var matcher = GrammarMatcher(try FormatCompiler.compile(format))
    return matcher.advance(Array(text.utf8)) && matcher.isComplete
}

@Suite struct GrammarTests {
    @Test func byteSetsHoldWhatWasInserted() {
        let set = ByteSet(UInt8(ascii: "a")...UInt8(ascii: "c"), 0xFF...0xFF)
        #expect(set.contains(UInt8(ascii: "b")) && set.contains(0xFF))
        #expect(!set.contains(UInt8(ascii: "d")) && !set.contains(0))
        #expect(set.inverted.contains(0) && !set.inverted.contains(UInt8(ascii: "a")))
        #expect(!set.subtracting(ByteSet(UInt8(ascii: "b"))).contains(UInt8(ascii: "b")))
    }

    @Test(arguments: [
        "{}", "{ }", "{\"a\":1}", "{\"a\": [1, 2.5, -3e+2, true, false, null]}", "{\"k\": {\"n\": {\"m\": \"x\"}}}",
        "{\"s\": \"tab\\t quote\\\" \\u00e9 é 日本 🎉\"}", "{\"a\":1, \"b\":\"2\"}",
    ])
    func anyJSONObjectAcceptsObjects(_ text: String) throws {
        #expect(try formatAccepts(.jsonObject, text))
    }

    @Test(arguments: [
        "[]", "1", "\"s\"", "{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{a:1}", "{\"a\":01}", "{\"a\":1.}", "{\"a\":\"\u{1}\"}",
        "{\"a\":\"\\x\"}", "{\"a\":tru}", "{}  ", "{\"a\":1}\n",
    ])
    func anyJSONObjectRefusesTheRest(_ text: String) throws {
        #expect(try !formatAccepts(.jsonObject, text))
    }

    @Test func invalidUTF8IsRefusedInsideStrings() throws {
        var matcher = GrammarMatcher(try FormatCompiler.compile(.jsonObject))
        let opened = matcher.advance(Array("{\"a\":\"".utf8))
        #expect(opened)
        #expect(!matcher.accepts([0xC3, 0x28]))  // a lead byte without its continuation
        #expect(!matcher.accepts([0xFF]))
        #expect(matcher.accepts([0xC3, 0xA9]))  // é
    }

    let person = """
        {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"},
         "email": {"type": "string"}, "admin": {"type": "boolean"}}, "required": ["name", "age"]}
        """

    @Test func objectsFollowTheSchemaOrderWithOptionalMembers() throws {
        let f = OutputFormat.jsonSchema(person)
        #expect(try formatAccepts(f, #"{"name": "Ann", "age": 30}"#))
        #expect(try formatAccepts(f, #"{"name":"Ann","age":30,"admin":false}"#))
        #expect(try formatAccepts(f, #"{"name": "Ann", "age": -4, "email": "a@b.c", "admin": true}"#))
        #expect(try !formatAccepts(f, #"{"age": 30, "name": "Ann"}"#), "out of order")
        #expect(try !formatAccepts(f, #"{"name": "Ann"}"#), "missing required")
        #expect(try !formatAccepts(f, #"{"name": "Ann", "age": 30.5}"#), "integer")
        #expect(try !formatAccepts(f, #"{"name": "Ann", "age": 30, "extra": 1}"#), "unknown property")
        #expect(try !formatAccepts(f, #"{"name": 3, "age": 30}"#), "type")
    }

    @Test func allOptionalMembersMayAllBeLeftOut() throws {
        let f = OutputFormat.jsonSchema(#"{"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}}"#)
        for text in ["{}", #"{"a":1}"#, #"{"b":2}"#, #"{"a":1, "b":2}"#] { #expect(try formatAccepts(f, text), "\(text)") }
        for text in [#"{,"b":2}"#, #"{"a":1,}"#, #"{"b":2, "a":1}"#] { #expect(try !formatAccepts(f, text), "\(text)") }
    }

    @Test func enumsConstsAndUnions() throws {
        let f = OutputFormat.jsonSchema("""
            {"type": "object", "properties": {
              "unit": {"enum": ["celsius", "fahrenheit", 3, null]},
              "kind": {"const": "reading"},
              "value": {"anyOf": [{"type": "number"}, {"type": "null"}]},
              "tag": {"type": ["string", "integer"]}},
             "required": ["unit", "kind", "value", "tag"]}
            """)
        #expect(try formatAccepts(f, #"{"unit": "celsius", "kind": "reading", "value": 21.5, "tag": "x"}"#))
        #expect(try formatAccepts(f, #"{"unit": null, "kind": "reading", "value": null, "tag": 7}"#))
        #expect(try formatAccepts(f, #"{"unit": 3, "kind": "reading", "value": -1e3, "tag": 0}"#))
        #expect(try !formatAccepts(f, #"{"unit": "kelvin", "kind": "reading", "value": 1, "tag": 1}"#))
        #expect(try !formatAccepts(f, #"{"unit": "celsius", "kind": "other", "value": 1, "tag": 1}"#))
        #expect(try !formatAccepts(f, #"{"unit": "celsius", "kind": "reading", "value": "1", "tag": 1}"#))
        #expect(try !formatAccepts(f, #"{"unit": "celsius", "kind": "reading", "value": 1, "tag": true}"#))
    }

    @Test func arraysAndStringsKeepTheirBounds() throws {
        let f = OutputFormat.jsonSchema("""
            {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 3}, "minItems": 1, "maxItems": 2}
            """)
        #expect(try formatAccepts(f, #"["a"]"#))
        #expect(try formatAccepts(f, #"["abc", "é"]"#))
        #expect(try !formatAccepts(f, "[]"))
        #expect(try !formatAccepts(f, #"["a", "b", "c"]"#))
        #expect(try !formatAccepts(f, #"["abcd"]"#))
        #expect(try !formatAccepts(f, #"[""]"#))
    }

    @Test func referencesResolveAndMayRecurse() throws {
        let tree = OutputFormat.jsonSchema("""
            {"$ref": "#/$defs/node", "$defs": {"node": {"type": "object",
              "properties": {"v": {"type": "integer"}, "kids": {"type": "array", "items": {"$ref": "#/$defs/node"}}},
              "required": ["v"]}}}
            """)
        #expect(try formatAccepts(tree, #"{"v": 1, "kids": [{"v": 2}, {"v": 3, "kids": [{"v": 4}]}]}"#))
        #expect(try !formatAccepts(tree, #"{"v": 1, "kids": [{"w": 2}]}"#))
    }

    @Test func boundedFormatsLimitStringsWithoutTheirOwnLimit() throws {
        let schema = OutputFormat.jsonSchema(#"{"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string", "maxLength": 6}, "c": {}}, "required": ["a", "b", "c"]}"#)
        let f = OutputFormat.bounded(schema, maxStringLength: 3)
        #expect(try formatAccepts(f, #"{"a": "abc", "b": "abcdef", "c": ["xyz"]}"#))
        #expect(try !formatAccepts(f, #"{"a": "abcd", "b": "a", "c": 1}"#), "a is bounded")
        #expect(try !formatAccepts(f, #"{"a": "a", "b": "a", "c": {"k": "long"}}"#), "free values too")
        #expect(try formatAccepts(schema, #"{"a": "abcd", "b": "a", "c": 1}"#), "unbounded outside")
    }

    @Test func numbersHaveBoundedDigits() throws {
        let f = OutputFormat.jsonSchema(#"{"type": "integer"}"#)
        #expect(try formatAccepts(f, String(repeating: "9", count: FormatCompiler.maxIntegerDigits)))
        #expect(try !formatAccepts(f, String(repeating: "9", count: FormatCompiler.maxIntegerDigits + 1)))
    }

    @Test func sequencesAndRepetitionsWrapJSON() throws {
        let call = OutputFormat.sequence([.literal("<tool_call>\n"), .jsonObject, .literal("\n</tool_call>")])
        let f = OutputFormat.repeated(call, separator: "\n", max: 2)
        let one = "<tool_call>\n{\"a\":1}\n</tool_call>"
        #expect(try formatAccepts(f, one))
        #expect(try formatAccepts(f, one + "\n" + one))
        #expect(try !formatAccepts(f, one + "\n" + one + "\n" + one))
        #expect(try !formatAccepts(f, "<tool_call>{\"a\":1}</tool_call>"))
    }

    @Test func aLineIsBoundedAndEndsAtItsLineBreak() throws {
        let f = OutputFormat.line(maxLength: 10)
        for text in [" 42", "\n\\boxed{42}", "1234567890", "été 42\n", "\t42"] { #expect(try formatAccepts(f, text), "\(text)") }
        for text in ["", "\n", "12345678901", "42\nmore", "42\n\n", "\n\n42", "a\u{1}b"] { #expect(try !formatAccepts(f, text), "\(text)") }
        var matcher = GrammarMatcher(try FormatCompiler.compile(f))
        matcher.advance(Array(" 42".utf8))
        // Complete after a character, so that the end of generation may close it; a line break ends it.
        #expect(matcher.isComplete && matcher.canContinue)
        matcher.advance(Array("\n".utf8))
        #expect(matcher.isComplete && !matcher.canContinue)
    }

    @Test func aFinishedSentenceCannotContinue() throws {
        var matcher = GrammarMatcher(try FormatCompiler.compile(.jsonSchema(#"{"enum": ["yes", "no"]}"#)))
        #expect(matcher.canContinue && !matcher.isComplete)
        matcher.advance(Array("\"no\"".utf8))
        #expect(matcher.isComplete && !matcher.canContinue)
        #expect(matcher.nextBytes == ByteSet())
    }

    @Test(arguments: [
        ("not json", "invalid JSON schema"),
        (#"{"type": "tuple"}"#, "unsupported"),
        (#"{"enum": []}"#, "enum must be a non-empty array"),
        (##"{"$ref": "#/nowhere"}"##, "points nowhere"),
        (#"{"$ref": "http://example.com/s.json"}"#, "another document"),
        (##"{"$ref": "#/$defs/a", "$defs": {"a": {"anyOf": [{"$ref": "#/$defs/a"}, {"type": "null"}]}}}"##, "refers to itself"),
        (#"{"allOf": [{"type": "string"}, {"maxLength": 2}]}"#, "allOf"),
        (#"{"type": "string", "maxLength": -1}"#, "maxLength"),
        ("false", "accepts nothing"),
    ])
    func badSchemasGetClearErrors(_ schema: String, _ expected: String) {
        #expect {
            _ = try FormatCompiler.compile(.jsonSchema(schema))
        } throws: { error in
            "\(error)".contains(expected)
        }
    }

    @Test func deeplyNestedSchemasAreRefused() {
        let schema = String(repeating: #"{"type": "array", "items": "#, count: 100) + "{}" + String(repeating: "}", count: 100)
        #expect(throws: GrammarError.self) { _ = try FormatCompiler.compile(.jsonSchema(schema)) }
    }
}
