// Streaming a reply whose text may turn into tool calls: prose passes as it comes, a call's text
// never does.
/// Passes text through until a tool call starts, holding back a tail that might be the start of
/// the call prefix; after the prefix nothing more passes. With `holdingBareJSON`, a reply that
/// opens like calls written as bare JSON (`{`, `[` or a ```json fence) is held back whole, until
/// its opening shows otherwise or `flush` releases it.
public struct CallGate: Sendable {
    let prefix: String
    private var pending = ""
    private var closed = false
    private var holding: Bool

    public init(prefix: String, holdingBareJSON: Bool = false) {
        self.prefix = prefix
        holding = holdingBareJSON
    }

    public mutating func feed(_ text: String) -> String {
        guard !closed else { return "" }
        pending += text
        if let range = pending.range(of: prefix) {
            closed = true
            defer { pending = "" }
            return String(pending[..<range.lowerBound])
        }
        if holding {
            if BareJSONCalls.couldBeCalls(pending[...]) { return "" }
            holding = false
        }
        // The longest tail of what we have that could grow into the prefix stays back.
        var keep = min(prefix.count - 1, pending.count)
        while keep > 0 && !pending.hasSuffix(prefix.prefix(keep)) { keep -= 1 }
        let out = String(pending.dropLast(keep))
        pending = String(pending.suffix(keep))
        return out
    }

    public mutating func flush() -> String {
        defer { pending = "" }
        return closed ? "" : pending
    }
}
