// Holds back streamed text that might be the start of a stop string, so a stop string never
// reaches the caller, not even in part.

struct StopMatcher {
    let stops: [String]
    private var pending = ""

    init(stops: [String]) { self.stops = stops.filter { !$0.isEmpty } }

    /// Adds newly decoded text. Returns the text that is safe to emit, and whether a stop string
    /// was found (in which case the text before it is returned and nothing after it).
    mutating func append(_ text: String) -> (emit: String, stopped: Bool) {
        guard !stops.isEmpty else { return (text, false) }
        pending += text
        var earliest: String.Index?
        for stop in stops {
            if let range = pending.range(of: stop), earliest.map({ range.lowerBound < $0 }) ?? true {
                earliest = range.lowerBound
            }
        }
        if let earliest {
            let emit = String(pending[..<earliest])
            pending = ""
            return (emit, true)
        }
        // Keep the longest tail of `pending` that is a prefix of some stop string.
        var keep = 0
        for stop in stops {
            var n = min(stop.count, pending.count)
            while n > keep {
                if stop.hasPrefix(pending.suffix(n)) { keep = n; break }
                n -= 1
            }
        }
        let cut = pending.index(pending.endIndex, offsetBy: -keep)
        let emit = String(pending[..<cut])
        pending = String(pending[cut...])
        return (emit, false)
    }

    /// What is still held back, for the end of the stream.
    mutating func flush() -> String {
        defer { pending = "" }
        return pending
    }
}
