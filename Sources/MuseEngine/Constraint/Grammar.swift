// A context-free grammar over bytes, the form every output constraint compiles to (JSON, a JSON
// Schema's instances, tool-call wrappers). Rules are alternatives of sequences; a sequence element
// is a set of bytes or a reference to a rule. Repetition is right recursion, which the matcher
// runs without growing its stacks; left recursion is never built.

/// A set of bytes as a 256-bit map.
public struct ByteSet: Hashable, Sendable {
    private var bits = SIMD4<UInt64>(repeating: 0)

    public init() {}

    public init(_ byte: UInt8) { insert(byte) }

    public init(_ ranges: ClosedRange<UInt8>...) {
        for range in ranges { for b in range { insert(b) } }
    }

    public init(bytesOf text: String) {
        for b in text.utf8 { insert(b) }
    }

    public mutating func insert(_ byte: UInt8) {
        bits[Int(byte >> 6)] |= 1 << UInt64(byte & 63)
    }

    @inline(__always)
    public func contains(_ byte: UInt8) -> Bool {
        bits[Int(byte >> 6)] & (1 << UInt64(byte & 63)) != 0
    }

    public func union(_ other: ByteSet) -> ByteSet {
        var result = self
        result.bits |= other.bits
        return result
    }

    public func subtracting(_ other: ByteSet) -> ByteSet {
        var result = self
        result.bits &= ~other.bits
        return result
    }

    public var inverted: ByteSet {
        var result = self
        result.bits = ~bits
        return result
    }
}

public struct Grammar: Sendable {
    enum Element: Hashable, Sendable {
        case bytes(ByteSet)
        case rule(Int32)
        /// Closes an alternative.
        case end
    }

    /// Every alternative of every rule, flattened, each closed by `.end`. A position in this array
    /// is what the matcher's stacks hold.
    let elements: [Element]
    /// Per rule, the positions where its alternatives start.
    let alternatives: [[Int32]]
    let root: Int32
}

/// Builds a grammar: rules may be reserved first and defined later, so that they can refer to
/// each other (a JSON value contains objects that contain values).
struct GrammarBuilder {
    enum Symbol: Hashable {
        case bytes(ByteSet)
        case rule(Int32)
        case literal(String)
    }

    private var definitions: [[[Symbol]]?] = []
    private var memo: [String: Int32] = [:]

    mutating func reserve() -> Int32 {
        definitions.append(nil)
        return Int32(definitions.count - 1)
    }

    mutating func define(_ rule: Int32, _ alternatives: [[Symbol]]) {
        definitions[Int(rule)] = alternatives
    }

    mutating func rule(_ alternatives: [[Symbol]]) -> Int32 {
        let id = reserve()
        define(id, alternatives)
        return id
    }

    /// The rule remembered under `key`, if any.
    func existing(_ key: String) -> Int32? { memo[key] }

    mutating func remember(_ key: String, _ rule: Int32) { memo[key] = rule }

    /// `symbols` zero or more times.
    mutating func star(_ symbols: [Symbol]) -> Int32 {
        let id = reserve()
        define(id, [[], symbols + [.rule(id)]])
        return id
    }

    /// `symbols` between `min` and `max` times (nil: no upper bound).
    mutating func repeated(_ symbols: [Symbol], min: Int, max: Int?) -> [Symbol] {
        var sequence: [Symbol] = []
        for _ in 0..<min { sequence += symbols }
        guard let max else { return sequence + [.rule(star(symbols))] }
        // Nested optionals: x? (x (x ...)?)? — each in tail position, so the stacks stay flat.
        var tail: Int32? = nil
        for _ in Swift.max(min, 0)..<Swift.max(max, min) {
            let inner: [Symbol] = symbols + (tail.map { [.rule($0)] } ?? [])
            tail = rule([[], inner])
        }
        return sequence + (tail.map { [.rule($0)] } ?? [])
    }

    /// The grammar, unless a rule can reach itself without consuming a byte (left recursion), which
    /// no top-down matcher can run.
    func build(root: Int32) throws(GrammarError) -> Grammar {
        try checkNoLeftRecursion()
        var elements: [Grammar.Element] = []
        var alternatives: [[Int32]] = []
        for definition in definitions {
            var starts: [Int32] = []
            for alternative in definition ?? [] {
                starts.append(Int32(elements.count))
                for symbol in alternative {
                    switch symbol {
                    case .bytes(let set): elements.append(.bytes(set))
                    case .rule(let id): elements.append(.rule(id))
                    case .literal(let text): for b in text.utf8 { elements.append(.bytes(ByteSet(b))) }
                    }
                }
                elements.append(.end)
            }
            alternatives.append(starts)
        }
        return Grammar(elements: elements, alternatives: alternatives, root: root)
    }

    private func checkNoLeftRecursion() throws(GrammarError) {
        let rules = definitions.map { $0 ?? [] }
        // Which rules can match the empty input: a fixed point.
        var nullable = [Bool](repeating: false, count: rules.count)
        func symbolNullable(_ s: Symbol) -> Bool {
            switch s {
            case .bytes: false
            case .literal(let text): text.isEmpty
            case .rule(let id): nullable[Int(id)]
            }
        }
        var changed = true
        while changed {
            changed = false
            for (i, alternatives) in rules.enumerated() where !nullable[i] {
                if alternatives.contains(where: { $0.allSatisfy(symbolNullable) }) {
                    nullable[i] = true
                    changed = true
                }
            }
        }
        // The rules each rule can start with (through nullable prefixes); a cycle is left recursion.
        let leftEdges: [[Int32]] = rules.map { alternatives in
            var edges: [Int32] = []
            for alternative in alternatives {
                for symbol in alternative {
                    if case .rule(let id) = symbol { edges.append(id) }
                    if !symbolNullable(symbol) { break }
                }
            }
            return edges
        }
        var state = [UInt8](repeating: 0, count: rules.count)  // 0 new, 1 on the path, 2 done
        for start in rules.indices where state[start] == 0 {
            var path: [(rule: Int, next: Int)] = [(start, 0)]
            state[start] = 1
            while let (rule, next) = path.last {
                if next < leftEdges[rule].count {
                    path[path.count - 1].next += 1
                    let target = Int(leftEdges[rule][next])
                    if state[target] == 1 { throw .leftRecursive }
                    if state[target] == 0 {
                        state[target] = 1
                        path.append((target, 0))
                    }
                } else {
                    state[rule] = 2
                    path.removeLast()
                }
            }
        }
    }
}

public enum GrammarError: Error, Sendable, Equatable, CustomStringConvertible {
    case leftRecursive
    case invalidSchema(String)
    case unsupported(String)

    public var description: String {
        switch self {
        case .leftRecursive: "the schema refers to itself without any text in between, so no output can satisfy it"
        case .invalidSchema(let why): "invalid JSON schema: \(why)"
        case .unsupported(let what): "unsupported in JSON schemas: \(what)"
        }
    }
}
