// Token ids for a remote model's log-probabilities. The protocol reports tokens as text, while
// Muse's events carry ids; each distinct text gets an id the first time it is seen, so that
// `tokenText` turns it back (and `muse serve` can front a remote model with logprobs intact).
import Synchronization

final class RemoteVocabulary: Sendable {
    /// Past this many distinct texts, new ones share one id that has no text.
    static let capacity = 1 << 20
    static let unknown: Int32 = -1

    private struct Table {
        var ids: [String: Int32] = [:]
        var texts: [String] = []
    }
    private let table = Mutex(Table())

    func id(_ text: String) -> Int32 {
        table.withLock { t in
            if let id = t.ids[text] { return id }
            guard t.texts.count < Self.capacity else { return Self.unknown }
            let id = Int32(t.texts.count)
            t.texts.append(text)
            t.ids[text] = id
            return id
        }
    }

    func text(_ id: Int32) -> String? {
        table.withLock { t in t.texts.indices.contains(Int(id)) ? t.texts[Int(id)] : nil }
    }
}
