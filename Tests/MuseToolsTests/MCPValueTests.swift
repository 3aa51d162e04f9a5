// Arguments handed to an MCP server as the model wrote them, and the SDK's values read back.
import MCP
import MuseCore
import Testing
@testable import MuseTools

@Suite struct MCPValueTests {
    @Test func argumentsKeepTheirNumbersKinds() throws {
        let arguments = try JSONValue.parse(#"{"n": 3, "x": 1.5, "big": 123456789012345678901, "s": "a/b", "l": [true, null], "o": {"k": -0}}"#)
        #expect(MCP.Value(arguments) == .object([
            "n": .int(3), "x": .double(1.5), "big": .double(1.2345678901234568e20), "s": .string("a/b"),
            "l": .array([.bool(true), .null]), "o": .object(["k": .int(0)]),
        ]))
    }

    @Test func schemasComeBackAsJSONWithSortedMembers() {
        let schema = MCP.Value.object(["properties": .object(["b": .object(["type": "integer"]), "a": .object(["type": "string"])]),
                                        "required": .array(["a"])])
        #expect(MCPTool.schemaText(schema)
            == #"{"properties":{"a":{"type":"string"},"b":{"type":"integer"}},"required":["a"],"type":"object"}"#)
        #expect(JSONValue(MCP.Value.double(.infinity)) == .null, "JSON has no infinity")
        #expect(JSONValue(MCP.Value.int(Int.max)).jsonText == String(Int.max))
    }
}
