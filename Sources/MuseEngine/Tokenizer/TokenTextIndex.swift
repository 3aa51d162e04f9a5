// Byte-exact lookup from token text to id, shared by vocabulary validation and the SPM tokenizer.

/// An open-addressing hash table over the UTF-8 of every token text.
///
/// Swift's `String` equality is canonical equivalence, so a `[String: Int32]` would treat "য়"
/// (one code point) and "য়" (two) as one key; Gemma 3's vocabulary holds 434 such pairs as
/// distinct tokens, and llama.cpp's `std::string` map keeps them apart. Lookups also take raw byte
/// ranges, so the SPM merge loop never builds a `String`.
struct TokenTextIndex: Sendable {
    /// Every token's UTF-8, concatenated; token `id` is `bytes[starts[id]..<starts[id + 1]]`.
    private let bytes: [UInt8]
    private let starts: [Int]
    /// Token ids, -1 for an empty slot; the count is a power of two at least twice the tokens.
    private let slots: [Int32]
    /// Length in bytes of the longest token: no longer text can be one.
    let maxLength: Int
    /// The first text found twice, with both ids, or nil.
    let duplicate: (text: String, firstID: Int, secondID: Int)?

    init(texts: [String]) {
        var bytes: [UInt8] = []
        var starts: [Int] = [0]
        starts.reserveCapacity(texts.count + 1)
        var maxLength = 0
        for text in texts {
            bytes.append(contentsOf: text.utf8)
            starts.append(bytes.count)
            maxLength = max(maxLength, text.utf8.count)
        }
        var capacity = 16
        while capacity < texts.count * 2 { capacity *= 2 }
        var slots = [Int32](repeating: -1, count: capacity)
        var duplicate: (text: String, firstID: Int, secondID: Int)?
        bytes.withUnsafeBufferPointer { all in
            for id in texts.indices {
                let text = UnsafeBufferPointer(rebasing: all[starts[id]..<starts[id + 1]])
                var slot = Int(Self.hash(text) & UInt64(capacity - 1))
                while slots[slot] >= 0 {
                    let other = Int(slots[slot])
                    if duplicate == nil && Self.equal(text, UnsafeBufferPointer(rebasing: all[starts[other]..<starts[other + 1]])) {
                        duplicate = (texts[id], other, id)
                    }
                    slot = (slot + 1) & (capacity - 1)
                }
                slots[slot] = Int32(id)
            }
        }
        self.bytes = bytes
        self.starts = starts
        self.slots = slots
        self.maxLength = maxLength
        self.duplicate = duplicate
    }

    /// The id of the token whose text is exactly `text`, or -1. With duplicates, the first id wins.
    func id(of text: UnsafeBufferPointer<UInt8>) -> Int32 {
        if text.count > maxLength { return -1 }
        let mask = slots.count - 1
        return bytes.withUnsafeBufferPointer { all in
            slots.withUnsafeBufferPointer { slots in
                var slot = Int(Self.hash(text) & UInt64(mask))
                var found: Int32 = -1
                while slots[slot] >= 0 {
                    let id = Int(slots[slot])
                    let start = starts[id], end = starts[id + 1]
                    if end - start == text.count && Self.equal(text, UnsafeBufferPointer(rebasing: all[start..<end])) {
                        found = Int32(id)
                        break
                    }
                    slot = (slot + 1) & mask
                }
                return found
            }
        }
    }

    func id(of text: String) -> Int32 {
        var text = text
        return text.withUTF8 { id(of: $0) }
    }

    // FNV-1a: token texts are short, and this stays fast without optimisation (debug test builds).
    @inline(__always)
    private static func hash(_ text: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        return hash ^ (hash >> 29)
    }

    @inline(__always)
    private static func equal(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        for index in 0..<a.count where a[index] != b[index] { return false }
        return true
    }
}
