// Splits a streamed reply into reasoning (inside the model's tags) and answer (after them), with
// tags that may arrive cut across pieces. A model that reasons in tags uses it to report its
// reasoning as `.reasoning` events, so that no caller sees the tags.
import Foundation

public struct ReasoningSplitter: Sendable {
    public enum Piece: Equatable, Sendable {
        case reasoning(String)
        case answer(String)
    }

    public let tags: ReasoningTags
    /// Before the opening tag (leading whitespace is still allowed), inside, or after the closing tag.
    private enum State { case start, inside, after }
    private var state = State.start
    private var pending = ""
    /// Whitespace between the closing tag and the answer is dropped, whichever piece it comes in.
    private var answerStarted = false

    public init(tags: ReasoningTags) { self.tags = tags }

    public var inReasoning: Bool { state == .inside }
    /// Whether the reply opened the tags at all (a model may answer without them).
    public private(set) var openedTags = false

    public mutating func feed(_ text: String) -> [Piece] {
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

extension ReasoningSplitter {
    /// `events` with the text inside the tags as `.reasoning` and the rest as `.text`; other
    /// events pass as they are. A reply cut off inside the tags ends as reasoning.
    public static func split(_ events: AsyncThrowingStream<GenerationEvent, any Error>,
                             tags: ReasoningTags) -> AsyncThrowingStream<GenerationEvent, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                var splitter = ReasoningSplitter(tags: tags)
                do {
                    for try await event in events {
                        guard case .text(let text) = event else {
                            continuation.yield(event)
                            continue
                        }
                        for piece in splitter.feed(text) {
                            switch piece {
                            case .reasoning(let t): continuation.yield(.reasoning(t))
                            case .answer(let t): continuation.yield(.text(t))
                            }
                        }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
