// The units tool: exact factors in every dimension, affine temperatures, the spellings models use,
// and errors that say what went wrong.
import Foundation
import MuseAgents
import Testing
@testable import MuseTools

@Suite struct UnitsToolTests {
    let tool = UnitsTool()

    @Test(arguments: [
        // length
        (5, "mi", "km", "5 mi = 8.04672 km"),
        (1, "nmi", "m", "1 nmi = 1852 m"),
        (12, "in", "cm", "12 in = 30.48 cm"),
        (3, "feet", "yards", "3 ft = 1 yd"),
        (100, "m", "ft", "100 m = 328.0839895 ft"),
        (2_500, "mm", "km", "2500 mm = 0.0025 km"),
        // mass
        (1, "lb", "g", "1 lb = 453.59237 g"),
        (16, "oz", "lb", "16 oz = 1 lb"),
        (2.5, "t", "kg", "2.5 t = 2500 kg"),
        (500, "mg", "g", "500 mg = 0.5 g"),
        // time
        (90, "min", "h", "90 min = 1.5 h"),
        (2, "weeks", "days", "2 wk = 14 d"),
        (1, "day", "s", "1 d = 86400 s"),
        // volume (US customary)
        (1, "gal", "l", "1 gal = 3.785411784 l"),
        (1, "gallon", "qt", "1 gal = 4 qt"),
        (1, "qt", "pints", "1 qt = 2 pt"),
        (1, "cup", "fl_oz", "1 cup = 8 fl oz"),
        (1, "m3", "l", "1 m³ = 1000 l"),
        (750, "ml", "l", "750 ml = 0.75 l"),
        // speed
        (100, "km/h", "m/s", "100 km/h = 27.77777778 m/s"),
        (60, "mph", "km/h", "60 mph = 96.56064 km/h"),
        (1, "kn", "km/h", "1 kn = 1.852 km/h"),
        // area
        (1, "ha", "m2", "1 ha = 10000 m²"),
        (1, "acre", "ft2", "1 acre = 43560 ft²"),
        (1, "km2", "hectares", "1 km² = 100 ha"),
        // data
        (1, "GiB", "MB", "1 GiB = 1073.741824 MB"),
        (1_536, "KiB", "MiB", "1536 KiB = 1.5 MiB"),
        (2, "GB", "bytes", "2 GB = 2000000000 B"),
        (1, "TiB", "B", "1 TiB = 1099511628000 B"),
        (1, "TB", "GiB", "1 TB = 931.3225746 GiB"),
        // temperature
        (100, "C", "F", "100 °C = 212 °F"),
        (-40, "°F", "celsius", "-40 °F = -40 °C"),
        (0, "K", "C", "0 K = -273.15 °C"),
        (98.6, "fahrenheit", "kelvin", "98.6 °F = 310.15 K"),
        (20, "degrees C", "° F", "20 °C = 68 °F"),
    ] as [(Double, String, String, String)])
    func conversions(_ value: Double, _ from: String, _ to: String, _ expected: String) async throws {
        #expect(try await tool.call(arguments: #"{"value": \#(value), "from": "\#(from)", "to": "\#(to)"}"#) == expected)
    }

    @Test(arguments: [
        ("Meters", "m"), ("MILES", "mi"), ("kilometres", "km"), ("Celsius", "°C"), ("°F", "°F"), ("lbs", "lb"),
        ("inches", "in"), ("NM", "nmi"), ("kB", "KB"), ("Kilograms", "kg"), ("square feet", "ft²"), ("KPH", "km/h"),
        ("  fluid   ounces ", "fl oz"), ("k", "K"), ("hrs", "h"),
    ])
    func aliases(_ name: String, _ symbol: String) throws {
        #expect(try UnitsTool.unit(named: name).symbol == symbol)
    }

    @Test func valueMayBeANumericString() async throws {
        #expect(try await tool.call(arguments: #"{"value": "1.5", "from": "h", "to": "min"}"#) == "1.5 h = 90 min")
    }

    @Test(arguments: [
        (#"{"value": 1, "from": "kg", "to": "km"}"#, "cannot convert kg (mass) to km (length)"),
        (#"{"value": 1, "from": "°C", "to": "m/s"}"#, "cannot convert °C (temperature) to m/s (speed)"),
        (#"{"value": 1, "from": "furlong", "to": "m"}"#, #"unknown unit "furlong"; known units are length: m, km"#),
        (#"{"value": 1, "from": "m", "to": "b"}"#, #"unknown unit "b""#),
        (#"{"value": 1, "from": "gib", "to": "B"}"#, "e.g. GiB"),
        (#"{"value": 1, "from": "nm", "to": "m"}"#, #"unknown unit "nm""#),
        (#"{"value": 1, "from": "Mb", "to": "KB"}"#, #""Mb" is ambiguous (bits or bytes?); write bytes with a capital B, e.g. MB"#),
        (#"{"value": -300, "from": "C", "to": "K"}"#, "-300 °C is below absolute zero"),
        (#"{"value": "lots", "from": "m", "to": "km"}"#, #""value" must be a number"#),
        (#"{"from": "m", "to": "km"}"#, #""value" must be a number"#),
        (#"{"value": 1, "from": "m"}"#, #""to" must be a unit name"#),
        ("5 mi in km", "expected a JSON object"),
    ])
    func clearErrors(_ arguments: String, _ message: String) async {
        let error = await #expect(throws: ToolError.self) { try await tool.call(arguments: arguments) }
        #expect(error?.description.contains(message) == true, "\(error?.description ?? "no error")")
    }

    @Test(arguments: [
        (0, "0"), (-0.0, "0"), (0.1 + 0.2, "0.3"), (1.0 / 3, "0.3333333333"), (2.0 / 3 * 1e6, "666666.6667"),
        (123_456_789_012, "123456789000"), (1.5e-9, "1.5e-09"), (-2.5e20, "-2.5e+20"), (0.000_012_5, "0.0000125"),
        (9.999_999_999_9, "10"),
    ] as [(Double, String)])
    func numberFormatting(_ value: Double, _ expected: String) {
        #expect(UnitsTool.format(value) == expected)
    }

    @Test func everyUnitConvertsToItselfAndBack() throws {
        for unit in UnitsTool.units {
            let there = try UnitsTool.unit(named: unit.symbol)
            #expect(there.symbol == unit.symbol)
            #expect(abs(unit.fromBase(unit.toBase(42.5)) - 42.5) < 1e-9, "\(unit.symbol)")
        }
    }

    @Test func schemaIsAJSONSchemaObject() throws {
        let schema = try #require(try JSONSerialization.jsonObject(with: Data(tool.parametersSchema.utf8)) as? [String: Any])
        #expect(schema["type"] as? String == "object")
        let properties = try #require(schema["properties"] as? [String: [String: Any]])
        #expect(properties["value"]?["type"] as? String == "number")
        #expect(Set(schema["required"] as? [String] ?? []) == ["value", "from", "to"])
        #expect(tool.name == "units")
    }
}
