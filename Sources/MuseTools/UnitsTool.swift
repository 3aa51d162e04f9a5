// The units tool: converts a quantity between units of the same dimension with exact factors
// (international yard and pound, US customary volumes, SI and binary data prefixes).
import Foundation
import MuseAgents
import MuseCore

public struct UnitsTool: Tool {
    public let name = "units"
    public let description = """
        Converts a value between units of length, mass, time, volume (US customary), speed, area, \
        data size and temperature, e.g. 5 mi to km, 350 °F to °C, 2 GiB to MB.
        """
    public let parametersSchema = """
        {"type": "object", "properties": {\
        "value": {"type": "number", "description": "The quantity to convert"}, \
        "from": {"type": "string", "description": "The unit of value, e.g. mi, kg, °F, GiB, km/h"}, \
        "to": {"type": "string", "description": "The unit to convert to"}}, \
        "required": ["value", "from", "to"]}
        """

    public init() {}

    public func call(arguments: String) async throws -> String {
        let args = try ToolArguments(arguments, example: #"{"value": 5, "from": "mi", "to": "km"}"#)
        let value = try args.number("value")
        guard case .string(let from)? = args["from"] else { throw ToolError.badArguments(#""from" must be a unit name"#) }
        guard case .string(let to)? = args["to"] else { throw ToolError.badArguments(#""to" must be a unit name"#) }
        return try convert(value, from: from, to: to)
    }

    /// "5 mi = 8.04672 km".
    public func convert(_ value: Double, from: String, to: String) throws(ToolError) -> String {
        guard value.isFinite else { throw .badArguments("the value must be a finite number") }
        let source = try Self.unit(named: from)
        let target = try Self.unit(named: to)
        guard source.dimension == target.dimension else {
            throw .badArguments("cannot convert \(source.symbol) (\(source.dimension.rawValue)) to \(target.symbol) (\(target.dimension.rawValue))")
        }
        let base = source.toBase(value)
        if source.dimension == .temperature, base < 0 { throw .badArguments("\(Self.format(value)) \(source.symbol) is below absolute zero") }
        return "\(Self.format(value)) \(source.symbol) = \(Self.format(target.fromBase(base))) \(target.symbol)"
    }

    // MARK: Units

    enum Dimension: String, Sendable, CaseIterable {
        case length, mass, time, volume, speed, area, data, temperature
    }

    /// A unit as an affine map to its dimension's base unit: base = (value + offset) × factor.
    /// Only temperatures have an offset.
    struct Unit: Sendable {
        let symbol: String
        let dimension: Dimension
        let factor: Double
        var offset = 0.0
        /// Other spellings, matched in any case.
        let aliases: [String]
        /// Spellings matched only as written, because another case means another unit
        /// ("NM" but not "nm", a nanometre; "B" but not "b", a bit).
        var exact: [String] = []

        func toBase(_ value: Double) -> Double { (value + offset) * factor }
        func fromBase(_ base: Double) -> Double { base / factor - offset }
    }

    /// Singular and plural of each name, in both spellings where they differ ("meter", "metres").
    private static func names(_ words: String...) -> [String] { words.flatMap { [$0, $0 + "s"] } }

    // Bases: m, kg, s, l, m/s, m², B, K. Exact definitions: yard 0.9144 m, pound 0.45359237 kg,
    // US gallon 231 in³ = 3.785411784 l, nautical mile 1852 m, knot 1852 m/h.
    static let units: [Unit] = [
        Unit(symbol: "m", dimension: .length, factor: 1, aliases: names("meter", "metre")),
        Unit(symbol: "km", dimension: .length, factor: 1_000, aliases: names("kilometer", "kilometre")),
        Unit(symbol: "cm", dimension: .length, factor: 0.01, aliases: names("centimeter", "centimetre")),
        Unit(symbol: "mm", dimension: .length, factor: 0.001, aliases: names("millimeter", "millimetre")),
        Unit(symbol: "mi", dimension: .length, factor: 1_609.344, aliases: names("mile")),
        Unit(symbol: "yd", dimension: .length, factor: 0.9144, aliases: names("yard") + ["yds"]),
        Unit(symbol: "ft", dimension: .length, factor: 0.3048, aliases: ["foot", "feet", "'"]),
        Unit(symbol: "in", dimension: .length, factor: 0.0254, aliases: ["inch", "inches", "\""]),
        Unit(symbol: "nmi", dimension: .length, factor: 1_852, aliases: names("nautical mile"), exact: ["NM"]),

        Unit(symbol: "kg", dimension: .mass, factor: 1, aliases: names("kilogram", "kilo") + ["kgs"]),
        Unit(symbol: "g", dimension: .mass, factor: 0.001, aliases: names("gram", "gramme")),
        Unit(symbol: "mg", dimension: .mass, factor: 1e-6, aliases: names("milligram")),
        Unit(symbol: "lb", dimension: .mass, factor: 0.45359237, aliases: names("pound") + ["lbs"]),
        Unit(symbol: "oz", dimension: .mass, factor: 0.028349523125, aliases: names("ounce")),
        Unit(symbol: "t", dimension: .mass, factor: 1_000, aliases: names("tonne", "metric ton")),

        Unit(symbol: "s", dimension: .time, factor: 1, aliases: names("second", "sec")),
        Unit(symbol: "min", dimension: .time, factor: 60, aliases: names("minute", "min")),
        Unit(symbol: "h", dimension: .time, factor: 3_600, aliases: names("hour", "hr")),
        Unit(symbol: "d", dimension: .time, factor: 86_400, aliases: names("day")),
        Unit(symbol: "wk", dimension: .time, factor: 604_800, aliases: names("week") + ["wks"]),

        Unit(symbol: "l", dimension: .volume, factor: 1, aliases: names("liter", "litre")),
        Unit(symbol: "ml", dimension: .volume, factor: 0.001, aliases: names("milliliter", "millilitre")),
        Unit(symbol: "gal", dimension: .volume, factor: 3.785411784, aliases: names("gallon", "us gallon") + ["us gal"]),
        Unit(symbol: "qt", dimension: .volume, factor: 0.946352946, aliases: names("quart")),
        Unit(symbol: "pt", dimension: .volume, factor: 0.473176473, aliases: names("pint")),
        Unit(symbol: "cup", dimension: .volume, factor: 0.2365882365, aliases: names("cup")),
        Unit(symbol: "fl oz", dimension: .volume, factor: 0.0295735295625, aliases: names("fluid ounce") + ["fl_oz", "floz"]),
        Unit(symbol: "m³", dimension: .volume, factor: 1_000, aliases: names("cubic meter", "cubic metre") + ["m3", "m^3"]),

        Unit(symbol: "m/s", dimension: .speed, factor: 1, aliases: ["mps", "meters per second", "metres per second"]),
        Unit(symbol: "km/h", dimension: .speed, factor: 1 / 3.6, aliases: ["kmh", "kph", "kmph", "kilometers per hour", "kilometres per hour"]),
        Unit(symbol: "mph", dimension: .speed, factor: 0.44704, aliases: ["mi/h", "miles per hour"]),
        Unit(symbol: "kn", dimension: .speed, factor: 1_852.0 / 3_600, aliases: names("knot") + ["kts"]),

        Unit(symbol: "m²", dimension: .area, factor: 1, aliases: names("square meter", "square metre") + ["m2", "m^2", "sq m"]),
        Unit(symbol: "km²", dimension: .area, factor: 1e6, aliases: names("square kilometer", "square kilometre") + ["km2", "km^2", "sq km"]),
        Unit(symbol: "ha", dimension: .area, factor: 1e4, aliases: names("hectare")),
        Unit(symbol: "acre", dimension: .area, factor: 4_046.8564224, aliases: names("acre") + ["ac"]),
        Unit(symbol: "ft²", dimension: .area, factor: 0.09290304, aliases: ["ft2", "ft^2", "sq ft", "square foot", "square feet"]),

        // A lone "b" is left out: it usually means a bit, and bits are not supported.
        Unit(symbol: "B", dimension: .data, factor: 1, aliases: names("byte"), exact: ["B"]),
        Unit(symbol: "KB", dimension: .data, factor: 1e3, aliases: names("kilobyte"), exact: ["kB"]),
        Unit(symbol: "MB", dimension: .data, factor: 1e6, aliases: names("megabyte")),
        Unit(symbol: "GB", dimension: .data, factor: 1e9, aliases: names("gigabyte")),
        Unit(symbol: "TB", dimension: .data, factor: 1e12, aliases: names("terabyte")),
        Unit(symbol: "KiB", dimension: .data, factor: 1_024, aliases: names("kibibyte")),
        Unit(symbol: "MiB", dimension: .data, factor: 1_048_576, aliases: names("mebibyte")),
        Unit(symbol: "GiB", dimension: .data, factor: 1_073_741_824, aliases: names("gibibyte")),
        Unit(symbol: "TiB", dimension: .data, factor: 1_099_511_627_776, aliases: names("tebibyte")),

        // K = (°F + 459.67) × 5/9 and K = °C + 273.15.
        Unit(symbol: "°C", dimension: .temperature, factor: 1, offset: 273.15,
             aliases: ["c", "celsius", "centigrade", "degc", "degrees celsius", "deg c"]),
        Unit(symbol: "°F", dimension: .temperature, factor: 5.0 / 9, offset: 459.67,
             aliases: ["f", "fahrenheit", "degf", "degrees fahrenheit", "deg f"]),
        Unit(symbol: "K", dimension: .temperature, factor: 1, aliases: names("kelvin")),
    ]

    /// Every symbol and alias that may match in any case, lower-cased, with single spaces.
    static let byName: [String: Unit] = {
        var table: [String: Unit] = [:]
        for unit in units {
            for name in [unit.symbol] + unit.aliases where !unit.exact.contains(name) { table[normalized(name)] = unit }
        }
        return table
    }()

    private static func normalized(_ name: String) -> String {
        name.lowercased().split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }

    static func unit(named name: String) throws(ToolError) -> Unit {
        let written = name.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        if let unit = units.first(where: { $0.symbol == written || $0.aliases.contains(written) || $0.exact.contains(written) }) {
            return unit
        }
        // "Mb" or "gb" with a lower-case b may mean bits; guessing would be off by a factor of 8.
        if written.wholeMatch(of: /[kKmMgGtT]i?b/) != nil {
            let suggestion = written.prefix(1).uppercased() + written.dropFirst().dropLast() + "B"
            throw .badArguments("\"\(name)\" is ambiguous (bits or bytes?); write bytes with a capital B, e.g. \(suggestion)")
        }
        var key = normalized(name)
        if let unit = byName[key] { return unit }
        // "°F", "º C", "degrees F": the degree sign adds nothing once the letter is known.
        key = key.replacingOccurrences(of: "degrees ", with: "").replacingOccurrences(of: "°", with: "")
            .replacingOccurrences(of: "º", with: "").trimmingCharacters(in: .whitespaces)
        if let unit = byName[key], unit.dimension == .temperature { return unit }
        let known = Dimension.allCases.map { dimension in
            "\(dimension.rawValue): " + units.filter { $0.dimension == dimension }.map(\.symbol).joined(separator: ", ")
        }
        throw .badArguments("unknown unit \"\(name)\"; known units are \(known.joined(separator: "; "))")
    }

    /// Up to 10 significant digits without trailing zeros; scientific notation only for very large
    /// or very small magnitudes, where plain digits would mislead about precision.
    static func format(_ value: Double) -> String {
        guard value != 0 else { return "0" }
        let exponent = Int(log10(abs(value)).rounded(.down))
        if exponent < -6 || exponent >= 16 {
            let text = String(format: "%.9e", value)
            guard let e = text.firstIndex(of: "e") else { return text }
            return trimZeros(String(text[..<e])) + String(text[e...])
        }
        if exponent >= 10 {
            // Digits beyond the tenth significant one are rounded away, as for small numbers.
            let scale = pow(10, Double(exponent - 9))
            return String(format: "%.0f", (value / scale).rounded() * scale)
        }
        return trimZeros(String(format: "%.\(9 - exponent)f", value))
    }

    private static func trimZeros(_ text: String) -> String {
        guard text.contains(".") else { return text }
        var trimmed = text
        while trimmed.hasSuffix("0") { trimmed.removeLast() }
        if trimmed.hasSuffix(".") { trimmed.removeLast() }
        return trimmed == "-0" ? "0" : trimmed
    }
}
