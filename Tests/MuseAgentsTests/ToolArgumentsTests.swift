// A call's arguments read field by field, with errors that name the field for the model.
import MuseCore
import Testing
@testable import MuseAgents

@Suite struct ToolArgumentsTests {
    @Test func fieldsAreReadByKind() throws {
        let args = try ToolArguments(#"{"s": "x", "n": 2.0, "q": " 2.5 ", "big": 12345678901234567, "none": null}"#, example: "{}")
        #expect(try args.string("s") == "x")
        #expect(try args.integer("n", in: 0...5) == 2)
        #expect(try args.number("q") == 2.5, "a number in a string")
        #expect(try args.integer("big", in: 0...Int.max) == 12345678901234567, "exact past 2^53")
        #expect(try args.integer("none", in: 0...5) == nil && args["none"] == nil, "null is absent")
        #expect(try args.integer("missing", in: 0...5) == nil)
    }

    @Test(arguments: [
        (#"{"n": 1.5}"#, "n", #""n" must be a whole number from 0 to 5"#),
        (#"{"n": "2"}"#, "n", #""n" must be a whole number from 0 to 5"#),
        (#"{"n": 6}"#, "n", #""n" must be a whole number from 0 to 5"#),
        (#"{"s": 1}"#, "s", #""s" must be a string"#),
        (#"{}"#, "s", #""s" is required"#),
    ])
    func wrongFieldsAreNamed(json: String, key: String, message: String) throws {
        let args = try ToolArguments(json, example: "{}")
        #expect(throws: ToolError.badArguments(message)) {
            if key == "n" { _ = try args.integer(key, in: 0...5) } else { _ = try args.string(key) }
        }
    }

    @Test func aTextThatIsNotAnObjectIsRefusedWithTheExample() {
        for text in ["[1]", "now please", "", "{\"a\": }"] {
            #expect(throws: ToolError.badArguments(#"expected a JSON object like {"a": 1}"#)) {
                _ = try ToolArguments(text, example: #"{"a": 1}"#)
            }
        }
    }
}
