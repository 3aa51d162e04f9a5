// The date-time tool on a fixed clock: offsets and weekdays across DST changes, calendar
// arithmetic at month ends, differences, and errors a model can act on.
import Foundation
import MuseAgents
import Testing
@testable import MuseTools

@Suite struct DateTimeToolTests {
    /// 2024-03-10T07:00:00Z: two hours after New York moved its clocks forward.
    let tool = DateTimeTool(now: { Date(timeIntervalSince1970: 1_710_054_000) })

    func run(_ arguments: String) async throws -> String {
        try await tool.call(arguments: arguments)
    }

    func error(_ arguments: String) async -> String? {
        await #expect(throws: ToolError.self) { try await tool.call(arguments: arguments) }?.description
    }

    @Test func nowUsesTheInjectedClock() async throws {
        #expect(try await run(#"{"operation": "now"}"#) == "2024-03-10T07:00:00+00:00 Sunday (UTC)")
        #expect(try await run(#"{"operation": "now", "time_zone": "America/New_York"}"#)
                == "2024-03-10T03:00:00-04:00 Sunday (America/New_York, daylight saving time)")
        #expect(try await run(#"{"operation": "now", "time_zone": "Asia/Kolkata"}"#)
                == "2024-03-10T12:30:00+05:30 Sunday (Asia/Kolkata)")
    }

    @Test(arguments: [
        // New York springs forward at 02:00 local on 2024-03-10 and falls back at 02:00 on 2024-11-03.
        ("2024-03-10T06:30:00Z", "2024-03-10T01:30:00-05:00 Sunday (America/New_York)"),
        ("2024-03-10T07:30:00Z", "2024-03-10T03:30:00-04:00 Sunday (America/New_York, daylight saving time)"),
        ("2024-11-03T05:30:00Z", "2024-11-03T01:30:00-04:00 Sunday (America/New_York, daylight saving time)"),
        ("2024-11-03T06:30:00Z", "2024-11-03T01:30:00-05:00 Sunday (America/New_York)"),
        ("2024-07-04T12:00:00+02:00", "2024-07-04T06:00:00-04:00 Thursday (America/New_York, daylight saving time)"),
    ])
    func convertAcrossDSTChanges(_ input: String, _ expected: String) async throws {
        #expect(try await run(#"{"operation": "convert", "datetime": "\#(input)", "to_time_zone": "America/New_York"}"#) == expected)
    }

    @Test(arguments: [
        ("2024-07-01T12:00:00+02:00", "2024-07-01T10:00:00+00:00 Monday (UTC)"),
        ("2024-07-01 12:00", "2024-07-01T12:00:00+00:00 Monday (UTC)"),
        ("2024-07-01T12:00:00.75z", "2024-07-01T12:00:00+00:00 Monday (UTC)"),
        ("2024-07-01T12:00+0530", "2024-07-01T06:30:00+00:00 Monday (UTC)"),
        ("2024-07-01T12:00:00-03", "2024-07-01T15:00:00+00:00 Monday (UTC)"),
        ("2024-07-01", "2024-07-01T00:00:00+00:00 Monday (UTC)"),
    ])
    func iso8601Spellings(_ input: String, _ expected: String) async throws {
        #expect(try await run(#"{"operation": "convert", "datetime": "\#(input)", "to_time_zone": "UTC"}"#) == expected)
    }

    @Test func dateTimeWithoutOffsetIsReadInTheGivenZone() async throws {
        // Noon in New York on the day DST starts is 16:00 UTC; London is still on GMT.
        let result = try await run(#"{"operation": "convert", "datetime": "2024-03-10T12:00", "time_zone": "America/New_York", "to_time_zone": "Europe/London"}"#)
        #expect(result == "2024-03-10T16:00:00+00:00 Sunday (Europe/London)")
    }

    @Test(arguments: [
        ("2024-01-31", #""months": 1"#, "2024-02-29T00:00:00+00:00 Thursday (UTC)"),
        ("2023-01-31", #""months": 1"#, "2023-02-28T00:00:00+00:00 Tuesday (UTC)"),
        ("2024-03-31", #""months": -1"#, "2024-02-29T00:00:00+00:00 Thursday (UTC)"),
        ("2024-02-29", #""years": 1"#, "2025-02-28T00:00:00+00:00 Friday (UTC)"),
        ("2024-01-31T10:00:00Z", #""years": 1, "months": 1, "days": 1"#, "2025-03-01T10:00:00+00:00 Saturday (UTC)"),
        ("2024-12-30T23:30:00Z", #""weeks": 1, "minutes": 45"#, "2025-01-07T00:15:00+00:00 Tuesday (UTC)"),
        ("2024-03-01T00:00:00Z", #""days": -1, "hours": -2"#, "2024-02-28T22:00:00+00:00 Wednesday (UTC)"),
    ])
    func addUsesTheCalendar(_ start: String, _ amounts: String, _ expected: String) async throws {
        #expect(try await run(#"{"operation": "add", "datetime": "\#(start)", \#(amounts)}"#) == expected)
    }

    @Test func addingADayKeepsTheWallClockAcrossDSTButHoursAreElapsed() async throws {
        let day = try await run(#"{"operation": "add", "datetime": "2024-03-09T12:00:00", "time_zone": "America/New_York", "days": 1}"#)
        #expect(day == "2024-03-10T12:00:00-04:00 Sunday (America/New_York, daylight saving time)")
        let hours = try await run(#"{"operation": "add", "datetime": "2024-03-09T12:00:00", "time_zone": "America/New_York", "hours": 24}"#)
        #expect(hours == "2024-03-10T13:00:00-04:00 Sunday (America/New_York, daylight saving time)")
    }

    @Test func addKeepsTheWrittenOffsetWithoutAZone() async throws {
        let result = try await run(#"{"operation": "add", "datetime": "2024-01-15T10:00:00-05:00", "hours": -3}"#)
        #expect(result == "2024-01-15T07:00:00-05:00 Monday (UTC-0500)")
    }

    @Test func difference() async throws {
        #expect(try await run(#"{"operation": "difference", "from": "2024-01-01T00:00:00Z", "to": "2024-03-01T12:30:00Z"}"#)
                == "60 days, 12 hours, 30 minutes (87150 minutes in all)")
        #expect(try await run(#"{"operation": "difference", "from": "2024-03-01T12:30:00Z", "to": "2024-01-01T00:00:00Z"}"#)
                == #"minus 60 days, 12 hours, 30 minutes ("to" is before "from"; -87150 minutes in all)"#)
        // The night New York springs forward is an hour short.
        #expect(try await run(#"{"operation": "difference", "from": "2024-03-09T12:00:00-05:00", "to": "2024-03-10T12:00:00-04:00"}"#)
                == "0 days, 23 hours, 0 minutes (1380 minutes in all)")
        #expect(try await run(#"{"operation": "difference", "from": "2024-03-09T12:00", "to": "2024-03-10T13:01:59", "time_zone": "America/New_York"}"#)
                == "1 day, 0 hours, 1 minute (1441 minutes in all)")
    }

    @Test(arguments: [
        (#"{"operation": "now", "time_zone": "Mars/Olympus_Mons"}"#, #"unknown time zone "Mars/Olympus_Mons""#),
        (#"{"operation": "convert", "datetime": "2024-03-10T12:00:00Z", "to_time_zone": "Nowhere"}"#, #"unknown time zone "Nowhere""#),
        (#"{"operation": "convert", "datetime": "2024-03-10T12:00:00Z"}"#, #""to_time_zone" is required"#),
        (#"{"operation": "convert", "datetime": "2024-02-30", "to_time_zone": "UTC"}"#, #""datetime" is not an ISO 8601 date-time: "2024-02-30""#),
        (#"{"operation": "convert", "datetime": "next Tuesday", "to_time_zone": "UTC"}"#, "is not an ISO 8601 date-time"),
        (#"{"operation": "convert", "datetime": "2024-03-10T25:00:00Z", "to_time_zone": "UTC"}"#, "is not an ISO 8601 date-time"),
        (#"{"operation": "add", "datetime": "2024-03-10"}"#, "give at least one of years, months, weeks, days, hours, minutes"),
        (#"{"operation": "add", "datetime": "2024-03-10", "days": 1.5}"#, #""days" must be a whole number"#),
        (#"{"operation": "add", "datetime": "2024-03-10", "days": "2"}"#, #""days" must be a whole number"#),
        (#"{"operation": "difference", "from": "2024-03-10"}"#, #""to" is required"#),
        (#"{"operation": "tomorrow"}"#, #"unknown operation "tomorrow"; use one of now, convert, add, difference"#),
        (#"{"time_zone": "UTC"}"#, #""operation" is required"#),
        ("now please", "expected a JSON object"),
    ])
    func clearErrors(_ arguments: String, _ message: String) async {
        let description = await error(arguments)
        #expect(description?.contains(message) == true, "\(description ?? "no error")")
    }

    @Test func schemaIsAJSONSchemaObject() throws {
        let schema = try #require(try JSONSerialization.jsonObject(with: Data(tool.parametersSchema.utf8)) as? [String: Any])
        #expect(schema["type"] as? String == "object")
        let properties = try #require(schema["properties"] as? [String: [String: Any]])
        #expect(properties["operation"]?["enum"] as? [String] == ["now", "convert", "add", "difference"])
        #expect(schema["required"] as? [String] == ["operation"])
        for key in ["time_zone", "datetime", "to_time_zone", "from", "to", "years", "months", "weeks", "days", "hours", "minutes"] {
            #expect(properties[key]?["type"] is String, "\(key)")
        }
        #expect(tool.name == "datetime")
    }
}
