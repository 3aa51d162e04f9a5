// Splits a streamed reply into reasoning (inside the model's tags) and answer (after them), with
// tags that may arrive cut across pieces.
import MuseCore

struct ReasoningSplitter {
    enum Piece: Equatable {
        case reasoning(String)
        case answer(String)
    }

    let tags: ReasoningTags
    /// Before the opening tag (leading whitespace is still allowed), inside, or after the closing tag.
    private enum State { case start, inside, after }
    private var state = State.start
    private var pending = ""
    /// Whitespace between the closing tag and the answer is dropped, whichever piece it comes in.
    private var answerStarted = false

    init(tags: ReasoningTags) { self.tags = tags }

    var inReasoning: Bool { state == .inside }
    /// Whether the reply opened the tags at all (a model, or a server, may answer without them).
    private(set) var openedTags = false

    mutating func feed(_ text: String) -> [Piece] {
        pending += text
        var out: [Piece] = []
        while true {
            switch state {
            case .start:
                let trimmed = pending.drop { $0.isWhitespace }
                if trimmed.hasPrefix(tags.open) {
                    pending = String(trimmed.dropFirst(tags.open.count))
                    state = .inside
                    openedTags = true
                } else if tags.open.hasPrefix(String(trimmed)) {
                    return out   // could still become the opening tag
                } else {
                    state = .after   // the model answered without reasoning
                }
            case .inside:
                if let range = pending.range(of: tags.close) {
                    let before = String(pending[..<range.lowerBound])
                    if !before.isEmpty { out.append(.reasoning(before)) }
                    pending = String(pending[range.upperBound...])
                    state = .after
                } else {
                    // Hold back what could be the start of the closing tag.
                    var keep = min(tags.close.count - 1, pending.count)
                    while keep > 0 && !tags.close.hasPrefix(String(pending.suffix(keep))) { keep -= 1 }
                    let emit = String(pending.dropLast(keep))
                    if !emit.isEmpty { out.append(.reasoning(emit)) }
                    pending = String(pending.suffix(keep))
                    return out
                }
            case .after:
                if !answerStarted { pending = String(pending.drop { $0.isWhitespace }) }
                if !pending.isEmpty {
                    out.append(.answer(pending))
                    answerStarted = true
                }
                pending = ""
                return out
            }
        }
    }
}
