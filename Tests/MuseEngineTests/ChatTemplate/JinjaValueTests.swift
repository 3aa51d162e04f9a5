// The value model: literals, Python truthiness, ordered objects, and conversion from JSON.
import Foundation
import MuseEngine
import Testing

@Suite struct JinjaValueTests {
    @Test func literalsBuildTheMatchingCases() {
        let value: JinjaValue = ["s": "text", "i": 3, "d": 1.5, "b": true, "a": [1, "x"], "n": .null]
        guard case .object(let object) = value else {
            Issue.record("expected an object")
            return
        }
        #expect(object.keys == ["s", "i", "d", "b", "a", "n"])
        #expect(object["s"] == .string("text"))
        #expect(object["i"] == .int(3))
        #expect(object["d"] == .double(1.5))
        #expect(object["b"] == .bool(true))
        #expect(object["a"] == .array([.int(1), .string("x")]))
        #expect(object["n"] == JinjaValue.none)
        #expect(value["missing"] == .undefined)
        #expect(value["s"].stringValue == "text")
    }

    @Test func truthinessFollowsPython() {
        let falsy: [JinjaValue] = [.undefined, .none, false, 0, 0.0, "", [], .object(JinjaObject())]
        let truthy: [JinjaValue] = [true, 1, -1, 0.5, "0", " ", [.none], ["k": .none]]
        #expect(falsy.allSatisfy { !$0.isTruthy })
        #expect(truthy.allSatisfy { $0.isTruthy })
    }

    @Test func objectsKeepInsertionOrderAndCompareLikeDicts() {
        var object: JinjaObject = ["b": 1, "a": 2]
        object["c"] = 3
        object["b"] = 10
        #expect(object.keys == ["b", "a", "c"])
        #expect(object.values == [10, 2, 3])
        object["a"] = nil
        #expect(object.keys == ["b", "c"])
        #expect(object.count == 2)
        #expect(JinjaObject([("x", 1), ("y", 2)]) == JinjaObject([("y", 2), ("x", 1)]))
        #expect(JinjaObject([("k", 1), ("k", 2)]).keys == ["k"])
        #expect(JinjaObject([("k", 1), ("k", 2)])["k"] == 2)
    }

    @Test func jsonTextKeepsKeyOrderAndNumberKinds() throws {
        let value = try JinjaValue(jsonString: #"{"z": 1, "a": [1.0, 2, -3e2, true, null], "m": {"y": "\u00e9\ud83d\ude00\n"}}"#)
        #expect(value.objectValue?.keys == ["z", "a", "m"])
        #expect(value["a"] == [.double(1.0), .int(2), .double(-300), .bool(true), .none])
        #expect(value["m"]["y"] == "é😀\n")
        #expect(try render("{{ v|tojson }}", ["v": value]) == #"{"z": 1, "a": [1.0, 2, -300.0, true, null], "m": {"y": "é😀\n"}}"#)
        #expect(try JinjaValue(jsonData: Data("[]".utf8)) == [])
    }

    @Test(arguments: ["", "{", "[1,]", "{\"a\" 1}", "tru", "\"\\x\"", "[1] 2", "{\"a\": }", "\"unterminated"])
    func malformedJSONIsRejected(_ text: String) {
        #expect(throws: JinjaValueConversionError.self) { try JinjaValue(jsonString: text) }
    }

    @Test func jsonNestingIsBounded() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: JinjaValueConversionError.tooDeep(JinjaValue.maxJSONDepth)) { try JinjaValue(jsonString: deep) }
    }
}

@Suite struct ChatTemplateAPITests {
    @Test func toolsAreOnlyDefinedWhenGiven() throws {
        let template = try ChatTemplate("{{ tools is defined }}|{{ bos_token }}|{{ eos_token }}|{{ add_generation_prompt }}|{{ messages|length }}|{{ extra }}")
        #expect(try template.render(messages: [], addGenerationPrompt: true, bosToken: "<s>", eosToken: "</s>") == "False|<s>|</s>|True|0|")
        #expect(try template.render(messages: [["role": "user", "content": "x"]], tools: [], addGenerationPrompt: false,
                                    bosToken: "", eosToken: "", extra: ["extra": "e"]) == "True|||False|1|e")
    }

    @Test func strftimeNowFollowsCStrftime() throws {
        let now = Date(timeIntervalSince1970: 1_741_953_600) // 2025-03-14 12:00 UTC
        let output = try ChatTemplate("{{ strftime_now('%Y-%m-%d') }}|{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%B %A %%') }}")
            .render([:], now: now)
        #expect(output == "2025-03-14|14 Mar 2025|March Friday %")
    }

    @Test func aParsedTemplateRendersConcurrently() async throws {
        let template = try ChatTemplate("{% for m in messages %}[{{ m.content }}]{% endfor %}")
        let outputs = try await withThrowingTaskGroup(of: String.self) { group in
            for i in 0..<16 {
                group.addTask { try template.render(["messages": [["content": .int(i)]]]) }
            }
            return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        #expect(outputs == Set((0..<16).map { "[\($0)]" }))
    }

    @Test func unsupportedFeaturesAreListedAtParse() throws {
        let template = try ChatTemplate("{{ x|tojson }}{{ y|urlize }}\n{% if z is prime %}{% endif %}")
        #expect(template.unsupportedFeatures == ["filter 'urlize' at line 1", "test 'prime' at line 2"])
    }
}
