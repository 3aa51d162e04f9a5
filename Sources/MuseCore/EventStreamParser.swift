// Server-sent events read from raw network bytes: lines end in LF, CRLF or a lone CR, and a
// buffer may end anywhere, inside a line, between CR and LF, or inside a UTF-8 character. One
// parser for every reader of event streams: the remote model's replies, MCP's Streamable HTTP.

/// One dispatched event: its `event:` name (nil for the default "message") and its data lines
/// joined with LF.
public struct ServerSentEvent: Sendable, Equatable {
    public var name: String?
    public var data: String
    public init(name: String? = nil, data: String) {
        self.name = name
        self.data = data
    }
}

public enum EventStreamError: Error, Sendable, Equatable {
    /// A line longer than the parser accepts.
    case lineTooLong(limit: Int)
}

/// Turns bytes, fed as they arrive, into events (the WHATWG event-stream rules, less `id` and
/// `retry`, which a completion stream has no use for). Lines are kept as bytes until they are
/// whole, so a character cut across two buffers is decoded once, intact.
public struct EventStreamParser: Sendable {
    /// The longest line accepted; a server that sends more is refused rather than buffered.
    public let maxLineBytes: Int
    private var line: [UInt8] = []
    private var afterCR = false
    private var name: String?
    private var data: [String] = []

    public init(maxLineBytes: Int = 4 << 20) {
        self.maxLineBytes = maxLineBytes
    }

    /// The events completed by `bytes`.
    public mutating func feed(_ bytes: some Sequence<UInt8>) throws(EventStreamError) -> [ServerSentEvent] {
        var events: [ServerSentEvent] = []
        for byte in bytes {
            if afterCR {
                afterCR = false
                if byte == UInt8(ascii: "\n") { continue }   // the LF of a CRLF
            }
            switch byte {
            case UInt8(ascii: "\n"):
                if let event = endLine() { events.append(event) }
            case UInt8(ascii: "\r"):
                afterCR = true
                if let event = endLine() { events.append(event) }
            default:
                guard line.count < maxLineBytes else { throw .lineTooLong(limit: maxLineBytes) }
                line.append(byte)
            }
        }
        return events
    }

    /// The end of the stream: an event whose closing blank line never came is still delivered,
    /// since some servers end on the last data line.
    public mutating func finish() -> ServerSentEvent? {
        if !line.isEmpty { _ = endLine() }
        return endLine()
    }

    private mutating func endLine() -> ServerSentEvent? {
        defer { line.removeAll(keepingCapacity: true) }
        if line.isEmpty {
            defer { name = nil; data = [] }
            return data.isEmpty ? nil : ServerSentEvent(name: name, data: data.joined(separator: "\n"))
        }
        if line.first == UInt8(ascii: ":") { return nil }   // a comment, often a keep-alive
        let colon = line.firstIndex(of: UInt8(ascii: ":")) ?? line.endIndex
        let field = String(decoding: line[..<colon], as: UTF8.self)
        var value = line[colon...].dropFirst()
        if value.first == UInt8(ascii: " ") { value = value.dropFirst() }
        switch field {
        case "data": data.append(String(decoding: value, as: UTF8.self))
        case "event": name = String(decoding: value, as: UTF8.self)
        default: break
        }
        return nil
    }
}
