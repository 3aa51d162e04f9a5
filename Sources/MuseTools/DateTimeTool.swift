// The date-time tool: the current time, time-zone conversion and calendar arithmetic, which models
// get wrong on their own (they do not know today's date, and guess at offsets and month lengths).
import Foundation
import MuseAgents
import MuseCore

public struct DateTimeTool: Tool {
    public let name = "datetime"
    public let description = """
        Dates and times: the current time in a time zone (now), an instant in another time zone (convert), \
        calendar arithmetic such as adding months or days (add), and the time between two instants (difference).
        """
    public let parametersSchema = """
        {"type": "object", "properties": {\
        "operation": {"type": "string", "enum": ["now", "convert", "add", "difference"], "description": "What to compute"}, \
        "time_zone": {"type": "string", "description": "IANA time zone, e.g. Europe/Paris: the zone for now, and for add the zone the calendar arithmetic and result use. Date-times written without an offset are read in it. Default UTC"}, \
        "datetime": {"type": "string", "description": "ISO 8601 date-time for convert and add, e.g. 2024-03-10T14:30:00-05:00"}, \
        "to_time_zone": {"type": "string", "description": "IANA time zone to convert to, for convert"}, \
        "years": {"type": "integer"}, "months": {"type": "integer"}, "weeks": {"type": "integer"}, \
        "days": {"type": "integer"}, "hours": {"type": "integer"}, "minutes": {"type": "integer"}, \
        "from": {"type": "string", "description": "ISO 8601 start, for difference"}, \
        "to": {"type": "string", "description": "ISO 8601 end, for difference"}}, \
        "required": ["operation"]}
        """

    /// The clock, injected so that "now" is deterministic under test.
    let now: @Sendable () -> Date

    public init(now: @escaping @Sendable () -> Date = Date.init) {
        self.now = now
    }

    public func call(arguments: String) async throws -> String {
        try run(DateTimeArguments(arguments))
    }

    func run(_ args: DateTimeArguments) throws(ToolError) -> String {
        let operation = try args.string("operation")
        switch operation {
        case "now":
            return Self.describe(now(), in: try args.zone("time_zone") ?? .utc)
        case "convert":
            let date = try args.date("datetime", defaultZone: try args.zone("time_zone") ?? .utc)
            guard let target = try args.zone("to_time_zone") else { throw .badArguments(#""to_time_zone" is required for convert"#) }
            return Self.describe(date, in: target)
        case "add":
            return try add(args)
        case "difference":
            let zone = try args.zone("time_zone") ?? .utc
            return Self.difference(from: try args.date("from", defaultZone: zone), to: try args.date("to", defaultZone: zone))
        default:
            throw .badArguments("unknown operation \"\(operation)\"; use one of now, convert, add, difference")
        }
    }

    private func add(_ args: DateTimeArguments) throws(ToolError) -> String {
        let text = try args.string("datetime")
        guard let parsed = ISO8601Text.parse(text, defaultZone: try args.zone("time_zone") ?? .utc) else { throw args.notADate("datetime", text) }
        // Calendar arithmetic runs in the named zone when there is one, so that "1 day" keeps the
        // wall-clock time across a DST change; otherwise in the offset the date-time was written with.
        let zone = try args.zone("time_zone") ?? parsed.zone
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let units = ["years", "months", "weeks", "days", "hours", "minutes"]
        var amount: [String: Int] = [:]
        for unit in units { amount[unit] = try args.integer(unit) }
        guard !amount.isEmpty else { throw .badArguments("give at least one of \(units.joined(separator: ", "))") }
        let (years, months, weeks, days) = (amount["years"] ?? 0, amount["months"] ?? 0, amount["weeks"] ?? 0, amount["days"] ?? 0)
        let (hours, minutes) = (amount["hours"] ?? 0, amount["minutes"] ?? 0)
        // Largest units first: years and months together clamp to the month's end (Jan 31 + 1
        // month = Feb 28 or 29), days follow the calendar, hours and minutes are elapsed time.
        var date = parsed.date
        if years != 0 || months != 0 {
            guard let moved = calendar.date(byAdding: DateComponents(year: years, month: months), to: date) else { throw .failed("the date is out of range") }
            date = moved
        }
        if weeks != 0 || days != 0 {
            guard let moved = calendar.date(byAdding: .day, value: weeks * 7 + days, to: date) else { throw .failed("the date is out of range") }
            date = moved
        }
        date += TimeInterval(hours) * 3_600 + TimeInterval(minutes) * 60
        return Self.describe(date, in: zone)
    }

    // MARK: Output

    static let weekdays = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]

    /// "2024-03-10T03:30:00-04:00 Sunday (America/New_York, daylight saving time)".
    static func describe(_ date: Date, in zone: TimeZone) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second, .weekday], from: date)
        let offset = zone.secondsFromGMT(for: date)
        let iso = String(format: "%04d-%02d-%02dT%02d:%02d:%02d", c.year ?? 0, c.month ?? 0, c.day ?? 0,
                         c.hour ?? 0, c.minute ?? 0, c.second ?? 0)
            + (offset < 0 ? "-" : "+") + String(format: "%02d:%02d", abs(offset) / 3_600, abs(offset) % 3_600 / 60)
        let weekday = weekdays[((c.weekday ?? 1) - 1) % 7]
        let dst = zone.isDaylightSavingTime(for: date) ? ", daylight saving time" : ""
        return "\(iso) \(weekday) (\(displayName(zone))\(dst))"
    }

    /// Foundation names UTC and fixed offsets "GMT", "GMT-0500"; "UTC" is what people ask for.
    static func displayName(_ zone: TimeZone) -> String {
        let id = zone.identifier
        guard id == "GMT" || id.hasPrefix("GMT+") || id.hasPrefix("GMT-") else { return id }
        return "UTC" + id.dropFirst(3)
    }

    /// "60 days, 12 hours, 0 minutes (87120 minutes in all)"; seconds are dropped.
    static func difference(from start: Date, to end: Date) -> String {
        let minutes = Int((end.timeIntervalSince(start) / 60).rounded(.towardZero))
        let m = abs(minutes)
        let parts = "\(m / 1_440) day\(m / 1_440 == 1 ? "" : "s"), \(m % 1_440 / 60) hour\(m % 1_440 / 60 == 1 ? "" : "s"), \(m % 60) minute\(m % 60 == 1 ? "" : "s")"
        if minutes < 0 { return "minus \(parts) (\"to\" is before \"from\"; \(minutes) minutes in all)" }
        return "\(parts) (\(minutes) minutes in all)"
    }
}

