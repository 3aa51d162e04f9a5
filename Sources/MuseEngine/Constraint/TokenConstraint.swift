// Grammar-constrained decoding over a real vocabulary. A token is allowed when the grammar accepts
// its bytes from the current state. Checking the few most likely tokens is enough most of the time;
// when none of them fits, the allowed set is computed by walking a trie of every token's bytes
// with the matcher, pruning every branch at the first refused byte, instead of testing 49k strings.
import Foundation
import MuseCore

/// The vocabulary's tokens as a byte trie, built once per model (children in sorted arrays).
final class TokenTrie: Sendable {
    let vocabularySize: Int
    /// Per node, its outgoing edges are `edgeStart[n]..<edgeStart[n+1]`.
    private let edgeStart: [Int32]
    private let edgeByte: [UInt8]
    private let edgeChild: [Int32]
    /// Per node, the tokens spelled by the path to it: `tokenStart[n]..<tokenStart[n+1]`.
    private let tokenStart: [Int32]
    private let tokenIDs: [Int32]
    /// Each token's bytes (empty for control tokens, which never match a grammar).
    let bytes: [[UInt8]]
    /// Tokens that end generation: allowed only where the grammar's sentence is complete.
    let endTokens: Set<Int32>

    init(tokenizer: any Tokenizer) {
        vocabularySize = tokenizer.vocabularySize
        bytes = (0..<vocabularySize).map { tokenizer.tokenBytes(Int32($0), renderSpecial: false) }
        endTokens = Set((0..<Int32(vocabularySize)).filter { tokenizer.isEndOfGeneration($0) })
        let bytes = self.bytes
        let order = (0..<Int32(vocabularySize)).filter { !bytes[Int($0)].isEmpty && !tokenizer.isEndOfGeneration($0) }
            .sorted { bytes[Int($0)].lexicographicallyPrecedes(bytes[Int($1)]) }

        // Nodes in preorder: a node's tokens, then one child per distinct next byte.
        var edgeStart: [Int32] = [], edgeByte: [UInt8] = [], edgeChild: [Int32] = []
        var tokenStart: [Int32] = [], tokenIDs: [Int32] = []
        var nodeEdges: [[(UInt8, Int32)]] = []
        func build(_ range: Range<Int>, depth: Int) -> Int32 {
            let node = Int32(nodeEdges.count)
            nodeEdges.append([])
            tokenStart.append(Int32(tokenIDs.count))
            var i = range.lowerBound
            while i < range.upperBound, bytes[Int(order[i])].count == depth {
                tokenIDs.append(order[i])
                i += 1
            }
            while i < range.upperBound {
                let byte = bytes[Int(order[i])][depth]
                var j = i
                while j < range.upperBound, bytes[Int(order[j])][depth] == byte { j += 1 }
                let child = build(i..<j, depth: depth + 1)
                nodeEdges[Int(node)].append((byte, child))
                i = j
            }
            return node
        }
        _ = build(0..<order.count, depth: 0)
        // build() appended token starts in preorder; close each node's token range.
        tokenStart.append(Int32(tokenIDs.count))
        for edges in nodeEdges {
            edgeStart.append(Int32(edgeByte.count))
            for (byte, child) in edges {
                edgeByte.append(byte)
                edgeChild.append(child)
            }
        }
        edgeStart.append(Int32(edgeByte.count))
        self.edgeStart = edgeStart
        self.edgeByte = edgeByte
        self.edgeChild = edgeChild
        self.tokenStart = tokenStart
        self.tokenIDs = tokenIDs
    }

    func edges(of node: Int) -> Range<Int> { Int(edgeStart[node])..<Int(edgeStart[node + 1]) }
    func edgeByte(_ edge: Int) -> UInt8 { edgeByte[edge] }
    func child(_ edge: Int) -> Int { Int(edgeChild[edge]) }
    func tokens(endingAt node: Int) -> ArraySlice<Int32> { tokenIDs[Int(tokenStart[node])..<Int(tokenStart[node + 1])] }
}

/// A grammar run as a lazily built automaton: each distinct matcher state gets a number, and the
/// transition from a state by a byte is computed once. JSON's states recur constantly (inside a
/// string every plain character leads back to the same state), so after a few steps walking the
/// trie costs an array lookup per node, and the allowed set of a recurring state is cached whole.
/// Shared by the completions of one request; every operation holds the lock.
final class ConstraintAutomaton: @unchecked Sendable {
    let trie: TokenTrie
    private let lock = NSLock()
    private var matchers: [GrammarMatcher] = []
    private var numbers: [[[Int32]]: Int32] = [:]
    /// 256 entries per state: the next state, `dead`, or `unknown`.
    private var transitions: [Int32] = []
    private var masks: [Int32: [Bool]] = [:]
    static let dead: Int32 = -1, unknown: Int32 = -2
    /// Allowed sets kept for reuse at most.
    static let cachedMasks = 64

