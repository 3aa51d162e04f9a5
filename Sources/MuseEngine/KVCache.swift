// Keys and values of every layer for the tokens seen so far, in fixed-size blocks with reference
// counts, so that sequences can share the blocks of a common prefix (forked agents, reused
// prompts). Stored as fp16, as llama.cpp stores them.
import CMuseKernels
import MuseCore

public enum KVCacheError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The cache's memory cap is reached.
    case full(neededBlocks: Int, capacityBlocks: Int)

    public var description: String {
        switch self {
        case let .full(needed, capacity):
            "the KV cache is full: \(needed) more blocks needed, \(capacity) blocks is the cap; shorten the conversation or raise the context size"
        }
    }
}

extension GenerationError {
    /// A full cache as the engine reports it to its callers.
    init(_ error: KVCacheError) {
        switch error {
        case let .full(needed, capacity): self = .cacheFull(neededBlocks: needed, capacityBlocks: capacity)
        }
    }
}

/// The block table of one sequence: which cache blocks hold its positions, in order.
public struct KVSequence: Sendable, Equatable {
    public internal(set) var blocks: [Int] = []
    /// Positions filled.
    public internal(set) var count = 0
    public init() {}
}

public final class KVCache: @unchecked Sendable {
    public let layerCount: Int
    /// Key (and value) width per token: kv heads * head dim.
    public let kvDim: Int
    /// Tokens per block.
    public let blockSize: Int
    public let capacityBlocks: Int

    private let blockElements: Int
    private var storage: [UnsafeMutablePointer<UInt16>] = []
    private var refCounts: [Int] = []
    private var freeBlocks: [Int] = []

    /// - Parameter capacityTokens: the cap, rounded up to whole blocks. Blocks are allocated as
    ///   sequences grow, not up front.
    public static let defaultBlockSize = 32

    public init(layerCount: Int, kvDim: Int, capacityTokens: Int, blockSize: Int = KVCache.defaultBlockSize) {
        self.layerCount = layerCount
        self.kvDim = kvDim
        self.blockSize = blockSize
        self.capacityBlocks = (capacityTokens + blockSize - 1) / blockSize
        // Block layout: [layer][key, value][position in block][kvDim].
        blockElements = layerCount * 2 * blockSize * kvDim
    }

    deinit {
        for block in storage { block.deallocate() }
    }

    public var blocksInUse: Int { storage.count - freeBlocks.count }
    public var bytesPerBlock: Int { blockElements * 2 }

    public func referenceCount(ofBlock block: Int) -> Int { refCounts[block] }

    private func allocateBlock() throws(KVCacheError) -> Int {
        if let block = freeBlocks.popLast() {
            refCounts[block] = 1
            return block
        }
        guard storage.count < capacityBlocks else { throw .full(neededBlocks: 1, capacityBlocks: capacityBlocks) }
        storage.append(.allocate(capacity: blockElements))
        refCounts.append(1)
        return storage.count - 1
    }

    /// Overwrites every block no sequence holds with zeros.
    func scrubFreeBlocks() {
        for block in freeBlocks { storage[block].update(repeating: 0, count: blockElements) }
    }

    private func release(_ block: Int) {
        refCounts[block] -= 1
        if refCounts[block] == 0 { freeBlocks.append(block) }
    }

    /// Makes room for positions up to `length` (exclusive): allocates blocks, and copies a shared
    /// last block before it is written (copy on write).
    public func reserve(_ sequence: inout KVSequence, upTo length: Int) throws(KVCacheError) {
        let needed = (length + blockSize - 1) / blockSize
        let fresh = needed - sequence.blocks.count
        let sharedTail = sequence.count % blockSize != 0 && sequence.blocks.last.map { refCounts[$0] > 1 } == true
        let available = freeBlocks.count + capacityBlocks - storage.count
        if max(fresh, 0) + (sharedTail ? 1 : 0) > available {
            throw .full(neededBlocks: max(fresh, 0) + (sharedTail ? 1 : 0), capacityBlocks: capacityBlocks)
        }
        if sharedTail, let last = sequence.blocks.last {
            let copy = try allocateBlock()
            storage[copy].update(from: storage[last], count: blockElements)
            release(last)
            sequence.blocks[sequence.blocks.count - 1] = copy
        }
        while sequence.blocks.count < needed { sequence.blocks.append(try allocateBlock()) }
    }

    /// A new sequence sharing every block of `sequence` (its prompt) until one of them is written.
    public func fork(_ sequence: KVSequence) -> KVSequence {
        for block in sequence.blocks { refCounts[block] += 1 }
        return sequence
    }

    /// Forgets positions from `length` on, releasing blocks no longer needed (reserved ones that
    /// were never filled included).
    public func truncate(_ sequence: inout KVSequence, to length: Int) {
        let keep = (length + blockSize - 1) / blockSize
        while sequence.blocks.count > keep { release(sequence.blocks.removeLast()) }
        sequence.count = min(sequence.count, length)
    }

    /// Releases every block of the sequence.
    public func free(_ sequence: inout KVSequence) { truncate(&sequence, to: 0) }

    /// Marks positions up to `length` as filled (after the forward pass wrote them).
    func commit(_ sequence: inout KVSequence, upTo length: Int) { sequence.count = max(sequence.count, length) }

    /// The fp16 key row (kvDim values) of `position` in `layer`.
    @inline(__always)
    func keys(_ sequence: KVSequence, layer: Int, position: Int) -> UnsafeMutablePointer<UInt16> {
        storage[sequence.blocks[position / blockSize]] + ((layer * 2) * blockSize + position % blockSize) * kvDim
    }

    @inline(__always)
    func values(_ sequence: KVSequence, layer: Int, position: Int) -> UnsafeMutablePointer<UInt16> {
        storage[sequence.blocks[position / blockSize]] + ((layer * 2 + 1) * blockSize + position % blockSize) * kvDim
    }
}