/// The tool's arguments object, read with errors that name the field at fault.
struct DateTimeArguments {
    let args: ToolArguments

    init(_ text: String) throws(ToolError) {
        args = try ToolArguments(text, example: #"{"operation": "now", "time_zone": "Europe/Paris"}"#)
    }

    func string(_ key: String) throws(ToolError) -> String { try args.string(key) }

    /// The named IANA zone, or nil when the field is absent.
    func zone(_ key: String) throws(ToolError) -> TimeZone? {
        guard args[key] != nil else { return nil }
        let identifier = try string(key).trimmingCharacters(in: .whitespaces)
        guard let zone = TimeZone(identifier: identifier) else {
            throw .badArguments("unknown time zone \"\(identifier)\" in \"\(key)\"; use an IANA name like America/New_York, Europe/Paris or UTC")
        }
        return zone
    }

    func date(_ key: String, defaultZone: TimeZone) throws(ToolError) -> Date {
        let text = try string(key)
        guard let parsed = ISO8601Text.parse(text, defaultZone: defaultZone) else { throw notADate(key, text) }
        return parsed.date
    }

    func notADate(_ key: String, _ text: String) -> ToolError {
        .badArguments("\"\(key)\" is not an ISO 8601 date-time: \"\(text)\"; write it like 2024-03-10T14:30:00-05:00, 2024-03-10T14:30:00Z or 2024-03-10")
    }

    /// A whole number of at most a million either way, or nil when the field is absent.
    func integer(_ key: String) throws(ToolError) -> Int? {
        try args.integer(key, in: -1_000_000...1_000_000)
    }
}

/// ISO 8601 date-times as models write them: a date, an optional time (seconds and fractions
/// optional, "T" or a space between), and an optional offset ("Z", "+05:30", "+0530", "-05").
enum ISO8601Text {
    struct Parsed {
        let date: Date
        /// The written offset as a fixed zone, or the default zone when none was written.
        let zone: TimeZone
    }

    static func parse(_ text: String, defaultZone: TimeZone) -> Parsed? {
        let pattern = /(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*([Zz]|[+-]\d{2}(?::?\d{2})?)?/
        guard let m = try? pattern.wholeMatch(in: text.trimmingCharacters(in: .whitespaces)) else { return nil }
        var zone = defaultZone
        if let offset = m.8 {
            if offset == "Z" || offset == "z" {
                zone = .utc
            } else {
                let digits = offset.dropFirst().filter(\.isNumber)
                guard let hours = Int(digits.prefix(2)), let minutes = Int(digits.dropFirst(2)) ?? Optional(0),
                      hours <= 18, minutes < 60 else { return nil }
                let seconds = (hours * 3_600 + minutes * 60) * (offset.first == "-" ? -1 : 1)
                guard let fixed = TimeZone(secondsFromGMT: seconds) else { return nil }
                zone = fixed
            }
        }
        let fields = [m.1, m.2, m.3].map { Int($0) ?? 0 } + [m.4, m.5, m.6].map { $0.flatMap { Int($0) } ?? 0 }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let components = DateComponents(year: fields[0], month: fields[1], day: fields[2],
                                        hour: fields[3], minute: fields[4], second: fields[5])
        // The calendar rolls impossible dates over (Feb 30 to Mar 1); checking the day and the
        // ranges rejects them instead. A wall time skipped by DST moves forward, as clocks do.
        guard (1...12).contains(fields[1]), fields[3] < 24, fields[4] < 60, fields[5] < 61,
              let date = calendar.date(from: components),
              calendar.component(.day, from: date) == fields[2] else { return nil }
        let fraction = m.7.flatMap { Double("0.\($0)") } ?? 0
        return Parsed(date: date + fraction, zone: zone)
    }
}

extension TimeZone {
    fileprivate static let utc = TimeZone(identifier: "UTC") ?? .gmt
}
