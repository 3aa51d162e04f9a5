// Encodable values written as JSON in the order they encode their members, with every kind of
// number Foundation's encoder takes written as it writes them.
import Foundation
import MuseCore
import Testing

@Suite struct JSONValueEncoderTests {
    struct Inner: Encodable { var z = 1; var a: [Int32] = [1, -2] }
    struct Sample: Encodable {
        var id = "x"
        var object = "chat.completion"
        var created: Int64 = 1_700_000_000
        var small: Int8 = -3
        var big: UInt64 = 18_446_744_073_709_551_615
        var ratio: Float = 0.1
        var exact: Double = 2.5
        var flag = true
        var missing: String? = nil
        var inner = Inner()
        var schema: JSONValue = try! JSONValue.parse(#"{"properties": {"b": {}, "a": {}}, "type": "object"}"#)
        var list: [Inner?] = [nil, Inner(z: 2, a: [])]
    }

    @Test func membersComeInTheOrderTheyAreEncoded() throws {
        let text = try JSONValueEncoder.encode(Sample()).jsonText
        #expect(text == #"{"id":"x","object":"chat.completion","created":1700000000,"small":-3,"big":18446744073709551615,"ratio":0.1,"exact":2.5,"flag":true,"inner":{"z":1,"a":[1,-2]},"schema":{"properties":{"b":{},"a":{}},"type":"object"},"list":[null,{"z":2,"a":[]}]}"#)
        // Foundation reads it back to the same values.
        let back = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(back["big"] as? UInt64 == UInt64.max && back["ratio"] as? Double == 0.1)
    }

    @Test func customEncodingsAndNonFiniteNumbers() throws {
        struct Custom: Encodable {
            func encode(to encoder: any Encoder) throws {
                var c = encoder.container(keyedBy: Key.self)
                try c.encodeNil(forKey: .b)
                var nested = c.nestedUnkeyedContainer(forKey: .a)
                try nested.encode("s")
                try nested.encodeNil()
            }
            enum Key: String, CodingKey { case b, a }
        }
        #expect(try JSONValueEncoder.encode(Custom()).jsonText == #"{"b":null,"a":["s",null]}"#)
        #expect(try JSONValueEncoder.encode([String]()).jsonText == "[]")
        #expect(try JSONValueEncoder.encode("plain").jsonText == #""plain""#)
        #expect(throws: EncodingError.self) { try JSONValueEncoder.encode([Double.nan]) }
        #expect(throws: EncodingError.self) { try JSONValueEncoder.encode(["x": Float.infinity]) }
    }
}
