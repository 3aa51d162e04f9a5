// Incremental token-to-text conversion that never emits half of a multi-byte UTF-8 character.

/// Turns generated tokens into text as they arrive. Byte-level tokens can end in the middle of a
/// UTF-8 character (an emoji is often two or more tokens), so an unfinished trailing sequence is
/// held back until the bytes completing it arrive; bytes that can never become valid UTF-8 are
/// emitted as U+FFFD straight away.
public struct StreamingDetokenizer: Sendable {
    public let tokenizer: any Tokenizer
    /// Whether control tokens (e.g. `<|im_end|>`) appear in the text; off by default.
    public var renderSpecial: Bool
    private var pending: [UInt8] = []

    public init(tokenizer: any Tokenizer, renderSpecial: Bool = false) {
        self.tokenizer = tokenizer
        self.renderSpecial = renderSpecial
    }

    /// Bytes received but not yet emitted (an unfinished character).
    public var pendingByteCount: Int { pending.count }

    /// The text completed by `id`, possibly empty.
    public mutating func append(_ id: Int32) -> String {
        pending.append(contentsOf: tokenizer.tokenBytes(id, renderSpecial: renderSpecial))
        let ready = Self.completePrefixLength(pending)
        if ready == 0 { return "" }
        let text = String(decoding: pending[..<ready], as: UTF8.self)
        pending.removeFirst(ready)
        return text
    }

    /// Whatever is held back, an unfinished character becoming U+FFFD; the stream then starts afresh.
    public mutating func flush() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// Length of the prefix of `bytes` that can be decoded now: everything except a trailing
    /// sequence that is a valid but unfinished UTF-8 character.
    static func completePrefixLength(_ bytes: [UInt8]) -> Int {
        let count = bytes.count
        var start = count - 1
        // A character is at most 4 bytes, so its lead byte is within the last 3 if unfinished.
        while start >= 0 && start >= count - 3 {
            let byte = bytes[start]
            if byte & 0xC0 != 0x80 {
                let tail = bytes[start...]
                return isUnfinishedCharacter(tail) ? start : count
            }
            start -= 1
        }
        return count
    }

    /// Whether `tail` (lead byte first) is a proper prefix of some valid UTF-8 character, using the
    /// same second-byte limits as the decoder (no overlongs, surrogates or code points past U+10FFFF).
    private static func isUnfinishedCharacter(_ tail: ArraySlice<UInt8>) -> Bool {
        let lead = tail[tail.startIndex]
        let length: Int
        var secondByteRange: ClosedRange<UInt8> = 0x80...0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; secondByteRange = 0xA0...0xBF
        case 0xED: length = 3; secondByteRange = 0x80...0x9F
        case 0xE1...0xEF: length = 3
        case 0xF0: length = 4; secondByteRange = 0x90...0xBF
        case 0xF4: length = 4; secondByteRange = 0x80...0x8F
        case 0xF1...0xF3: length = 4
        default: return false
        }
        guard tail.count < length else { return false }
        for (offset, byte) in tail.dropFirst().enumerated() {
            let allowed = offset == 0 ? secondByteRange : 0x80...0xBF
            if !allowed.contains(byte) { return false }
        }
        return true
    }
}