    /// The start state is number 0.
    init(grammar: Grammar, trie: TokenTrie) {
        self.trie = trie
        _ = number(GrammarMatcher(grammar))
    }

    private func number(_ matcher: GrammarMatcher) -> Int32 {
        if let n = numbers[matcher.stacks] { return n }
        let n = Int32(matchers.count)
        matchers.append(matcher)
        numbers[matcher.stacks] = n
        transitions.append(contentsOf: repeatElement(Self.unknown, count: 256))
        return n
    }

    private func step(_ state: Int32, _ byte: UInt8) -> Int32 {
        let slot = Int(state) * 256 + Int(byte)
        let known = transitions[slot]
        if known != Self.unknown { return known }
        var matcher = matchers[Int(state)]
        let next = matcher.advance(byte) ? number(matcher) : Self.dead
        transitions[slot] = next
        return next
    }

    /// The state after `bytes`, or `dead`.
    func advance(_ state: Int32, by bytes: [UInt8]) -> Int32 {
        lock.withLock {
            var s = state
            for b in bytes {
                s = step(s, b)
                if s == Self.dead { break }
            }
            return s
        }
    }

    func isComplete(_ state: Int32) -> Bool { lock.withLock { matchers[Int(state)].isComplete } }
    func canContinue(_ state: Int32) -> Bool { lock.withLock { matchers[Int(state)].canContinue } }

    /// Whether `token` may come next in `state`.
    func allows(_ token: Int32, in state: Int32) -> Bool {
        guard token >= 0, Int(token) < trie.vocabularySize else { return false }
        if trie.endTokens.contains(token) { return isComplete(state) }
        let bytes = trie.bytes[Int(token)]
        return !bytes.isEmpty && advance(state, by: bytes) != Self.dead
    }

    /// Every token allowed in `state`, as a mask over the vocabulary.
    func allowedMask(in state: Int32) -> [Bool] {
        lock.withLock {
            if let mask = masks[state] { return mask }
            var mask = [Bool](repeating: false, count: trie.vocabularySize)
            visit(0, state, &mask)
            if matchers[Int(state)].isComplete { for t in trie.endTokens { mask[Int(t)] = true } }
            if masks.count >= Self.cachedMasks { masks.removeAll(keepingCapacity: true) }
            masks[state] = mask
            return mask
        }
    }

    private func visit(_ node: Int, _ state: Int32, _ mask: inout [Bool]) {
        for e in trie.edges(of: node) {
            let next = step(state, trie.edgeByte(e))
            guard next != Self.dead else { continue }
            let child = trie.child(e)
            for t in trie.tokens(endingAt: child) { mask[Int(t)] = true }
            visit(child, next, &mask)
        }
    }
}

/// One completion's constraint: its state in the request's automaton.
struct TokenConstraint: Sendable {
    let automaton: ConstraintAutomaton
    private(set) var state: Int32 = 0

    init(automaton: ConstraintAutomaton) {
        self.automaton = automaton
    }

    /// Whether the output is complete and nothing more may follow: generation ends here.
    var isFinished: Bool { !automaton.canContinue(state) }

    func allows(_ token: Int32) -> Bool { automaton.allows(token, in: state) }

    /// The `k` most likely allowed tokens, best first (all allowed ones when k is 0). Disallowed
    /// logits are set to -inf when the full mask had to be computed.
    func allowedTop(_ k: Int, of logits: UnsafeMutableBufferPointer<Float>) -> [Candidate] {
        let view = UnsafeBufferPointer(logits)
        if k > 0 {
            // Most steps: one of the likeliest tokens fits.
            var found: [Candidate] = []
            for candidate in topCandidates(view, k: max(32, 2 * k)) where allows(candidate.id) {
                found.append(candidate)
                if found.count == k { return found }
            }
        }
        let mask = automaton.allowedMask(in: state)
        for i in 0..<min(mask.count, logits.count) where !mask[i] { logits[i] = -.infinity }
        for i in mask.count..<logits.count { logits[i] = -.infinity }
        return topCandidates(view, k: k).filter { $0.logit > -.infinity }
    }

    /// Moves past `token` (which must be allowed).
    mutating func accept(_ token: Int32) {
        guard !automaton.trie.endTokens.contains(token), Int(token) < automaton.trie.vocabularySize else { return }
        let next = automaton.advance(state, by: automaton.trie.bytes[Int(token)])
        if next != ConstraintAutomaton.dead { state = next }
    }
}
