// A model that writes its tool calls as text, read by the side that knows its format: the text
// of the calls becomes one `.toolCalls` event, so that consumers see calls as calls, the same
// whether they came from the local engine or from a server's structured reply.
import Foundation

public enum ToolCallReader {
    /// `events` with the calls taken out of their text. Prose passes as `.text` as it comes, held
    /// back from where a call starts (see `CallGate`); at the end the held text is read in
    /// `format`, and the calls come as one `.toolCalls` event before `.finished`, with ids that
    /// are unique to this reply. A reply whose calls cannot all be read is given back as text
    /// whole, so that the reader of the text can tell the model what was wrong with them.
    public static func read(_ events: AsyncThrowingStream<GenerationEvent, any Error>, format: ToolCallFormat,
                            tools: [ToolSpec]) -> AsyncThrowingStream<GenerationEvent, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                var gate = CallGate(prefix: format.callPrefix, holdingBareJSON: true)
                var text = "", shown = 0
                do {
                    for try await event in events {
                        switch event {
                        case .text(let piece):
                            text += piece
                            let out = gate.feed(piece)
                            shown += out.count
                            if !out.isEmpty { continuation.yield(.text(out)) }
                        case .finished:
                            for piece in ending(text, shown: shown, format: format, tools: tools) { continuation.yield(piece) }
                            continuation.yield(event)
                        default:
                            continuation.yield(event)
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

    /// What follows the text already shown (its first `shown` characters, which the gate passes
    /// in order): the calls and any prose after them, or the rest of the text as it is.
    static func ending(_ text: String, shown: Int, format: ToolCallFormat, tools: [ToolSpec]) -> [GenerationEvent] {
        let unseen = String(text.dropFirst(shown))
        let id = "call_" + UUID().uuidString.prefix(8).lowercased() + "_"
        let parsed = format.parse(text, idPrefix: id, tools: tools)
        guard !parsed.calls.isEmpty, parsed.errors.isEmpty else { return unseen.isEmpty ? [] : [.text(unseen)] }
        // The prose around the calls, joined; what it adds to the part shown comes before them.
        let before = String(text.prefix(shown)).trimmingCharacters(in: .whitespacesAndNewlines)
        var events: [GenerationEvent] = []
        if parsed.content.hasPrefix(before), parsed.content.count > before.count {
            events.append(.text(String(parsed.content.dropFirst(before.count))))
        }
        events.append(.toolCalls(parsed.calls))
        return events
    }
}
