// Runs a grammar over bytes. The state is a set of stacks (one per way the input so far can still
// be parsed); each stack holds grammar positions, the top being the next byte set to match and the
// rest the continuations of the enclosing rules. A byte keeps the stacks whose top accepts it.

public struct GrammarMatcher: Sendable {
    let grammar: Grammar
    private(set) var stacks: [[Int32]]

    /// A stack deeper than this is dropped, and an expansion stops after this many steps: only a
    /// grammar with unbounded nesting or wild ambiguity gets there (left recursion is refused when
    /// the grammar is built).
    static let maxDepth = 4_096
    static let expansionBudget = 100_000

    public init(_ grammar: Grammar) {
        self.grammar = grammar
        var start: [[Int32]] = []
        var budget = Self.expansionBudget
        Self.expandRule(grammar.root, onto: [], grammar: grammar, into: &start, budget: &budget)
        stacks = Self.unique(start)
    }

    /// Whether the input so far is a complete sentence of the grammar.
    public var isComplete: Bool { stacks.contains { $0.isEmpty } }

    /// Whether some byte can still follow.
    public var canContinue: Bool { stacks.contains { !$0.isEmpty } }

    /// Consumes `byte`; false (and the matcher left dead) when the grammar refuses it.
    @discardableResult
    public mutating func advance(_ byte: UInt8) -> Bool {
        var next: [[Int32]] = []
        var budget = Self.expansionBudget
        for stack in stacks {
            guard let top = stack.last, case .bytes(let set) = grammar.elements[Int(top)], set.contains(byte) else { continue }
            var rest = stack
            rest.removeLast()
            if case .end = grammar.elements[Int(top) + 1] {
                Self.expand(rest, grammar: grammar, into: &next, budget: &budget)
            } else {
                rest.append(top + 1)
                Self.expand(rest, grammar: grammar, into: &next, budget: &budget)
            }
        }
        stacks = next.count > 1 ? Self.unique(next) : next
        return !stacks.isEmpty
    }

    /// Consumes `bytes`; false as soon as one is refused.
    @discardableResult
    public mutating func advance(_ bytes: some Sequence<UInt8>) -> Bool {
        for b in bytes where !advance(b) { return false }
        return true
    }

    /// Whether `bytes` could come next, without consuming them.
    public func accepts(_ bytes: some Sequence<UInt8>) -> Bool {
        var copy = self
        return copy.advance(bytes)
    }

    /// Every byte that can come next.
    public var nextBytes: ByteSet {
        var set = ByteSet()
        for stack in stacks {
            if let top = stack.last, case .bytes(let bytes) = grammar.elements[Int(top)] { set = set.union(bytes) }
        }
        return set
    }

    // MARK: - Expansion

    /// Brings `stack` to a form whose top is a byte set (or that is empty: the input may end here),
    /// replacing rule references by each of their alternatives.
    private static func expand(_ stack: [Int32], grammar: Grammar, into out: inout [[Int32]], budget: inout Int) {
        budget -= 1
        guard budget > 0 else { return }
        guard let top = stack.last else {
            out.append(stack)
            return
        }
        switch grammar.elements[Int(top)] {
        case .bytes:
            out.append(stack)
        case .end:
            var rest = stack
            rest.removeLast()
            expand(rest, grammar: grammar, into: &out, budget: &budget)
        case .rule(let id):
            var rest = stack
            rest.removeLast()
            if case .end = grammar.elements[Int(top) + 1] {} else { rest.append(top + 1) }
            expandRule(id, onto: rest, grammar: grammar, into: &out, budget: &budget)
        }
    }

    private static func expandRule(_ id: Int32, onto stack: [Int32], grammar: Grammar, into out: inout [[Int32]], budget: inout Int) {
        guard stack.count < maxDepth else { return }
        for start in grammar.alternatives[Int(id)] {
            if case .end = grammar.elements[Int(start)] {
                expand(stack, grammar: grammar, into: &out, budget: &budget)
            } else {
                var pushed = stack
                pushed.append(start)
                expand(pushed, grammar: grammar, into: &out, budget: &budget)
            }
        }
    }

    private static func unique(_ stacks: [[Int32]]) -> [[Int32]] {
        var seen = Set<[Int32]>()
        return stacks.filter { seen.insert($0).inserted }
    }
}
