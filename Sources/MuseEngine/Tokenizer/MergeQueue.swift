// The priority queue both merge loops (BPE by rank, SPM by score) pop their next pair from.

/// A candidate merge that knows whether it goes before another.
protocol MergeOrdered {
    func precedes(_ other: Self) -> Bool
}

/// A binary heap whose top is the candidate that precedes all others, reused across the words of
/// one `encode` call. Stale candidates are left in and skipped by the caller when popped, as
/// llama.cpp's `std::priority_queue` loops do.
struct MergeQueue<Candidate: MergeOrdered> {
    private var heap: [Candidate] = []

    mutating func removeAll() {
        heap.removeAll(keepingCapacity: true)
    }

    mutating func push(_ candidate: Candidate) {
        heap.append(candidate)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].precedes(heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func popBest() -> Candidate? {
        guard let best = heap.first else { return nil }
        let last = heap.removeLast()
        if heap.isEmpty { return best }
        heap[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1
            if left >= heap.count { break }
            var child = left
            if left + 1 < heap.count && heap[left + 1].precedes(heap[left]) { child = left + 1 }
            guard heap[child].precedes(heap[parent]) else { break }
            heap.swapAt(child, parent)
            parent = child
        }
        return best
    }
}
