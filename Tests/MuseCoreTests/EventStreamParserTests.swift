// The event-stream parser against streams cut at every byte, every line ending, comments and
// oversized lines.
import MuseCore
import Testing

@Suite struct EventStreamParserTests {
    /// Feeds `text` cut at `cut` (and whole when `cut` is nil) and returns every event.
    func events(_ text: String, cut: Int? = nil, maxLineBytes: Int = 4 << 20) throws -> [ServerSentEvent] {
        var parser = EventStreamParser(maxLineBytes: maxLineBytes)
        let bytes = Array(text.utf8)
        let at = cut ?? bytes.count
        var out = try parser.feed(bytes[..<at])
        out += try parser.feed(bytes[at...])
        if let last = parser.finish() { out.append(last) }
        return out
    }

    static let stream = """
        : keep-alive\r
        data: {"a": "héllo ✓"}\r
        \r
        event: note\n\
        data: first line\n\
        data:second line\n\
        \n\
        data: [DONE]\r\r
        """

    @Test func readsDataEventNamesAndCommentsWithEveryLineEnding() throws {
        #expect(try events(Self.stream) == [
            ServerSentEvent(data: #"{"a": "héllo ✓"}"#),
            ServerSentEvent(name: "note", data: "first line\nsecond line"),
            ServerSentEvent(data: "[DONE]"),
        ])
    }

    @Test func givesTheSameEventsWhereverTheBytesAreCut() throws {
        let whole = try events(Self.stream)
        for cut in 0...Self.stream.utf8.count {
            #expect(try events(Self.stream, cut: cut) == whole, "cut at byte \(cut)")
        }
    }

    @Test func aCRAtTheEndOfABufferAndItsLFInTheNextAreOneLineBreak() throws {
        var parser = EventStreamParser()
        #expect(try parser.feed(Array("data: x\r".utf8)).isEmpty)
        #expect(try parser.feed(Array("\n\r".utf8)) == [ServerSentEvent(data: "x")])
        #expect(try parser.feed(Array("\ndata: y\n\n".utf8)) == [ServerSentEvent(data: "y")])
    }

    @Test func deliversALastEventThatHasNoBlankLineAfterIt() throws {
        #expect(try events("data: {}\n") == [ServerSentEvent(data: "{}")])
        #expect(try events("data: {}") == [ServerSentEvent(data: "{}")])
        #expect(try events(": only a comment\n\n").isEmpty)
    }

    @Test func refusesALineLongerThanTheLimit() throws {
        let long = "data: " + String(repeating: "x", count: 100) + "\n\n"
        #expect(throws: EventStreamError.lineTooLong(limit: 64)) { try events(long, maxLineBytes: 64) }
        #expect(try events(long, maxLineBytes: 200).count == 1)
    }
}
